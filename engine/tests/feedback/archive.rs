//! Session archives: export then ingest is equal, idempotent and incremental; a damaged archive
//! changes nothing.
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use refrain_engine::feedback::{
    now_ms, FeedbackStore, NewRating, NewSong, Since, SongAudio, CLIPS_DIR,
};

use crate::support::feedback::{empty_store, generation, song};

/// Everything about a store that must survive export → ingest, keyed by uid (row ids and
/// absolute paths legitimately differ).
fn fingerprint(store: &FeedbackStore) -> (Vec<String>, Vec<String>, Vec<String>) {
    let songs = store.songs().unwrap();
    let song_uid: HashMap<_, _> = songs.iter().map(|s| (s.id, s.uid)).collect();
    let gens = store.generations().unwrap();
    let clip_uid: HashMap<_, _> = gens.iter().map(|g| (g.id, g.uid)).collect();
    let mut s: Vec<String> = songs
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {} {} {:?} {:?} {:?}",
                s.uid,
                s.created_ms,
                s.source,
                s.sample_rate,
                s.duration_s,
                s.latent,
                s.wav_path.extension(),
                fs::read(&s.wav_path).unwrap()
            )
        })
        .collect();
    let mut g: Vec<String> = gens
        .iter()
        .map(|g| {
            let songs: Vec<_> = g.song_ids.iter().map(|id| song_uid[id]).collect();
            format!(
                "{} {} {:?} {:?} {} {} {} {} {} {} {} {} {:?} {:?}",
                g.uid,
                g.created_ms,
                songs,
                g.weights,
                g.seed,
                g.strength,
                g.steps,
                g.eta,
                g.detail,
                g.model_version,
                g.is_baseline,
                g.sample_rate,
                g.latent,
                fs::read(&g.wav_path).unwrap()
            )
        })
        .collect();
    let mut r: Vec<String> = store
        .ratings_since(Since::All)
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?} {} {} {} {}",
                r.uid,
                clip_uid[&r.clip_id],
                r.accepted,
                r.stars,
                r.listen_ms,
                r.clip_ms,
                r.rated_at_ms,
                r.rater_id
            )
        })
        .collect();
    s.sort();
    g.sort();
    r.sort();
    (s, g, r)
}

/// A store with 3 songs, 4 clips (one never rated) and 5 ratings.
fn session_store(dir: &Path) -> FeedbackStore {
    let mut store = FeedbackStore::open(dir).unwrap();
    let s1 = store.add_song(song(0.1)).unwrap();
    let s2 = store.add_song(song(0.2)).unwrap();
    let src = dir.join("loop.ogg");
    fs::write(&src, b"OggS pretend").unwrap();
    let s3 = store
        .add_song(NewSong {
            wav: SongAudio::File(src),
            ..song(0.3)
        })
        .unwrap();
    let _unused_song = store.add_song(song(0.9)).unwrap();
    let c1 = store.add_generation(generation(&[s1, s2], 1)).unwrap();
    let c2 = store.add_generation(generation(&[s3], 2)).unwrap();
    let c3 = store.add_generation(generation(&[], u64::MAX - 3)).unwrap();
    let _unrated = store.add_generation(generation(&[s1], 4)).unwrap();
    for (i, (c, stars)) in [(c1, Some(5)), (c1, None), (c2, Some(1)), (c3, Some(3))]
        .into_iter()
        .enumerate()
    {
        store
            .add_rating(&NewRating::new(
                c,
                stars != Some(1),
                stars,
                100 * i as u64,
                5940,
                "p",
            ))
            .unwrap();
    }
    store
}

#[test]
fn export_then_ingest_into_a_fresh_store_is_equal() {
    let a = tempfile::tempdir().unwrap();
    let src = session_store(a.path());
    let file = a.path().join("session.refrain");
    let exported = src.export_session(0, &file).unwrap();
    assert_eq!(
        (exported.songs, exported.generations, exported.ratings),
        (3, 3, 4)
    );
    assert_eq!(exported.bytes, fs::metadata(&file).unwrap().len());

    let (_b, mut dst) = empty_store();
    let report = dst.ingest(&file).unwrap();
    assert_eq!(
        (
            report.songs_added,
            report.generations_added,
            report.ratings_added,
            report.ratings_skipped
        ),
        (3, 3, 4, 0)
    );
    // The archive holds only what the ratings need: not the unused song or the unrated clip.
    let (s, g, r) = fingerprint(&src);
    let (s2, g2, r2) = fingerprint(&dst);
    assert_eq!(r, r2);
    assert!(g2.iter().all(|x| g.contains(x)) && g2.len() == 3);
    assert!(s2.iter().all(|x| s.contains(x)) && s2.len() == 3);
    // And the trainer sees the same joined view.
    let joined_a = src.ratings_with_clips(Since::All).unwrap();
    let joined_b = dst.ratings_with_clips(Since::All).unwrap();
    for (x, y) in joined_a.iter().zip(&joined_b) {
        assert_eq!(x.rating.uid, y.rating.uid);
        assert_eq!(x.clip.latent, y.clip.latent);
        assert_eq!(x.clip.request, y.clip.request, "archives carry the request");
        assert_eq!(
            x.conditioning
                .iter()
                .map(|c| (&c.latent, c.weight))
                .collect::<Vec<_>>(),
            y.conditioning
                .iter()
                .map(|c| (&c.latent, c.weight))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn ingesting_twice_adds_nothing_and_later_sessions_add_only_the_new() {
    let a = tempfile::tempdir().unwrap();
    let mut src = session_store(a.path());
    let file = a.path().join("s1.refrain");
    src.export_session(0, &file).unwrap();
    let (b, mut dst) = empty_store();
    dst.ingest(&file).unwrap();
    let before = fingerprint(&dst);
    let clip_files = fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count();

    let again = dst.ingest(&file).unwrap();
    assert_eq!(
        (
            again.songs_added,
            again.generations_added,
            again.ratings_added,
            again.ratings_skipped
        ),
        (0, 0, 0, 4)
    );
    assert_eq!(fingerprint(&dst), before);
    assert_eq!(
        fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count(),
        clip_files
    );
    // Ingesting into the store it came from also adds nothing.
    assert_eq!(src.ingest(&file).unwrap().ratings_added, 0);

    // A later session (since a date) carries only the new rating, on an existing clip.
    sleep(Duration::from_millis(3));
    let since = now_ms();
    let clip = src.generations().unwrap()[0].id;
    src.add_rating(&NewRating::new(clip, true, Some(4), 10, 20, "q"))
        .unwrap();
    let file2 = a.path().join("s2.refrain");
    let e2 = src.export_session(since, &file2).unwrap();
    assert_eq!((e2.ratings, e2.generations), (1, 1));
    let r = dst.ingest(&file2).unwrap();
    assert_eq!(
        (r.songs_added, r.generations_added, r.ratings_added),
        (0, 0, 1)
    );
    assert_eq!(dst.rating_count().unwrap(), 5);
}

#[test]
fn a_damaged_archive_is_refused_and_changes_nothing() {
    let a = tempfile::tempdir().unwrap();
    let src = session_store(a.path());
    let file = a.path().join("s.refrain");
    src.export_session(0, &file).unwrap();
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xFF;
    let bad = a.path().join("bad.refrain");
    fs::write(&bad, &bytes).unwrap();
    let (b, mut dst) = empty_store();
    let err = dst.ingest(&bad).unwrap_err();
    assert!(err.to_string().contains("bad.refrain"), "{err}");
    assert!(err.to_string().contains("sha256"), "{err}");
    let truncated = a.path().join("short.refrain");
    fs::write(&truncated, &fs::read(&file).unwrap()[..100]).unwrap();
    assert!(dst.ingest(&truncated).is_err());
    fs::write(
        &truncated,
        b"PK\x03\x04 a zip, certainly not a Refrain session archive",
    )
    .unwrap();
    assert!(dst
        .ingest(&truncated)
        .unwrap_err()
        .to_string()
        .contains("magic"));
    assert_eq!(dst.rating_count().unwrap(), 0);
    assert_eq!(fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count(), 0);
}
