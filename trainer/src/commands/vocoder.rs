//! `refrain-trainer vocoder train|export`: the neural vocoder on the corpus packages' audio.
use anyhow::{bail, Context, Result};
use refrain_engine::spectrogram::AudioConfig;
use refrain_engine::vocoder::PhaseInit;
use refrain_trainer::corpus::package_source;
use refrain_trainer::synth::example_spec;
use refrain_trainer::training::Backend;
use refrain_trainer::vocoder::{
    self, latest_checkpoint, load_net, Pairs, PhaseSettings, VocoderConfig, VocoderState,
    VocoderTrainOptions,
};
use std::path::PathBuf;

/// The packages the corpus is built from (xtask's `corpus::PACKAGES`).
const PACKAGES: &[&str] = &["wesnoth-1.16-music", "hyperrogue-music"];
/// Every 10th file of a package (index 9, 19, …) is held out, as in the corpus.
const HELDOUT_EVERY: usize = 10;

/// Arguments of `refrain-trainer vocoder`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Train (or --resume) on the packages' audio, checkpointing into --out.
    Train(TrainArgs),
    /// Write a checkpoint as the directory the engine loads (models/vocoder).
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Checkpoint directory (outside git).
    #[arg(long)]
    out: PathBuf,
    /// Total steps to reach (a resumed run stops at the same total).
    #[arg(long)]
    steps: usize,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// With no checkpoint in --out yet: start from this exported vocoder directory (e.g.
    /// models/vocoder) instead of random weights; its weights come from the ONNX network, the
    /// optimizer starts afresh (the learning rate warms up again).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Installed Debian packages to learn from (default: the corpus packages).
    #[arg(long = "package")]
    packages: Vec<String>,
    /// Also learn from this many synthetic corpus loops (`refrain_trainer::synth`), skipping the
    /// ones the corpus holds out and the example loop's seed (the bench's synth family).
    #[arg(long, default_value_t = 0)]
    synth_loops: usize,
    /// NNLS steps of the DSP mel inversion the network learns to correct (default: the
    /// inversion's own; 0 = the clipped pseudo-inverse, which makes rendering cheaper). A
    /// resumed run that changes it starts a new leg.
    #[arg(long)]
    inverse_steps: Option<usize>,
    /// Use at most this many training files per package (quick runs and tests).
    #[arg(long)]
    max_files: Option<usize>,
    /// Crops per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Frames per crop.
    #[arg(long, default_value_t = 64)]
    crop: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Held-out figures every N steps.
    #[arg(long, default_value_t = 250)]
    eval_every: usize,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: usize,
    /// Network sizes of a fresh run, as JSON (`VocoderConfig`).
    #[arg(long)]
    model: Option<String>,
    /// Tensor backend (`cuda` needs a build with `--features cuda`).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The training directory (its latest checkpoint is exported).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the vocoder directory.
    #[arg(long)]
    to: PathBuf,
    /// Where the phase iterations start at render time: `pghi` or `random` (default: the
    /// engine's `DEFAULT_PHASE_INIT`, chosen by `cargo xtask bench vocoder`).
    #[arg(long, value_parser = ["pghi", "random"])]
    phase_init: Option<String>,
    /// Griffin-Lim iterations after the network at render time (default: the engine's
    /// `DEFAULT_PHASE_ITERS`).
    #[arg(long)]
    phase_iters: Option<usize>,
    /// Momentum of those iterations (default: the engine's `DEFAULT_PHASE_MOMENTUM`).
    #[arg(long)]
    phase_momentum: Option<f32>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> Result<()> {
    match &args.action {
        Action::Train(a) => train(a),
        Action::Export(a) => export(a),
    }
}

fn train(args: &TrainArgs) -> Result<()> {
    let audio = AudioConfig::default();
    let packages: Vec<String> = if args.packages.is_empty() {
        PACKAGES.iter().map(|p| p.to_string()).collect()
    } else {
        args.packages.clone()
    };
    let (mut train_files, mut heldout_files, mut sources) = (Vec::new(), Vec::new(), Vec::new());
    for package in &packages {
        let source = package_source(package)?;
        sources.push(format!("{} ({})", source.name, source.licenses.join(", ")));
        let (mut t, mut h) = (Vec::new(), Vec::new());
        for (n, file) in source.files.into_iter().enumerate() {
            if n % HELDOUT_EVERY == HELDOUT_EVERY - 1 {
                h.push(file);
            } else {
                t.push(file);
            }
        }
        if let Some(max) = args.max_files {
            t.truncate(max);
            h.truncate(max.div_ceil(HELDOUT_EVERY));
        }
        train_files.extend(t);
        heldout_files.extend(h);
    }
    println!(
        "decoding {} training and {} held-out files",
        train_files.len(),
        heldout_files.len()
    );
    let mut train_pairs = Pairs::new(&audio).with_inverse_steps(args.inverse_steps);
    train_pairs.add_files(&train_files, &audio)?;
    if args.synth_loops > 0 {
        let example = example_spec().seed;
        let loops =
            (0..args.synth_loops).filter(|&i| i % HELDOUT_EVERY != 0 && i as u64 != example);
        let added = train_pairs.add_synth_loops(loops, &audio)?;
        println!("{added} windows of synthetic loops");
        // Named with their count, then the licence in brackets, as `license` reads it.
        sources.push(format!(
            "synthetic loops 0–{} of trainer/src/synth.rs, less every 10th and the example \
loop's seed {example} (MIT)",
            args.synth_loops - 1
        ));
    }
    let mut heldout = Pairs::new(&audio).with_inverse_steps(args.inverse_steps);
    heldout.add_files(&heldout_files, &audio)?;
    println!(
        "{} training windows, {} held-out windows",
        train_pairs.len(),
        heldout.len()
    );
    let mut options = VocoderTrainOptions::new(args.out.clone(), args.steps);
    options.resume = args.resume;
    options.init_from = args.init_from.clone();
    options.batch = args.batch;
    options.crop = args.crop;
    options.lr = args.lr;
    options.eval_every = args.eval_every;
    options.checkpoint_every = args.checkpoint_every;
    options.backend = args.backend;
    if let Some(json) = &args.model {
        options.config = serde_json::from_str::<VocoderConfig>(json).context("--model")?;
    }
    let report = vocoder::train(&options, &audio, &train_pairs, &heldout, sources)?;
    println!(
        "step {}: loss {:?}, held-out log-magnitude L1 {:?}, SC {:?}, {:.0} ms/step",
        report.state.step,
        report.state.train_loss,
        report.state.heldout_l1,
        report.state.heldout_sc,
        report.ms_per_step.unwrap_or(0.0)
    );
    if let Some([l1, sc]) = report.state.dsp_reference {
        println!("reference: the DSP mel inversion on the same held-out windows: log-magnitude L1 {l1:.4}, SC {sc:.4}");
    }
    Ok(())
}

fn export(args: &ExportArgs) -> Result<()> {
    let Some((dir, state)) = latest_checkpoint(&args.checkpoint) else {
        bail!(
            "no vocoder checkpoint in {} (run `refrain-trainer vocoder train` first)",
            args.checkpoint.display()
        );
    };
    let device = Backend::Cpu.device()?;
    let net = load_net(&dir, &state, &device)?;
    let defaults = PhaseSettings::default();
    let phase = PhaseSettings {
        init: match args.phase_init.as_deref() {
            Some("random") => PhaseInit::Random,
            Some("pghi") => PhaseInit::Pghi,
            _ => defaults.init,
        },
        iters: args.phase_iters.unwrap_or(defaults.iters),
        momentum: args.phase_momentum.unwrap_or(defaults.momentum),
    };
    let spec = vocoder::export_dir(&net, &state, phase, &card(&state, &phase), &args.to)?;
    let size = std::fs::metadata(args.to.join(&spec.network)).map_or(0, |m| m.len());
    println!(
        "exported step {} to {} ({:.1} MB network)",
        state.step,
        args.to.display(),
        size as f64 / 1e6
    );
    Ok(())
}

/// The model card: what the network is, what it learned from, how well, and its license.
fn card(state: &VocoderState, phase: &PhaseSettings) -> String {
    let c = &state.config;
    let figure =
        |v: Option<f32>| v.map_or_else(|| "not measured".to_string(), |v| format!("{v:.4}"));
    format!(
        "---\nlicense: {license}\n---\n# refrain neural vocoder — model card\n\n\
A Vocos-style ConvNeXt network (Siuzdak 2023) that predicts the STFT magnitude of every frame \
from Refrain's model-range mel (256 bands, 22 050 Hz, n_fft 2048, hop 512); the engine finds \
the phase with {phase}. It replaces the mel inversion (pseudo-inverse + NNLS), which is where Griffin-Lim \
loses most (README, Vocoders).\n\n\
- Network (corrects the DSP inversion: per bin a log-gain on its magnitude and a magnitude \
added to it, so loud bins it gets right are kept and bins it left empty are filled): \
embedding conv (256 mels × {k} frames → {dim}), {blocks} ConvNeXt blocks \
(depthwise {k}-tap, channel LayerNorm, {dim}→{inner}→{dim} SiLU MLP, layer scale), \
plus a 1025 → {dim} projection of the DSP's log magnitude, LayerNorm, 1×1 head to 2 × 1025 \
values; {params} parameters.\n\
- Inputs `mel` [1, 1, 256, 256] and `base` [1, 1, 1025, 256] (ln of the DSP inversion's \
magnitude, floored at 1e-5); output `heads` [1, 2050, 256]: |X| = exp(base + gain) + \
exp(fill), relative to the window's loudest mel band (the engine combines them, then finds \
the phase).\n\
- Trained {steps} steps (Adam, L1 on log magnitude + spectral convergence) on windows of \
5.94 s: {legs}. Every 10th file of each package (and of the synthetic loops) is held out, as \
in the corpus.\n\
- Held-out ({heldout} windows): log-magnitude L1 {l1}, spectral convergence {sc}; the DSP \
inversion it corrects, on the same windows: {dsp}.\n\
- Reproduce: for each leg in turn, `STEPS=<its last step> scripts/train-vocoder.sh`, with \
`SYNTH_LOOPS=N` for a leg that names synthetic loops 0–(N−1) (each run trains with `--resume` into \
`~/.cache/refrain/vocoder/run`, then exports here). To train this network further without its \
checkpoint, `STEPS=<a later step> scripts/train-vocoder.sh` starts from this directory \
(`--init-from`, a fresh optimizer).\n\n\
## License\n\nThe weights are derived from the music listed above and carry its licenses \
({license}).\n",
        license = license(&state.sources),
        phase = match phase.init {
            PhaseInit::Pghi => format!(
                "phase-gradient heap integration (PGHI) on that magnitude, then {} Griffin-Lim \
iterations of momentum {}",
                phase.iters, phase.momentum
            ),
            PhaseInit::Random => format!(
                "{} Griffin-Lim iterations of momentum {} from random phases",
                phase.iters, phase.momentum
            ),
        },
        k = c.kernel,
        dim = c.dim,
        blocks = c.blocks,
        inner = c.inner,
        params = c.parameters(),
        steps = state.step,
        legs = legs(state),
        heldout = state.heldout_windows,
        l1 = figure(state.heldout_l1),
        sc = figure(state.heldout_sc),
        dsp = state.dsp_reference.map_or_else(
            || "not measured".to_string(),
            |[l1, sc]| format!("log-magnitude L1 {l1:.4}, spectral convergence {sc:.4}")
        ),
    )
}

/// What each leg of training learned from; a leg after the first resumed with the cosine
/// schedule stretched to its new total, so the learning rate rose again where it began.
fn legs(state: &VocoderState) -> String {
    if state.legs.is_empty() {
        return format!(
            "{} windows from {}",
            state.train_windows,
            state.sources.join("; ")
        );
    }
    let text: Vec<String> = state
        .legs
        .iter()
        .map(|l| {
            format!(
                "steps {}–{} on {} windows from {}",
                l.from_step,
                l.to_step,
                l.train_windows,
                l.sources.join("; ")
            )
        })
        .collect();
    let resumed = if state.legs.len() > 1 {
        " (each later leg resumed the previous one with the cosine schedule stretched to the new \
total, so the learning rate rose again where it began)"
    } else {
        ""
    };
    format!("{}{resumed}", text.join(", then "))
}

/// The SPDX-style conjunction of every license named in `sources` ("name (A, B)").
fn license(sources: &[String]) -> String {
    let mut names: Vec<String> = sources
        .iter()
        .filter_map(|s| s.split_once(" (").map(|(_, l)| l.trim_end_matches(')')))
        .flat_map(|l| l.split(", ").map(str::to_string))
        .filter(|l| !l.is_empty())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        "unknown".into()
    } else {
        names.join(" AND ")
    }
}
