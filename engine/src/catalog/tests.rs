use super::*;
use std::fs;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_model")
}

/// Copies the tiny model into `dir` with `edit` applied to its manifest JSON.
fn install(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    fs::create_dir_all(dir).unwrap();
    for entry in fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let path = dir.join(MANIFEST_FILE);
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut json);
    fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
}

#[test]
fn lists_base_imports_and_fine_tunes_with_inherited_license() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("bundle/base");
    install(&base, |_| {});
    fs::write(
        base.join(MODEL_CARD_FILE),
        "---\nlicense: mit\n---\n# card\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let models = locator::models_dir(&data);
    install(&models.join("imp"), |m| {
        m["name"] = "imp".into();
        m["training"] = serde_json::json!({"import": {"license": "apache-2.0"}});
    });
    install(&models.join("v1"), |m| {
        m["name"] = "imp".into();
        m["version"] = 1.into();
        m["parent"] = 0.into();
    });
    install(&models.join(".import-tmp"), |_| {});
    fs::create_dir_all(models.join("broken")).unwrap();
    fs::write(models.join("broken").join(MANIFEST_FILE), "{").unwrap();
    locator::publish_current(&data, "v1").unwrap();

    let list = installed_versions(&data, &base);
    let keys: Vec<&str> = list.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["base", "broken", "imp", "v1"]);
    let base_entry = find(&list, BASE_KEY).unwrap();
    assert_eq!(base_entry.license.as_deref(), Some("mit"));
    assert!(!base_entry.is_current);
    let imp = find(&list, "imp").unwrap();
    assert_eq!(imp.license.as_deref(), Some("apache-2.0"));
    let v1 = find(&list, "v1").unwrap();
    assert_eq!((v1.label().as_str(), v1.parent), ("imp v1", Some(0)));
    assert_eq!(
        v1.license.as_deref(),
        Some("apache-2.0"),
        "inherited from its root"
    );
    assert!(v1.is_current);
    assert!(v1.bytes > 1000, "sizes are summed: {}", v1.bytes);
    let broken = find(&list, "broken").unwrap();
    assert!(broken
        .problem
        .as_deref()
        .is_some_and(|p| p.contains("manifest")));
}

#[test]
fn no_data_dir_lists_the_base_only_and_no_base_lists_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let list = installed_versions(&tmp.path().join("none"), &fixture());
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "refrain-tiny-test");
    assert!(list[0].is_current, "no pointer: the base is current");
    assert!(installed_versions(tmp.path(), &tmp.path().join("nobase")).is_empty());
}

#[test]
fn timing_book_round_trips_and_forgets_replaced_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("models/imp");
    let mut book = TimingBook::open(tmp.path());
    assert!(book.needs(&dir, "2026-01-01T00:00:00Z"));
    let m = book
        .record(&dir, "2026-01-01T00:00:00Z", "CPU", 9.0, 3, 25)
        .unwrap();
    assert!((m.seconds_per_variation - 3.0).abs() < 1e-12);
    assert_eq!(m.describe(), "≈ 3.0 s per variation (25 steps, CPU)");
    let reopened = TimingBook::open(tmp.path());
    assert_eq!(reopened.get(&dir, "2026-01-01T00:00:00Z"), Some(&m));
    assert!(
        reopened.needs(&dir, "2026-02-02T00:00:00Z"),
        "a re-import is measured again"
    );
    fs::write(tmp.path().join(TIMINGS_FILE), "not json").unwrap();
    assert!(TimingBook::open(tmp.path()).needs(&dir, "2026-01-01T00:00:00Z"));
}
