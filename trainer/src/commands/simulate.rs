//! `refrain-trainer simulate`: the learning loop with virtual producers, and its ablations.
use super::location::Location;
use anyhow::{Context, Result};
use refrain_trainer::finetune::{FitParams, Objective};
use refrain_trainer::simulate::metrics::{paired_gain, win_interval, VersionMetrics};
use refrain_trainer::simulate::round::{Generation, Pairs};
use refrain_trainer::simulate::scorer::{Scorer, DEFAULT_TIMEOUT};
use refrain_trainer::simulate::taste::TasteKind;
use refrain_trainer::simulate::{run_arm, Arm, ArmReport, SimOptions};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Requests per round, each rated twice (two seeds in round 0, then with the blind base
    /// twin), so 32 gives 64 ratings per iteration.
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
    /// What each fine-tune learns from (`train --objective`); a comma list runs each.
    #[arg(long = "objective", value_enum, value_delimiter = ',', default_values_t = [Objective::default()])]
    objectives: Vec<Objective>,
    /// The raters' built-in taste; a comma list runs each.
    #[arg(long = "taste", value_enum, value_delimiter = ',', default_values_t = [TasteKind::Brightness])]
    tastes: Vec<TasteKind>,
    /// An external scorer instead of the built-in tastes: run through the shell once per round,
    /// it reads the clips' WAV paths on stdin (one per line) and prints one number per line
    /// (higher = liked). See the README's "Scorer protocol".
    #[arg(long)]
    taste_cmd: Option<String>,
    /// Seconds the external scorer may take per round.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs())]
    taste_timeout: u64,
    /// β of the DPO objective.
    #[arg(long, default_value_t = FitParams::default().beta)]
    beta: f64,
    /// What each stored clip is paired with after round 0: the base's clip for the same request
    /// (`base`), or a second seed of the current version (`within`; the base's clip is then
    /// rated for the win rate only, and 32 requests still give 64 stored ratings).
    #[arg(long, value_enum, default_value_t = Pairs::Base)]
    pairs: Pairs,
    /// Arms to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Arm::Full, Arm::FixedConfidence, Arm::NoSelection])]
    arms: Vec<Arm>,
    /// Seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Print the summary table of earlier runs' simulate.json files and stop (no simulation).
    #[arg(long, num_args = 1..)]
    summarize: Vec<PathBuf>,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Runs the arms, prints a table each and the ablation differences, writes simulate.json.
pub fn run(args: &Args) -> Result<()> {
    if !args.summarize.is_empty() {
        let mut reports: Vec<ArmReport> = Vec::new();
        for path in &args.summarize {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            reports.extend(
                serde_json::from_str::<Vec<ArmReport>>(&text)
                    .with_context(|| format!("{} is not a simulate.json", path.display()))?,
            );
        }
        print_summary(&reports);
        return Ok(());
    }
    let (data, _) = args.location.data.resolve().unwrap_or_default();
    let base = match &args.model {
        Some(dir) => dir.clone(),
        None => args.location.shipped_base(Some(&data)),
    };
    let scorers: Vec<Scorer> = match &args.taste_cmd {
        Some(cmd) => vec![Scorer::Command {
            cmd: cmd.clone(),
            timeout: Duration::from_secs(args.taste_timeout.max(1)),
        }],
        None => args.tastes.iter().map(|&t| Scorer::BuiltIn(t)).collect(),
    };
    let mut options = SimOptions {
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
        objective: args.objectives[0],
        pairs: args.pairs,
        scorer: scorers[0].clone(),
        arms: args.arms.clone(),
        seed: args.seed,
        threads: args.threads,
    };
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let mut reports = Vec::new();
    let path = options.out.join("simulate.json");
    for scorer in &scorers {
        for &objective in &args.objectives {
            options.scorer = scorer.clone();
            options.objective = objective;
            let mut group = Vec::new();
            for &arm in &args.arms {
                let started = std::time::Instant::now();
                let report = run_arm(&options, arm)?;
                println!(
                    "\n== {}, objective {objective:?}, arm {arm:?} ({:.0} s; undecided at {:.4}, width {:.4})",
                    report.taste,
                    started.elapsed().as_secs_f64(),
                    report.pinned.pivot,
                    report.pinned.width
                );
                print_arm(&report);
                group.push(report);
            }
            print_ablations(&group);
            reports.extend(group);
            // Written after every run: a long bench that is stopped keeps what it measured.
            std::fs::write(&path, serde_json::to_vec_pretty(&reports)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    print_summary(&reports);
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
        "goals: stars v0→v1 {} (goal ≥ +0.20), v1→v2 {} (goal ≥ +0.39), win rate at v3 {} (goal ≥ 70 %), lowest diversity {} (goal ≥ 80 %), held-out forgetting {} (goal ≤ 5 %) → {}",
        signed(g.gain_v1),
        signed(g.gain_v2),
        opt(g.win_rate_at_3, true),
        opt(g.min_diversity_ratio, true),
        opt(g.forgetting, true),
        if g.met { "MET" } else { "not met" }
    );
}

fn signed(v: Option<f32>) -> String {
    v.map_or("-".into(), |v| format!("{v:+.2}"))
}

fn interval(v: Option<(f32, f32)>, pct: bool) -> String {
    match v {
        Some((a, b)) if pct => format!("[{:.0}, {:.0}]", a * 100.0, b * 100.0),
        Some((a, b)) => format!("[{a:+.2}, {b:+.2}]"),
        None => String::new(),
    }
}

/// One line per run: the goals' figures with 95 % bootstrap intervals over requests. Rounds
/// are listed in order; a round whose fine-tune published nothing re-rates the same version
/// (marked "="), and its change in stars is noise, not a gain, so it gets no Δ.
fn print_summary(reports: &[ArmReport]) {
    println!("\n== summary (95 % bootstrap intervals over requests; \"=\" marks a round that re-rated the previous version)");
    println!("| taste | objective | arm | mean stars per round | Δ stars per new version, paired by request [95 %] | blind win per round | last round's win [95 %] | preferred by the taste, last round | diversity | forgetting | longest fine-tune (s) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in reports {
        let v = &r.versions;
        let again = |k: usize| k > 0 && v[k].version == v[k - 1].version;
        let mark = |k: usize, text: String| if again(k) { format!("={text}") } else { text };
        let stars: Vec<String> = (0..v.len())
            .map(|k| {
                mark(
                    k,
                    format!("{} (v{})", opt(v[k].mean_rating, false), v[k].version),
                )
            })
            .collect();
        let wins: Vec<String> = (1..v.len())
            .map(|k| mark(k, opt(v[k].win_rate, true)))
            .collect();
        let gains: Vec<String> = (1..v.len())
            .filter(|&k| !again(k))
            .map(|k| {
                let g = paired_gain(&v[k - 1], &v[k]);
                let ci = interval(g.map(|g| g.1), false);
                format!("v{}: {} {ci}", v[k].version, signed(g.map(|g| g.0)))
            })
            .collect();
        let finetune = v
            .iter()
            .filter_map(|m| m.finetune_s)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        let last = v.last();
        println!(
            "| {} | {} | {:?} | {} | {} | {} | {} {} | {} | {} | {} | {} |",
            r.taste.split(' ').next().unwrap_or(""),
            match r.pairs {
                Pairs::Base => format!("{:?}", r.objective),
                Pairs::Within => format!("{:?}, pairs within", r.objective),
            },
            r.arm,
            stars.join(" → "),
            gains.join("; "),
            wins.join(" / "),
            opt(last.and_then(|m| m.win_rate), true),
            last.map_or(String::new(), |m| interval(win_interval(m), true)),
            opt(last.and_then(|m| m.utility_win_rate), true),
            opt(r.goals.min_diversity_ratio, true),
            opt(r.goals.forgetting, true),
            finetune.map_or("-".into(), |s| format!("{s:.0}"))
        );
    }
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
