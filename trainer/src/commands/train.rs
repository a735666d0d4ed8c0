//! `refrain-trainer train`: one fine-tune round from the producer's ratings into version N+1.
use super::location::Location;
use anyhow::Result;
use refrain_trainer::finetune::{
    train_next_version, Confidence, FinetuneOptions, FinetuneReport, FitParams, Objective,
};
use refrain_trainer::training::Backend;

/// The fine-tune's knobs, shared by `train` and `watch`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Where the data dir and the shipped base are.
    #[command(flatten)]
    pub location: Location,
    /// Maximum fine-tune steps (the held-out guard may stop earlier).
    #[arg(long, default_value_t = FitParams::default().steps)]
    pub steps: usize,
    /// Pool latents per step.
    #[arg(long, default_value_t = FitParams::default().batch)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = FitParams::default().lr)]
    pub lr: f64,
    /// Seed of batches, timesteps and noise.
    #[arg(long, default_value_t = FitParams::default().seed)]
    pub seed: u64,
    /// Steps between held-out checks.
    #[arg(long, default_value_t = FitParams::default().guard_every)]
    pub guard_every: usize,
    /// Stop once the held-out loss exceeds the parent's by this fraction.
    #[arg(long, default_value_t = FitParams::default().guard_tolerance)]
    pub guard_tolerance: f64,
    /// Share of each fine-tune batch drawn from the producer's songs (prior preservation).
    #[arg(long, default_value_t = FitParams::default().prior_share)]
    pub prior_share: f64,
    /// Loss weights: the confidence ω, or 1 for every sample (ablation).
    #[arg(long, value_enum, default_value_t = Confidence::Weighted)]
    pub confidence: Confidence,
    /// What to learn from: the weighted pool of accepted clips, Diffusion-DPO on pairs of one
    /// request's clips rated differently (the parent as the frozen reference), or both.
    #[arg(long, value_enum, default_value_t = Objective::default())]
    pub objective: Objective,
    /// β of the DPO objective: how far a round may move from the parent per preference.
    #[arg(long, default_value_t = FitParams::default().beta)]
    pub beta: f64,
    /// Admit every accepted clip to the pool without genetic selection or purge (ablation).
    #[arg(long)]
    pub no_selection: bool,
    /// Refuse to train on fewer usable pool samples.
    #[arg(long, default_value_t = 1)]
    pub min_pool: usize,
    /// Where tensors live.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

impl TrainArgs {
    /// The library options these flags describe.
    pub fn options(&self, progress: bool) -> Result<FinetuneOptions> {
        let (data, base) = self.location.resolve()?;
        let mut o = FinetuneOptions::new(data, base);
        o.fit = FitParams {
            steps: self.steps,
            batch: self.batch,
            lr: self.lr,
            seed: self.seed,
            guard_every: self.guard_every,
            guard_tolerance: self.guard_tolerance,
            prior_share: self.prior_share,
            beta: self.beta,
        };
        o.select.genetic = !self.no_selection;
        o.confidence = self.confidence;
        o.objective = self.objective;
        o.min_pool = self.min_pool;
        o.backend = self.backend;
        o.progress = progress;
        Ok(o)
    }
}

/// Runs one round and prints what it did.
pub fn run(args: &TrainArgs) -> Result<()> {
    let report = train_next_version(&args.options(true)?)?;
    print_report(&report);
    Ok(())
}

/// The round's summary, for people.
pub fn print_report(r: &FinetuneReport) {
    println!(
        "published v{} (from v{}) at {}",
        r.version,
        r.parent,
        r.dir.display()
    );
    println!(
        "  selection: {} ratings ({} flagged as spam), {} added, {} replaced, {} purged; pool {} (mean weight {:.3})",
        r.ratings, r.flagged, r.added, r.replaced, r.purged, r.pool, r.mean_weight
    );
    let f = &r.fit;
    println!(
        "  fine-tune: kept step {} of {}{}; loss {:.5} → {:.5}; held-out ({:?}, {} latents) {:.5} → {:.5}; {:.0} ms/step, {:.0} s in all",
        f.kept_step,
        f.steps_run,
        if f.stopped_early { " (held-out guard stopped it)" } else { "" },
        f.first_loss,
        f.last_loss,
        f.guard_source,
        f.guard_latents,
        f.guard_before,
        f.guard_after,
        f.ms_per_step,
        r.seconds
    );
}
