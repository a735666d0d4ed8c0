//! A damaged database is set aside with a backup and replaced by a working one; clip files left
//! by a crash are swept.
use std::fs;
use std::time::Duration;

use refrain_engine::feedback::{FeedbackStore, NewRating, CLIPS_DIR, DB_FILE};

use crate::support::feedback::{empty_store, generation, song, store_with_clip};

#[test]
fn garbage_over_the_file_is_recovered_with_a_backup() {
    let (dir, mut store, clip) = store_with_clip();
    store
        .add_rating(&NewRating::new(clip, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let db = dir.path().join(DB_FILE);
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(&db, &garbage).unwrap();

    let mut store = FeedbackStore::open(dir.path()).unwrap();
    let rec = store.recovery().expect("recovery reported").clone();
    let name = rec
        .backup
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("feedback.corrupt-") && name.ends_with(".sqlite"),
        "{name}"
    );
    assert_eq!(fs::read(&rec.backup).unwrap(), garbage, "backup kept as is");
    assert!(!rec.reason.is_empty());
    // The clean store works.
    assert_eq!(store.rating_count().unwrap(), 0);
    let s = store.add_song(song(0.5)).unwrap();
    let c = store.add_generation(generation(&[s], 1)).unwrap();
    store
        .add_rating(&NewRating::new(c, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert!(
        store.recovery().is_none(),
        "a healthy reopen reports nothing"
    );
    assert_eq!(store.rating_count().unwrap(), 1);
}

#[test]
fn damaged_pages_inside_a_valid_file_are_recovered() {
    let (dir, mut store) = empty_store();
    for i in 0..40 {
        store.add_song(song(0.01 * (i + 1) as f32)).unwrap();
    }
    drop(store); // last close checkpoints the WAL into the main file
    let db = dir.path().join(DB_FILE);
    let mut bytes = fs::read(&db).unwrap();
    assert!(bytes.len() > 3 * 4096, "{} bytes", bytes.len());
    // Keep the 100-byte header (so it still looks like SQLite) and smash pages 2..3.
    for b in &mut bytes[4096..3 * 4096] {
        *b = 0xA5;
    }
    fs::write(&db, &bytes).unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
    let rec = store.recovery().expect("recovery reported");
    assert!(rec.backup.is_file());
    assert!(store.songs().unwrap().is_empty());
    store.add_song(song(0.5)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
}

#[test]
fn orphan_clip_files_are_swept_and_referenced_ones_kept() {
    let (dir, store, clip) = store_with_clip();
    let clips = dir.path().join(CLIPS_DIR);
    fs::write(clips.join("gen-orphan.wav"), b"left by a crash").unwrap();
    fs::write(clips.join(".gen-x.wav.0123.tmp"), b"half written").unwrap();
    // Too young: another process may be about to commit its row.
    assert!(store
        .sweep_orphan_clips(Duration::from_secs(3600))
        .unwrap()
        .is_empty());
    let removed = store.sweep_orphan_clips(Duration::ZERO).unwrap();
    assert_eq!(removed.len(), 2);
    assert!(store.generation(clip).unwrap().wav_path.is_file());
    assert!(store.songs().unwrap()[0].wav_path.is_file());
}
