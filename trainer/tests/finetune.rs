//! Fine-tuning end to end on a tiny, randomly initialised version: selection feeds the pool,
//! the UNet learns the pool, the new version is published and loads, the guard refuses a
//! forgetting run, and a trainer killed during export never leaves `current` broken.
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refrain_engine::feedback::{ClipId, FeedbackStore, NewRating, SongId};
use refrain_engine::locator;
use refrain_engine::manifest::{Manifest, MANIFEST_FILE};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_trainer::finetune::{
    lock_data_dir, pending_ratings, train_next_version, FinetuneError, FinetuneOptions, FitParams,
    EXPORT_PAUSE_ENV,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod support;

const LEN: usize = support::LATENT_LEN;

fn normal(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
}

struct World {
    _dir: tempfile::TempDir,
    data: PathBuf,
    base: PathBuf,
    liked: Vec<ClipId>,
}

/// A tiny initialised base, and a store with two songs, two liked clips, one spam rating and
/// one rejection.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let guard: Vec<Vec<f32>> = (0..4).map(|i| normal(100 + i, LEN)).collect();
    support::initialised_version(&base, 1, guard);
    let data = dir.path().join("data");
    let mut store = FeedbackStore::open(&data).unwrap();
    let song =
        |store: &mut FeedbackStore, seed| support::song_with_latent(store, normal(seed, LEN));
    let a = song(&mut store, 1);
    let b = song(&mut store, 2);
    let clip = |store: &mut FeedbackStore, s: SongId, seed| {
        support::one_song_clip(store, s, seed, normal(1000 + seed, LEN), None, false)
    };
    let liked = vec![clip(&mut store, a, 1), clip(&mut store, b, 2)];
    for &c in &liked {
        store
            .add_rating(&NewRating::new(c, true, Some(5), 6000, 6000, "me"))
            .unwrap();
    }
    // Top marks after 2 % of the clip: spam, never a candidate.
    let spam = clip(&mut store, a, 3);
    store
        .add_rating(&NewRating::new(spam, true, Some(5), 120, 6000, "me"))
        .unwrap();
    let rejected = clip(&mut store, b, 4);
    store
        .add_rating(&NewRating::new(rejected, false, None, 6000, 6000, "me"))
        .unwrap();
    World {
        _dir: dir,
        data,
        base,
        liked,
    }
}

fn options(w: &World) -> FinetuneOptions {
    let mut o = FinetuneOptions::new(w.data.clone(), w.base.clone());
    o.fit = FitParams {
        steps: 30,
        batch: 4,
        lr: 3e-3,
        seed: 3,
        guard_every: 10,
        // A random network's held-out loss is meaningless; the guard is tested on its own.
        guard_tolerance: 100.0,
        prior_share: 0.0,
        beta: refrain_trainer::finetune::DEFAULT_BETA,
    };
    o
}

#[test]
fn a_round_selects_learns_publishes_and_guards() {
    let w = world();
    let store = FeedbackStore::open(&w.data).unwrap();
    let pool_latents: Vec<Vec<f32>> = w
        .liked
        .iter()
        .map(|&c| store.generation(c).unwrap().latent)
        .collect();
    drop(store);
    assert_eq!(
        pending_ratings(&options(&w)).unwrap(),
        3,
        "4 ratings, 1 spam"
    );

    let report = train_next_version(&options(&w)).unwrap();
    assert_eq!((report.parent, report.version), (0, 1));
    assert_eq!((report.ratings, report.flagged, report.pool), (4, 1, 2));
    let v1 = locator::current_version_dir(&w.data, &w.base);
    assert_eq!(v1, w.data.join("models").join("v1"));
    let m1 = Manifest::load(&v1).unwrap();
    assert_eq!((m1.version, m1.parent), (1, Some(0)));
    m1.verify_files(&v1, &v1.join(MANIFEST_FILE)).unwrap();
    assert!(m1.training.as_ref().unwrap()["finetune"]["pool"] == 2);
    let options = ModelOptions {
        provider: Provider::Cpu,
        intra_threads: 1,
        warm_up: true,
    };
    Model::load(&v1, options).unwrap_or_else(|e| panic!("{e}"));

    // It learned the pool: lower ε-loss on the liked latents than the parent.
    let (before, after) = (
        support::eps_loss(&w.base, &pool_latents),
        support::eps_loss(&v1, &pool_latents),
    );
    assert!(after < before * 0.9, "pool ε-loss {before} → {after}");

    let store = FeedbackStore::open(&w.data).unwrap();
    let versions: Vec<u32> = store
        .model_versions()
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [0, 1]);
    let pool = store.pool_samples().unwrap();
    let clips: Vec<ClipId> = pool.iter().map(|s| s.clip_id).collect();
    assert_eq!(clips, w.liked);
    assert!(pool.iter().all(|s| s.last_selected_version == Some(1)));
    drop(store);
    assert_eq!(pending_ratings(&self::options(&w)).unwrap(), 0);

    // A learning rate that wrecks the network is refused by the guard: nothing published.
    let mut wreck = self::options(&w);
    // 5, not 0.5: the limit is the random base's held-out loss, which is worse than predicting
    // zero, and at 0.5 a run saturated below it about 1 time in 10 (float sums on 2 busy cores
    // vary) and was published; at 5.0 it was refused in 36 runs of 36.
    wreck.fit.lr = 5.0;
    wreck.fit.guard_tolerance = 0.0;
    wreck.fit.guard_every = 5;
    match train_next_version(&wreck) {
        Err(FinetuneError::Forgetting { before, after, .. }) => assert!(after > before),
        other => panic!("expected the guard to refuse, got {other:?}"),
    }
    assert_eq!(locator::current_version_dir(&w.data, &w.base), v1);
    assert!(!w.data.join("models").join("v2").exists());

    // The next version is held to the base's held-out loss, not its parent's: forgetting
    // cannot pile up version after version.
    let second = train_next_version(&self::options(&w)).unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.fit.guard_reference, report.fit.guard_before);
    assert_eq!(report.fit.guard_reference, report.fit.guard_before);
}

#[test]
fn prior_preservation_mixes_the_songs_into_the_batches() {
    let songs = [normal(1, LEN), normal(2, LEN)];
    let song_loss = |share: f64| {
        let w = world();
        let mut o = options(&w);
        o.fit.prior_share = share;
        let report = train_next_version(&o).unwrap();
        let expected = if share > 0.0 { 2 } else { 0 };
        assert_eq!(report.fit.prior_latents, expected, "share {share}");
        let v1 = locator::current_version_dir(&w.data, &w.base);
        (
            support::eps_loss(&w.base, &songs),
            support::eps_loss(&v1, &songs),
        )
    };
    let (base, pool_only) = song_loss(0.0);
    let (_, with_prior) = song_loss(0.5);
    assert!(
        with_prior < pool_only && with_prior < base,
        "song ε-loss: base {base}, pool only {pool_only}, half songs {with_prior}"
    );

    let w = world();
    let mut o = options(&w);
    o.fit.prior_share = 1.0;
    let err = train_next_version(&o).unwrap_err();
    assert!(err.to_string().contains("prior share"), "{err}");
    assert_eq!(locator::current_version_dir(&w.data, &w.base), w.base);
    // Refused before the round touched the store: the ratings are still all pending.
    assert_eq!(pending_ratings(&options(&w)).unwrap(), 3);
}

#[test]
fn a_second_trainer_on_the_same_data_dir_is_refused_until_the_first_is_done() {
    let w = world();
    let held = lock_data_dir(&w.data).unwrap();
    let err = train_next_version(&options(&w)).unwrap_err();
    assert!(matches!(err, FinetuneError::Busy(_)), "{err}");
    assert!(err.to_string().contains("another refrain-trainer"), "{err}");
    assert_eq!(
        pending_ratings(&options(&w)).unwrap(),
        3,
        "the store was not touched"
    );
    drop(held);
    assert_eq!(train_next_version(&options(&w)).unwrap().version, 1);
}

#[test]
fn nothing_to_train_is_an_error_not_a_version() {
    let w = world();
    let mut o = options(&w);
    o.min_pool = 3;
    let err = train_next_version(&o).unwrap_err();
    assert!(matches!(err, FinetuneError::NothingToTrain(_)), "{err}");
    assert_eq!(locator::current_version_dir(&w.data, &w.base), w.base);
}

#[test]
fn trainer_killed_during_export_never_breaks_current() {
    let w = world();
    let bin = env!("CARGO_BIN_EXE_refrain-trainer");
    let run = |pause_ms: u64| {
        let mut cmd = Command::new(bin);
        cmd.args(["train", "--data-dir"])
            .arg(&w.data)
            .arg("--model-base")
            .arg(&w.base)
            .args(["--steps", "2", "--batch", "2", "--guard-every", "2"])
            .args(["--guard-tolerance", "100", "--lr", "1e-4"])
            .env(EXPORT_PAUSE_ENV, pause_ms.to_string())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let temps = |models: &Path| -> Vec<String> {
        std::fs::read_dir(models)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let models = w.data.join("models");
    let mut inside_export = 0;
    for round in 0..12 {
        let mut child = run(40).spawn().unwrap();
        // Aim into the export: wait until this child's temp version appears (its name ends in
        // the child's pid), then kill at a random point of its ≈ 400 ms of paced writes, rename
        // and publish — so the test does not depend on how fast this machine trains.
        let mine = format!("-{}", child.id());
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !temps(&models).iter().any(|n| n.ends_with(&mine)) {
            if child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
        let _ = child.kill();
        let _ = child.wait();
        // A temp version left behind means the kill landed inside an export.
        if !temps(&models).is_empty() {
            inside_export += 1;
        }
        let dir = locator::current_version_dir(&w.data, &w.base);
        let m = Manifest::load(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        m.verify_files(&dir, &dir.join(MANIFEST_FILE))
            .unwrap_or_else(|e| panic!("round {round}: current {} is broken: {e}", dir.display()));
    }
    eprintln!("{inside_export} of 12 kills landed inside an export");
    assert!(
        inside_export >= 6,
        "only {inside_export} of 12 kills landed inside an export"
    );
    // A clean run afterwards publishes and sweeps the remains of killed exports.
    assert!(run(0).status().unwrap().success());
    assert!(temps(&models).is_empty(), "{:?}", temps(&models));
}

#[test]
fn watch_waits_for_enough_ratings_then_trains() {
    let w = world();
    let bin = env!("CARGO_BIN_EXE_refrain-trainer");
    // 3 usable ratings pending; it must wait for 5.
    let mut child = Command::new(bin)
        .args(["watch", "--data-dir"])
        .arg(&w.data)
        .arg("--model-base")
        .arg(&w.base)
        .args([
            "--min-ratings",
            "5",
            "--poll-seconds",
            "0.1",
            "--rounds",
            "1",
        ])
        .args(["--steps", "2", "--batch", "2", "--guard-every", "2"])
        .args(["--guard-tolerance", "100"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "watch trained too early"
    );
    assert_eq!(locator::current_version_dir(&w.data, &w.base), w.base);
    let mut store = FeedbackStore::open(&w.data).unwrap();
    for &c in &w.liked {
        store
            .add_rating(&NewRating::new(c, true, Some(4), 5000, 6000, "me"))
            .unwrap();
    }
    drop(store);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch did not train after 5 ratings");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    assert_eq!(
        locator::current_version_dir(&w.data, &w.base),
        w.data.join("models").join("v1")
    );
}
