//! The simulated learning loop, short: a tiny initialised model, 2 iterations of a few ratings,
//! the full rules and the no-selection ablation, pairs within a version, and DPO with an
//! external scorer. The full-size run is `cargo xtask bench loop`.
use refrain_engine::feedback::{FeedbackStore, Since};
use refrain_trainer::finetune::{FitParams, Objective};
use refrain_trainer::simulate::round::{Generation, Pairs};
use refrain_trainer::simulate::scorer::Scorer;
use refrain_trainer::simulate::taste::TasteKind;
use refrain_trainer::simulate::{run_arm, Arm, SimOptions};
use std::collections::HashMap;

mod support;

fn options(dir: &std::path::Path) -> SimOptions {
    let base = dir.join("base");
    let guard = vec![
        vec![0.1f32; support::LATENT_LEN],
        vec![-0.2f32; support::LATENT_LEN],
    ];
    support::initialised_version(&base, 2, guard);
    SimOptions {
        base,
        out: dir.join("sim"),
        iterations: 2,
        requests: 6,
        songs: 3,
        honest: 2,
        spammers: 1,
        noise: 0.1,
        generation: Generation {
            strength: 0.5,
            steps: 6,
        },
        fit: FitParams {
            steps: 4,
            batch: 2,
            lr: 1e-4,
            seed: 1,
            guard_every: 2,
            guard_tolerance: 100.0,
            prior_share: 0.0,
            beta: refrain_trainer::finetune::DEFAULT_BETA,
        },
        objective: Objective::Weighted,
        pairs: Pairs::Base,
        scorer: Scorer::BuiltIn(TasteKind::Brightness),
        arms: vec![Arm::Full, Arm::NoSelection],
        seed: 5,
        threads: 1,
    }
}

#[test]
fn two_iterations_publish_two_versions_and_measure_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(dir.path());
    let full = run_arm(&o, Arm::Full).unwrap();
    let taste = full.pinned;
    assert!(taste.pivot > 0.0 && taste.width > 0.0, "{taste:?}");
    let versions: Vec<u32> = full.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, [0, 1, 2], "{:#?}", full.versions);
    // Round 0 rates two of the base's clips per request; later rounds each clip and its blind
    // base twin.
    let ratings: Vec<usize> = full.versions.iter().map(|v| v.ratings).collect();
    assert_eq!(ratings, [12, 12, 12]);
    for v in &full.versions[1..] {
        let win = v.win_rate.unwrap();
        assert!((0.0..=1.0).contains(&win));
        assert!(v.diversity_ratio.unwrap() > 0.0);
        assert!(v.pool.unwrap() >= 1);
    }
    assert!(full.versions[0].win_rate.is_none());

    // What the store holds is what the plugin would have written: baseline clips from v0 after
    // round 0, and spammers' ratings never admitted to the pool.
    let store = FeedbackStore::open(&full.data_dir).unwrap();
    let gens = store.generations().unwrap();
    assert_eq!(gens.len(), 36);
    assert_eq!(gens.iter().filter(|g| g.is_baseline).count(), 12);
    assert!(gens
        .iter()
        .filter(|g| g.is_baseline)
        .all(|g| g.model_version == 0));
    let raters: HashMap<_, _> = store
        .ratings_since(Since::All)
        .unwrap()
        .into_iter()
        .map(|r| (r.clip_id, r.rater_id))
        .collect();
    for s in store.pool_history().unwrap() {
        assert!(raters[&s.clip_id].starts_with("producer"), "{s:?}");
    }
    let registered: Vec<u32> = store
        .model_versions()
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(registered, [0, 1, 2]);

    // Without selection every accepted clip trains, so the first pool is at least as large.
    let plain = run_arm(&o, Arm::NoSelection).unwrap();
    assert!(plain.versions[1].pool.unwrap() >= full.versions[1].pool.unwrap());
}

#[test]
fn pairs_within_store_two_seeds_and_rate_the_base_for_the_win_rate_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path());
    o.pairs = Pairs::Within;
    o.objective = Objective::Both;
    let report = run_arm(&o, Arm::Full).unwrap();
    assert_eq!(report.pairs, Pairs::Within);
    assert!(report.data_dir.ends_with("brightness-both-full-within"));
    // Every round stores two seeds of the version rated in it: 12 ratings for 6 requests.
    let ratings: Vec<usize> = report.versions.iter().map(|v| v.ratings).collect();
    assert_eq!(ratings, [12, 12, 12], "{:#?}", report.versions);
    for v in &report.versions[1..] {
        assert!(
            v.win_rate.is_some(),
            "the panel still rates the base: {v:?}"
        );
    }
    let store = FeedbackStore::open(&report.data_dir).unwrap();
    let gens = store.generations().unwrap();
    // Round 0: 2 per request; rounds 1 and 2: 2 of the version + the base's clip.
    assert_eq!(gens.len(), 12 + 18 + 18);
    let baseline: Vec<_> = gens
        .iter()
        .filter(|g| g.is_baseline)
        .map(|g| g.id)
        .collect();
    assert_eq!(baseline.len(), 12);
    let rated: Vec<_> = store
        .ratings_since(Since::All)
        .unwrap()
        .into_iter()
        .map(|r| r.clip_id)
        .collect();
    assert_eq!(rated.len(), 36);
    assert!(
        rated.iter().all(|c| !baseline.contains(c)),
        "no rating of a base clip reaches the store"
    );
}

#[test]
fn dpo_with_an_external_scorer_publishes_two_versions() {
    if cfg!(not(unix)) {
        eprintln!("skipped: the test scorer is a POSIX shell pipeline (sh, cksum)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path());
    o.objective = Objective::Dpo;
    // Every request rated by an honest producer, so round 0 has pairs whatever the scores
    // (spammers' ratings never pairing is tested in preference.rs).
    o.spammers = 0;
    // A taste no built-in has: the clip file's checksum, deterministic and different per clip.
    // It reads every path and prints one number per line, as the protocol asks.
    o.scorer = Scorer::Command {
        cmd: r#"while read -r p; do cksum "$p" | cut -d' ' -f1; done"#.into(),
        timeout: std::time::Duration::from_secs(60),
    };
    let report = run_arm(&o, Arm::Full).unwrap();
    assert!(report.taste.contains("external"), "{}", report.taste);
    assert_eq!(report.objective, Objective::Dpo);
    let versions: Vec<u32> = report.versions.iter().map(|v| v.version).collect();
    // Round 0's two seeds per request are the pairs v1 learns from; v2 adds the blind twins.
    assert_eq!(versions, [0, 1, 2], "{:#?}", report.versions);
    assert!(report.versions.iter().all(|v| v.no_version.is_none()));
    assert!(report.versions[1].finetune_s.unwrap() > 0.0);
    assert!(report.data_dir.ends_with("external-dpo-full"));

    // A scorer that breaks mid-simulation stops it with the scorer's own words.
    o.scorer = Scorer::Command {
        cmd: "echo 'model file missing' >&2; exit 3".into(),
        timeout: std::time::Duration::from_secs(60),
    };
    let err = run_arm(&o, Arm::Full).unwrap_err().to_string();
    assert!(
        err.contains("model file missing") && err.contains("failed"),
        "{err}"
    );
}

/// Tests initialise models in parallel, and burn's generator is one per process: the same seed
/// must still give the same networks (the loop test above once got other weights, hence other
/// ratings, when its initialisation interleaved with its neighbours' under Wine).
#[test]
fn parallel_initialisations_with_one_seed_give_the_same_networks() {
    let dir = tempfile::tempdir().unwrap();
    let latents = vec![
        vec![0.3f32; support::LATENT_LEN],
        vec![-0.1f32; support::LATENT_LEN],
    ];
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let out = dir.path().join(format!("v{i}"));
            let latents = latents.clone();
            std::thread::spawn(move || {
                let guard = vec![vec![0.0f32; support::LATENT_LEN]];
                support::initialised_version(&out, 2 + (i % 2) as u64, guard);
                support::eps_loss(&out, &latents)
            })
        })
        .collect();
    let losses: Vec<f32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for i in 2..losses.len() {
        assert_eq!(
            losses[i],
            losses[i % 2],
            "v{i} and v{} have one seed: {losses:?}",
            i % 2
        );
    }
    assert_ne!(
        losses[0], losses[1],
        "different seeds give different networks"
    );
}
