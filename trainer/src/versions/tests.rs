//! Unit tests of version listing, numbering and rollback on copies of the tiny test model.
use super::*;
use std::fs;

#[path = "../../tests/support/fixture_versions.rs"]
mod fixture_versions;
use fixture_versions::make_version;

/// A data dir with the shipped base at `<tmp>/base` and versions `v1..=n` under `models/`.
fn setup(n: u32) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let base = tmp.path().join("base");
    make_version(&base, 0, None);
    for v in 1..=n {
        make_version(&models_dir(&data).join(version_dir_name(v)), v, Some(v - 1));
    }
    (tmp, data, base)
}

fn pointer(data: &Path) -> Option<String> {
    fs::read_to_string(models_dir(data).join(CURRENT_POINTER)).ok()
}

#[test]
fn version_dir_names_are_canonical_and_never_the_base() {
    assert_eq!(parse_version_dir_name("v1"), Some(1));
    assert_eq!(parse_version_dir_name("v42"), Some(42));
    for bad in [
        "v0", "v01", "v", "1", "V1", "v1x", "v-1", "v+1", "current", "base",
    ] {
        assert_eq!(parse_version_dir_name(bad), None, "{bad}");
    }
}

#[test]
fn numbers_ignore_files_and_other_names_but_count_dirs_without_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(version_numbers(tmp.path()).unwrap().is_empty());
    assert_eq!(next_version_number(tmp.path()).unwrap(), 1);
    let models = models_dir(tmp.path());
    for dir in ["v3", "v1", "v01", "v0", "base", "tmp"] {
        fs::create_dir_all(models.join(dir)).unwrap();
    }
    fs::write(models.join("v9"), "a file, not a version").unwrap();
    assert_eq!(version_numbers(tmp.path()).unwrap(), vec![1, 3]);
    assert_eq!(next_version_number(tmp.path()).unwrap(), 4);
}

#[test]
fn next_number_counts_a_current_version_outside_the_v_dirs() {
    let (_tmp, data, _base) = setup(2);
    make_version(&models_dir(&data).join("imported"), 7, Some(2));
    locator::publish_current(&data, "imported").unwrap();
    assert_eq!(next_version_number(&data).unwrap(), 8);
}

#[test]
fn listing_marks_the_current_version_and_a_corrupt_one() {
    let (_tmp, data, base) = setup(2);
    let list = list_versions(&data, &base).unwrap();
    let numbers: Vec<u32> = list.iter().map(|e| e.version).collect();
    assert_eq!(numbers, vec![0, 1, 2]);
    assert!(list[0].is_base && list[0].is_current);
    assert!(list.iter().all(|e| e.problem.is_none()));

    locator::publish_current(&data, "v2").unwrap();
    let unet = models_dir(&data).join("v1/unet.onnx");
    let mut bytes = fs::read(&unet).unwrap();
    bytes[10] ^= 0xff;
    fs::write(&unet, bytes).unwrap();
    let list = list_versions(&data, &base).unwrap();
    assert!(list[2].is_current && !list[0].is_current);
    let problem = list[1].problem.as_ref().unwrap();
    let VersionsError::Invalid { source, .. } = problem else {
        panic!("{problem:?}");
    };
    assert_eq!(source.field(), Some("unet.onnx"));
    // The manifest still parsed, so the listing can show its parent.
    assert_eq!(list[1].manifest.as_ref().unwrap().parent, Some(0));
}

#[test]
fn rollback_moves_the_pointer_and_to_the_base_removes_it() {
    let (_tmp, data, base) = setup(2);
    locator::publish_current(&data, "v2").unwrap();
    let r = rollback(&data, &base, 1).unwrap();
    assert_eq!(r.from, models_dir(&data).join("v2"));
    assert_eq!(r.to, models_dir(&data).join("v1"));
    assert_eq!(pointer(&data).as_deref(), Some("v1\n"));

    let r = rollback(&data, &base, 0).unwrap();
    assert_eq!(r.to, base);
    assert_eq!(r.manifest.version, 0);
    assert_eq!(pointer(&data), None);
    // Rolling back to the base twice is fine: there is simply no pointer to remove.
    rollback(&data, &base, 0).unwrap();
    assert!(!clear_current(&data).unwrap());
}

#[test]
fn rollback_refuses_missing_corrupt_and_mislabelled_versions() {
    let (_tmp, data, base) = setup(3);
    locator::publish_current(&data, "v1").unwrap();

    let err = rollback(&data, &base, 9).unwrap_err();
    assert!(
        matches!(err, VersionsError::NotFound { version: 9, .. }),
        "{err}"
    );

    let unet = models_dir(&data).join("v2/unet.onnx");
    let mut bytes = fs::read(&unet).unwrap();
    bytes[0] ^= 0x01;
    fs::write(&unet, bytes).unwrap();
    let err = rollback(&data, &base, 2).unwrap_err();
    let VersionsError::Invalid { version: 2, source } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(source, ManifestError::ShaMismatch { .. }),
        "{source}"
    );

    let v3 = models_dir(&data).join("v3");
    let mut m = Manifest::load(&v3).unwrap();
    m.version = 5;
    m.write(&v3).unwrap();
    let err = rollback(&data, &base, 3).unwrap_err();
    assert!(err.to_string().contains("field `version`"), "{err}");

    assert_eq!(pointer(&data).as_deref(), Some("v1\n"));
}
