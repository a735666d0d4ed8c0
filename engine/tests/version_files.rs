//! engine::manifest's file helpers (sha256 of files, atomic writes) and engine::locator: where
//! the data dir is, and the `current` version pointer that the trainer publishes and the plugin
//! follows.
use refrain_engine::locator::{
    current_version_dir, publish_current, resolve_data_dir, CURRENT_POINTER,
};
use refrain_engine::manifest::{sha256_file, write_atomic, ManifestError, MANIFEST_FILE};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[test]
fn sha256_file_matches_known_and_streamed_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("abc");
    std::fs::write(&small, b"abc").expect("write");
    assert_eq!(
        sha256_file(&small).expect("hash"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Spans several read chunks with a ragged end.
    let bytes: Vec<u8> = (0..300_001u32).map(|i| (i * 31 % 251) as u8).collect();
    let big = dir.path().join("big");
    std::fs::write(&big, &bytes).expect("write");
    let expected: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha256_file(&big).expect("hash"), expected);
    assert!(matches!(
        sha256_file(&dir.path().join("nope")),
        Err(ManifestError::Io { .. })
    ));
}

#[test]
fn write_atomic_replaces_and_leaves_no_temp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("f.txt");
    write_atomic(&p, b"one").expect("write");
    write_atomic(&p, b"two").expect("write");
    assert_eq!(std::fs::read(&p).expect("read"), b"two");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("f.txt")]);
}

#[test]
#[cfg_attr(windows, ignore = "the XDG rule's absolute paths are Unix paths")]
fn data_dir_resolution() {
    let s = |v: &str| Some(OsString::from(v));
    let r = resolve_data_dir;
    assert_eq!(
        r(s("/srv/refrain"), s("/x"), s("/home/u")).expect("dir"),
        PathBuf::from("/srv/refrain")
    );
    assert_eq!(
        r(s(""), s("/x/data"), s("/home/u")).expect("dir"),
        PathBuf::from("/x/data/refrain")
    );
    assert_eq!(
        r(None, s("relative"), s("/home/u")).expect("dir"),
        PathBuf::from("/home/u/.local/share/refrain")
    );
    assert_eq!(
        r(None, None, s("/home/u")).expect("dir"),
        PathBuf::from("/home/u/.local/share/refrain")
    );
    assert!(matches!(r(None, None, None), Err(ManifestError::NoDataDir)));
}

#[test]
fn windows_data_dir_is_refrain_home_else_appdata_refrain() {
    let s = |v: &str| Some(OsString::from(v));
    let r = refrain_engine::locator::resolve_windows_data_dir;
    assert_eq!(
        r(
            s("D:\\Music\\Refrain data"),
            s("C:\\Users\\u\\AppData\\Roaming")
        )
        .expect("dir"),
        PathBuf::from("D:\\Music\\Refrain data")
    );
    assert_eq!(
        r(s(""), s("C:\\Users\\u\\AppData\\Roaming")).expect("dir"),
        PathBuf::from("C:\\Users\\u\\AppData\\Roaming").join("Refrain")
    );
    assert!(matches!(r(None, None), Err(ManifestError::NoDataDir)));
}

fn make_version(data: &Path, name: &str) {
    let dir = data.join("models").join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(MANIFEST_FILE), "{}").expect("write");
}

#[test]
fn pointer_publish_and_resolve() {
    let data = tempfile::tempdir().expect("tempdir");
    let base = PathBuf::from("/shipped/base");
    assert_eq!(
        current_version_dir(data.path(), &base),
        base,
        "no pointer → base"
    );

    let err = publish_current(data.path(), "v1").expect_err("v1 does not exist yet");
    assert!(err.to_string().contains(CURRENT_POINTER), "{err}");
    make_version(data.path(), "v1");
    publish_current(data.path(), "v1").expect("publish");
    assert_eq!(
        current_version_dir(data.path(), &base),
        data.path().join("models/v1")
    );
    let pointer = data.path().join("models").join(CURRENT_POINTER);
    assert_eq!(std::fs::read_to_string(&pointer).expect("read"), "v1\n");

    make_version(data.path(), "v2");
    publish_current(data.path(), "v2").expect("publish");
    assert_eq!(
        current_version_dir(data.path(), &base),
        data.path().join("models/v2")
    );

    for bad in ["../v1", "", ".", "a/b"] {
        assert!(publish_current(data.path(), bad).is_err(), "{bad:?}");
    }
    for garbage in ["../../etc", "v9\n", "", "\n\n"] {
        std::fs::write(&pointer, garbage).expect("write");
        assert_eq!(
            current_version_dir(data.path(), &base),
            base,
            "{garbage:?} → base"
        );
    }
}

#[test]
fn pointer_is_never_observed_partially_written() {
    let data = tempfile::tempdir().expect("tempdir");
    // Long names make a torn write (a prefix, or a mix of two names) easy to detect.
    let a = format!("v1-{}", "a".repeat(200));
    let b = format!("v2-{}", "b".repeat(200));
    make_version(data.path(), &a);
    make_version(data.path(), &b);
    publish_current(data.path(), &a).expect("publish");
    let pointer = data.path().join("models").join(CURRENT_POINTER);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            // Set however the writer ends, so a failed publish fails the test instead of
            // leaving the reader waiting.
            struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _stop = Stop(&stop);
            for i in 0..400 {
                publish_current(data.path(), if i % 2 == 0 { &b } else { &a }).expect("publish");
            }
        });
        let mut reads = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) || reads < 100 {
            let text = std::fs::read_to_string(&pointer).expect("pointer always exists");
            let name = text.trim_end_matches('\n');
            assert!(name == a || name == b, "torn read: {} bytes", text.len());
            let dir = current_version_dir(data.path(), Path::new("/base"));
            assert!(dir.ends_with(&a) || dir.ends_with(&b), "{}", dir.display());
            reads += 1;
        }
        writer
            .join()
            .expect("every publish succeeds while the pointer is being read");
    });
    let leftovers = std::fs::read_dir(data.path().join("models"))
        .expect("ls")
        .count();
    assert_eq!(leftovers, 3, "two versions and the pointer, no temp files");
}
