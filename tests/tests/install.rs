//! `cargo xtask install`'s layout (xtask/src/install_layout.rs) into a temporary HOME, then the
//! CLAP host loading the installed Refrain.clap with nothing set: no model dir, no base model,
//! no ONNX Runtime, no vocoder. The plugin must find all of it inside its install, as on a fresh
//! machine. The host binary runs from a copy outside the workspace, so `models/` above the build
//! directory cannot stand in for the install's.
use std::path::PathBuf;
use std::process::Command;

use refrain_tests::install_layout::{self, Payload};
use refrain_tests::{bundle, target_dir, workspace_root};

#[test]
fn the_installed_clap_generates_with_its_own_runtime_and_model_and_uninstalls_cleanly() {
    let home = tempfile::Builder::new()
        .prefix("refrain-home-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let plugin = bundle::built_plugin().unwrap_or_else(|e| panic!("{e:#}"));
    let runtime_dir = bundle::runtime_dir(&target_dir()).unwrap_or_else(|e| panic!("{e:#}"));
    let runtime: Vec<PathBuf> = bundle::RUNTIME_FILES
        .iter()
        .map(|name| runtime_dir.join(name))
        .collect();
    let models = [("base", workspace_root().join("tests/fixtures/tiny_model"))];
    let payload = Payload {
        clap: &plugin,
        vst3: None,
        runtime: &runtime,
        models: &models,
        link: true,
    };
    let installed = install_layout::install(&payload, home.path()).unwrap();
    assert_eq!(
        installed.clap,
        home.path().join(".clap/Refrain/Refrain.clap")
    );
    // Installing again replaces the install and leaves no staging folder.
    install_layout::install(&payload, home.path()).unwrap();
    let mut entries: Vec<String> = std::fs::read_dir(home.path().join(".clap"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["Refrain"]);

    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let host = bin.join("refrain-plugin-host");
    std::fs::copy(env!("CARGO_BIN_EXE_refrain-plugin-host"), &host).unwrap();
    let data = home.path().join("data");
    let out = Command::new(&host)
        .arg(&installed.clap)
        .arg(&data)
        .arg("240")
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("REFRAIN_HOME", &data)
        .env("REFRAIN_TEST_HOOK", "1")
        .env_remove("REFRAIN_MODEL_DIR")
        .env_remove("REFRAIN_BASE_MODEL")
        .env_remove("REFRAIN_VOCODER_DIR")
        .env_remove(refrain_engine::runtime::ENV_VAR)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let installed_dir = std::fs::canonicalize(home.path().join(".clap/Refrain")).unwrap();
    assert!(
        stdout.contains(&format!(
            "ort={}",
            installed_dir.join("libonnxruntime.so").display()
        )),
        "ONNX Runtime must come from the install: {stdout}"
    );
    // The version that generated is the install's base (the timing book keys by its folder).
    let timings = std::fs::read_to_string(data.join("model-timings.json")).unwrap();
    assert!(
        timings.contains(".clap/Refrain/models/base"),
        "the model must come from the install: {timings}"
    );

    let removed = install_layout::uninstall(home.path()).unwrap();
    assert_eq!(removed, [home.path().join(".clap/Refrain")]);
    assert!(!home.path().join(".clap/Refrain").exists());
    assert!(
        data.join("feedback.sqlite").is_file(),
        "uninstall keeps the data"
    );
    assert!(install_layout::uninstall(home.path()).unwrap().is_empty());
}
