//! The DPO objective from the store (issue 14): which rated clips form preference pairs (one
//! request, one producer, different ratings; blind twins included; flagged ratings and clips
//! without a request never), and a `--objective dpo` round that learns the preferred clip over
//! the other.
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refrain_engine::feedback::{ClipId, FeedbackStore, NewRating, Since, SongId, Uid};
use refrain_engine::locator;
use refrain_trainer::finetune::{
    pairs_from_store, train_next_version, FinetuneError, FinetuneOptions, FitParams, Objective,
    DEFAULT_BETA,
};
use refrain_trainer::select::SelectConfig;
use std::path::PathBuf;

mod support;

const LEN: usize = support::LATENT_LEN;

fn normal(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..LEN).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
}

fn song(store: &mut FeedbackStore) -> SongId {
    support::song_with_latent(store, normal(1))
}

fn clip(
    store: &mut FeedbackStore,
    s: SongId,
    seed: u64,
    request: Option<Uid>,
    baseline: bool,
) -> ClipId {
    support::one_song_clip(store, s, seed, normal(1000 + seed), request, baseline)
}

fn rate(store: &mut FeedbackStore, c: ClipId, accepted: bool, stars: Option<u8>, listen: u64) {
    store
        .add_rating(&NewRating::new(c, accepted, stars, listen, 6000, "me"))
        .unwrap();
}

/// Request 1: a liked clip, its rejected blind twin and a clip rated after 2 % of it (spam).
/// Request 2: one clip. A clip from before requests were stored, rejected.
fn store_with_requests(data: &std::path::Path) -> (ClipId, ClipId) {
    let mut store = FeedbackStore::open(data).unwrap();
    let s = song(&mut store);
    let (r1, r2) = (Uid(1), Uid(2));
    let liked = clip(&mut store, s, 1, Some(r1), false);
    let twin = clip(&mut store, s, 2, Some(r1), true);
    let spam = clip(&mut store, s, 3, Some(r1), false);
    let alone = clip(&mut store, s, 4, Some(r2), false);
    let legacy = clip(&mut store, s, 5, None, false);
    rate(&mut store, liked, true, Some(5), 6000);
    rate(&mut store, twin, false, None, 6000);
    rate(&mut store, spam, true, Some(5), 120);
    rate(&mut store, alone, true, Some(4), 6000);
    rate(&mut store, legacy, false, Some(1), 6000);
    (liked, twin)
}

#[test]
fn pairs_come_from_one_request_including_its_blind_twin_and_never_from_flagged_ratings() {
    let dir = tempfile::tempdir().unwrap();
    let (liked, twin) = store_with_requests(dir.path());
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(store.generation(twin).unwrap().request, Some(Uid(1)));
    let pairs = pairs_from_store(&store, Since::All, &SelectConfig::default(), LEN).unwrap();
    assert_eq!(pairs.len(), 1, "only the liked clip against its twin");
    assert_eq!(pairs[0].winner, store.generation(liked).unwrap().latent);
    assert_eq!(pairs[0].loser, store.generation(twin).unwrap().latent);
    assert!(pairs[0].weight > 0.0 && pairs[0].weight <= 1.0);
    // A model with another latent size pairs nothing.
    let none = pairs_from_store(&store, Since::All, &SelectConfig::default(), LEN + 1).unwrap();
    assert!(none.is_empty());
}

fn options(data: PathBuf, base: PathBuf) -> FinetuneOptions {
    let mut o = FinetuneOptions::new(data, base);
    o.objective = Objective::Dpo;
    o.fit = FitParams {
        steps: 40,
        batch: 4,
        lr: 3e-3,
        seed: 5,
        guard_every: 10,
        // A random network's held-out loss is meaningless; the guard is tested elsewhere.
        guard_tolerance: 100.0,
        prior_share: 0.0,
        beta: DEFAULT_BETA,
    };
    o
}

#[test]
fn a_dpo_round_denoises_the_preferred_clip_better_than_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    support::initialised_version(&base, 1, (0..4).map(|i| normal(100 + i)).collect());
    let data = dir.path().join("data");
    let (liked, twin) = store_with_requests(&data);
    let store = FeedbackStore::open(&data).unwrap();
    let (w, l) = (
        store.generation(liked).unwrap().latent,
        store.generation(twin).unwrap().latent,
    );
    drop(store);
    let report = train_next_version(&options(data.clone(), base.clone())).unwrap();
    assert_eq!((report.objective, report.pairs), (Objective::Dpo, 1));
    let child = locator::version_dir(&data, report.version);
    let gain = |latent: &Vec<f32>| {
        support::eps_loss(&base, std::slice::from_ref(latent))
            - support::eps_loss(&child, std::slice::from_ref(latent))
    };
    let (won, lost) = (gain(&w), gain(&l));
    assert!(
        won > lost,
        "the preferred clip's ε-loss fell by {won}, the other's by {lost}"
    );
}

/// A base and a data dir whose only clip has no request and one accepted 5-star rating: a
/// pool sample, no pair.
fn one_clip_without_a_request(dir: &std::path::Path) -> FinetuneOptions {
    let base = dir.join("base");
    support::initialised_version(&base, 1, (0..4).map(|i| normal(100 + i)).collect());
    let data = dir.join("data");
    let mut store = FeedbackStore::open(&data).unwrap();
    let s = song(&mut store);
    let c = clip(&mut store, s, 1, None, false);
    rate(&mut store, c, true, Some(5), 6000);
    options(data, base)
}

#[test]
fn dpo_without_pairs_is_nothing_to_train() {
    let dir = tempfile::tempdir().unwrap();
    match train_next_version(&one_clip_without_a_request(dir.path())) {
        Err(FinetuneError::NothingToTrain(why)) => assert!(why.contains("pairs"), "{why}"),
        other => panic!(
            "expected NothingToTrain, got {:?}",
            other.map(|r| r.version)
        ),
    }
}

#[test]
fn both_without_pairs_trains_on_the_pool_alone() {
    // A producer who rates one clip per request has no pairs: `both` still learns from the pool.
    let dir = tempfile::tempdir().unwrap();
    let mut o = one_clip_without_a_request(dir.path());
    o.objective = Objective::Both;
    o.select.genetic = false;
    o.min_pool = 1;
    let report = train_next_version(&o).unwrap();
    assert_eq!(
        (report.objective, report.pairs, report.pool),
        (Objective::Both, 0, 1)
    );
}
