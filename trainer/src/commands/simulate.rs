//! `refrain-trainer simulate`: the learning loop with virtual producers, and its ablations.
use super::location::Location;
use anyhow::{Context, Result};
use refrain_trainer::finetune::{FitParams, Objective};
use refrain_trainer::simulate::metrics::VersionMetrics;
use refrain_trainer::simulate::round::Generation;
use refrain_trainer::simulate::{run_arm, Arm, ArmReport, SimOptions};
use std::path::PathBuf;

/// Arguments of `refrain-trainer simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the shipped base is (the version every arm starts from).
    #[command(flatten)]
    location: Location,
    /// Start from this version directory instead of the shipped base.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Work directory (one data dir per arm, and simulate.json).
    #[arg(long, default_value = "target/simulate")]
    out: PathBuf,
    /// Fine-tunes per arm.
    #[arg(long, default_value_t = 3)]
    iterations: usize,
    /// Requests per round: rated once in round 0, then twice (with the blind base twin), so
    /// 32 gives 64 ratings per iteration.
    #[arg(long, default_value_t = 32)]
    requests: usize,
    /// Synthesised conditioning songs.
    #[arg(long, default_value_t = 6)]
    songs: usize,
    /// Honest virtual producers.
    #[arg(long, default_value_t = 4)]
    honest: usize,
    /// Spammers (top marks without listening).
    #[arg(long, default_value_t = 1)]
    spammers: usize,
    /// Rating noise in utility units (0–1).
    #[arg(long, default_value_t = 0.1)]
    noise: f32,
    /// Variation strength.
    #[arg(long, default_value_t = 0.5)]
    strength: f64,
    /// DDIM steps.
    #[arg(long, default_value_t = 20)]
    ddim_steps: usize,
    /// Fine-tune steps per iteration.
    #[arg(long, default_value_t = FitParams::default().steps)]
    steps: usize,
    /// Fine-tune batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Fine-tune learning rate.
    #[arg(long, default_value_t = FitParams::default().lr)]
    lr: f64,
    /// Steps between held-out checks.
    #[arg(long, default_value_t = 20)]
    guard_every: usize,
    /// Held-out loss tolerance.
    #[arg(long, default_value_t = FitParams::default().guard_tolerance)]
    guard_tolerance: f64,
    /// Share of each fine-tune batch drawn from the producer's songs (prior preservation).
    #[arg(long, default_value_t = FitParams::default().prior_share)]
    prior_share: f64,
    /// What each fine-tune learns from (`train --objective`).
    #[arg(long, value_enum, default_value_t = Objective::Weighted)]
    objective: Objective,
    /// β of the DPO objective.
    #[arg(long, default_value_t = FitParams::default().beta)]
    beta: f64,
    /// Arms to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Arm::Full, Arm::FixedConfidence, Arm::NoSelection])]
    arms: Vec<Arm>,
    /// Seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Runs the arms, prints a table each and the ablation differences, writes simulate.json.
pub fn run(args: &Args) -> Result<()> {
    let (data, _) = args.location.data.resolve().unwrap_or_default();
    let base = match &args.model {
        Some(dir) => dir.clone(),
        None => args.location.shipped_base(Some(&data)),
    };
    let options = SimOptions {
        base,
        out: args.out.clone(),
        iterations: args.iterations,
        requests: args.requests,
        songs: args.songs,
        honest: args.honest,
        spammers: args.spammers,
        noise: args.noise,
        generation: Generation {
            strength: args.strength,
            steps: args.ddim_steps,
        },
        fit: FitParams {
            steps: args.steps,
            batch: args.batch,
            lr: args.lr,
            seed: args.seed,
            guard_every: args.guard_every,
            guard_tolerance: args.guard_tolerance,
            prior_share: args.prior_share,
            beta: args.beta,
        },
        objective: args.objective,
        arms: args.arms.clone(),
        seed: args.seed,
        threads: args.threads,
    };
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let mut reports = Vec::new();
    for &arm in &options.arms {
        let started = std::time::Instant::now();
        let (report, taste) = run_arm(&options, arm)?;
        println!(
            "\n== arm {arm:?} ({:.0} s; taste: brighter than {:.0} Hz, width {:.0} Hz)",
            started.elapsed().as_secs_f64(),
            taste.pivot_hz,
            taste.width_hz
        );
        print_arm(&report);
        reports.push(report);
    }
    print_ablations(&reports);
    let path = options.out.join("simulate.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&reports)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

fn opt(v: Option<f32>, pct: bool) -> String {
    match v {
        Some(v) if pct => format!("{:.0} %", v * 100.0),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

fn print_arm(r: &ArmReport) {
    println!("version  ratings  mean rating  utility  win rate  utility win  diversity  pool  held-out guard");
    for v in &r.versions {
        let guard = v
            .guard
            .map_or("-".into(), |(a, b)| format!("{a:.4} → {b:.4}"));
        println!(
            "v{:<7} {:>7}  {:>11}  {:>7}  {:>8}  {:>11}  {:>9}  {:>4}  {guard}{}",
            v.version,
            v.ratings,
            opt(v.mean_rating, false),
            opt(v.mean_utility, false),
            opt(v.win_rate, true),
            opt(v.utility_win_rate, true),
            opt(v.diversity_ratio, true),
            v.pool.map_or("-".into(), |p| p.to_string()),
            v.no_version
                .as_ref()
                .map_or(String::new(), |w| format!("  (no new version: {w})"))
        );
    }
    let g = &r.goals;
    println!(
        "goals: mean rating rises every iteration: {}; win rate at v3 {} (goal ≥ 70 %); lowest diversity {} (goal ≥ 80 %) → {}",
        if g.rating_rises_every_iteration { "yes" } else { "no" },
        opt(g.win_rate_at_3, true),
        opt(g.min_diversity_ratio, true),
        if g.met { "MET" } else { "not met" }
    );
}

fn last(r: &ArmReport) -> Option<&VersionMetrics> {
    r.versions.last()
}

fn print_ablations(reports: &[ArmReport]) {
    let Some(full) = reports.iter().find(|r| r.arm == Arm::Full) else {
        return;
    };
    for r in reports.iter().filter(|r| r.arm != Arm::Full) {
        let (Some(a), Some(b)) = (last(full), last(r)) else {
            continue;
        };
        let diff = |x: Option<f32>, y: Option<f32>| x.zip(y).map(|(x, y)| x - y);
        println!(
            "ablation {:?} vs full, last version: mean rating {} (full − ablation), win rate {}, utility {}",
            r.arm,
            opt(diff(a.mean_rating, b.mean_rating), false),
            opt(diff(a.win_rate, b.win_rate), true),
            opt(diff(a.mean_utility, b.mean_utility), false)
        );
    }
}
