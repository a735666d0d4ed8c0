//! engine::locator: the one answer to "where is the model?" shared by the CLI, the trainer and
//! the plugin — the shipped base's search order and the version to load.
use refrain_engine::locator::{
    base_in_data_dir, model_to_load, models_dir, publish_current, shipped_base, version_dir,
    BASE_MODEL_ENV, MODEL_DIR_ENV,
};
use refrain_engine::manifest::MANIFEST_FILE;
use std::path::Path;

/// A directory that counts as a version for the locator (it only looks for the manifest file).
fn fake_version(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(MANIFEST_FILE), "{}").unwrap();
}

/// The tests read the process environment; a developer's own overrides would change the answers.
fn env_is_clean() -> bool {
    for var in [BASE_MODEL_ENV, MODEL_DIR_ENV] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            println!("skipped: {var} is set in this environment and overrides the locator");
            return false;
        }
    }
    true
}

#[test]
fn a_base_installed_in_the_data_dir_comes_before_the_one_beside_the_binary() {
    if !env_is_clean() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let installed = base_in_data_dir(data.path());
    assert_eq!(installed, models_dir(data.path()).join("base"));
    fake_version(&installed);
    assert_eq!(shipped_base(Some(data.path())), installed);
}

#[test]
fn without_a_data_dir_base_the_models_base_above_the_binary_is_found_else_the_working_dirs() {
    if !env_is_clean() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // The test binary sits in <target>/debug/deps: a checkout's models/base is above it when the
    // target dir is inside the checkout; CI builds elsewhere, where the rule ends at the
    // working directory's models/base.
    let exe = std::env::current_exe().unwrap();
    let above = exe
        .ancestors()
        .map(|a| a.join("models").join("base"))
        .find(|d| d.join(MANIFEST_FILE).is_file());
    let expected = above.unwrap_or_else(|| Path::new("models").join("base"));
    assert_eq!(shipped_base(Some(data.path())), expected);
}

#[test]
fn the_version_to_load_follows_the_current_pointer_else_the_base() {
    if !env_is_clean() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let base = data.path().join("somewhere/base");
    fake_version(&base);
    assert_eq!(model_to_load(Some(data.path()), &base), base);
    assert_eq!(model_to_load(None, &base), base);
    let v2 = version_dir(data.path(), 2);
    assert_eq!(v2, models_dir(data.path()).join("v2"));
    fake_version(&v2);
    publish_current(data.path(), "v2").unwrap();
    assert_eq!(model_to_load(Some(data.path()), &base), v2);
}
