//! Refrain's plugin crate. The nice-plug plugin lands with the plugin issue; for now this crate
//! only re-states which engine it is built against, so the workspace layout is real.

/// The engine crate version this plugin links, shown in the editor's about line later.
pub fn engine_version() -> &'static str {
    refrain_engine::VERSION
}
