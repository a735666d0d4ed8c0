//! Refrain as a standalone app (feature `standalone`): `--backend dummy` runs without an
//! audio device, which is how the editor is rendered for screenshots.
fn main() -> std::process::ExitCode {
    if nice_plug::nice_export_standalone::<refrain_plugin::Refrain>() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
