//! The simulated learning loop, short: a tiny initialised model, 2 iterations of a few ratings,
//! the full rules and the no-selection ablation. The full-size run is `cargo xtask bench loop`.
use refrain_engine::feedback::{FeedbackStore, Since};
use refrain_trainer::finetune::{FitParams, Objective};
use refrain_trainer::simulate::round::Generation;
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
        arms: vec![Arm::Full, Arm::NoSelection],
        seed: 5,
        threads: 1,
    }
}

#[test]
fn two_iterations_publish_two_versions_and_measure_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(dir.path());
    let (full, taste) = run_arm(&o, Arm::Full).unwrap();
    assert!(taste.pivot_hz > 0.0 && taste.width_hz > 0.0, "{taste:?}");
    let versions: Vec<u32> = full.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, [0, 1, 2], "{:#?}", full.versions);
    // Round 0 rates the base's clips; later rounds rate each clip and its blind base twin.
    let ratings: Vec<usize> = full.versions.iter().map(|v| v.ratings).collect();
    assert_eq!(ratings, [6, 12, 12]);
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
    let (plain, _) = run_arm(&o, Arm::NoSelection).unwrap();
    assert!(plain.versions[1].pool.unwrap() >= full.versions[1].pool.unwrap());
}
