//! The report on a synthetic store, with hand-computed numbers.

use refrain_engine::feedback::{
    ClipId, FeedbackStore, NewGeneration, NewPoolSample, NewRating, NewSong, SongAudio,
};

use super::*;

fn clip(store: &mut FeedbackStore, version: u32, baseline: bool) -> ClipId {
    let song = store
        .add_song(NewSong {
            source: "test".into(),
            sample_rate: 22_050,
            duration_s: 0.01,
            wav: SongAudio::Samples(vec![0.0; 220]),
            latent: vec![1.0, 0.0],
        })
        .unwrap();
    store
        .add_generation(NewGeneration {
            song_ids: vec![song],
            weights: vec![1.0],
            seed: 1,
            strength: 0.5,
            steps: 10,
            eta: 0.0,
            detail: 0.0,
            model_version: version,
            is_baseline: baseline,
            audio: vec![0.0; 220],
            sample_rate: 22_050,
            latent: vec![0.5, 0.5],
            request: None,
        })
        .unwrap()
}

/// Rates `clip` as its own rater (so no normalisation applies and r is the raw rating).
fn rate(store: &mut FeedbackStore, clip: ClipId, stars: Option<u8>, listen_ms: u64) {
    let rater = format!("rater-{}", clip.0);
    let r = NewRating::new(clip, true, stars, listen_ms, 6000, rater);
    store.add_rating(&r).unwrap();
}

fn synthetic_store(dir: &std::path::Path) -> FeedbackStore {
    let mut store = FeedbackStore::open(dir).unwrap();
    // Version 0: 3★ (0.5) and Accept (1.0); a 5★ after 0.1 s is spam and does not count.
    for (stars, listen) in [(Some(3), 6000), (None, 6000), (Some(5), 100)] {
        let c = clip(&mut store, 0, false);
        rate(&mut store, c, stars, listen);
    }
    store
        .add_model_version(1, Some(0), &serde_json::json!({}))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    // Version 1: its clips 5★ (1.0) and 4★ (0.75); blind baseline clips from version 0 rated
    // 4★ (0.75) and 2★ (0.25). Win rate: 1 > 0.75, 1 > 0.25, 0.75 = 0.75 (½), 0.75 > 0.25:
    // 3.5 / 4 = 0.875.
    for (stars, baseline) in [(5, false), (4, false), (4, true), (2, true)] {
        let c = clip(&mut store, if baseline { 0 } else { 1 }, baseline);
        rate(&mut store, c, Some(stars), 6000);
        if stars == 5 {
            let sample = NewPoolSample {
                condition_latent: vec![1.0, 0.0],
                clip_id: c,
                score: 1.0,
                added_in_version: 1,
            };
            store.add_pool_sample(&sample).unwrap();
        }
    }
    store
}

#[test]
fn per_version_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = synthetic_store(dir.path());
    let stats = from_store(&store).unwrap();
    assert_eq!(
        stats,
        [
            VersionStats {
                version: 0,
                ratings_used: 2,
                mean_rating: Some(0.75),
                baseline_ratings: 0,
                win_rate: None,
                pool_size: 0,
            },
            VersionStats {
                version: 1,
                ratings_used: 2,
                mean_rating: Some(0.875),
                baseline_ratings: 2,
                win_rate: Some(0.875),
                pool_size: 1,
            },
        ]
    );
    let t = table(&stats);
    assert!(t.lines().nth(2).unwrap().contains("0.875"), "{t}");
}

#[test]
fn writes_an_svg_plot() {
    let dir = tempfile::tempdir().unwrap();
    let store = synthetic_store(dir.path());
    let stats = from_store(&store).unwrap();
    let out = dir.path().join("report.svg");
    plot::write_svg(&stats, &out).unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    assert!(svg.contains("mean rating per model version"));
    assert!(svg.contains("<polyline"), "no line drawn");
    // An empty store still gives a valid (empty) plot.
    plot::write_svg(&[], &out).unwrap();
    assert!(std::fs::read_to_string(&out).unwrap().contains("</svg>"));
}
