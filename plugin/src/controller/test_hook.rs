//! The documented test hook: with `REFRAIN_TEST_HOOK=1` the controller drives the whole loop by
//! itself — arm a 1 s capture, generate one short variation when it is done, preview the first
//! clip, and Accept it with 5 stars once 0.25 s of it has really been played through the
//! output, then writes [`TEST_HOOK_DONE_FILE`]. A host test only processes audio and waits.
//!
//! It goes through the same code paths as the editor's buttons (the same `State` methods), so
//! the test exercises capture, the worker, the store, the preview handoff and listening time.

use std::sync::atomic::Ordering;

use super::generate::JobOverrides;
use super::State;

/// Env var that turns the hook on ("1").
pub const TEST_HOOK_ENV: &str = "REFRAIN_TEST_HOOK";
/// Written into the data dir once the hook's rating is stored (or spooled), so a test host can
/// wait for it without opening the SQLite store from a second SQLite copy in one process.
pub const TEST_HOOK_DONE_FILE: &str = "test-hook.done";
/// Capture length the hook arms.
const CAPTURE_SECONDS: f32 = 1.0;
/// Playback heard before the hook rates.
const LISTEN_SECONDS: f64 = 0.25;

/// Where the hook is in its script.
#[derive(Debug, Default)]
pub(super) struct TestHook {
    armed: bool,
    /// Set by the controller when a capture has been saved.
    pub captured: bool,
    generated: bool,
    /// The first clip's key, set when it arrives.
    pub clip: Option<u64>,
    previewing: bool,
    rated: bool,
}

impl TestHook {
    /// The hook, when the env var asks for it: "1" runs the whole script; "unconditional"
    /// skips the capture (for a standalone demo, whose dummy backend feeds silence).
    pub fn from_env() -> Option<Self> {
        match std::env::var(TEST_HOOK_ENV).as_deref() {
            Ok("1") => Some(Self::default()),
            Ok("unconditional") => Some(Self {
                armed: true,
                captured: true,
                ..Self::default()
            }),
            _ => None,
        }
    }
}

impl State {
    pub(super) fn step_hook(&mut self) {
        let Some(hook) = self.hook.as_mut() else {
            return;
        };
        if !hook.armed {
            hook.armed = true;
            self.arm(Some(CAPTURE_SECONDS));
            return;
        }
        if hook.captured && !hook.generated {
            hook.generated = true;
            self.generate(Some(JobOverrides {
                steps: Some(4),
                variations: Some(1),
            }));
            return;
        }
        let Some(key) = hook.clip else { return };
        if !hook.previewing {
            hook.previewing = true;
            self.preview(key);
            return;
        }
        if hook.rated {
            return;
        }
        let heard = self
            .clips
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.played.load(Ordering::Relaxed))
            .unwrap_or(0);
        if heard as f64 >= LISTEN_SECONDS * f64::from(self.sample_rate) {
            if let Some(hook) = self.hook.as_mut() {
                hook.rated = true;
            }
            self.rate(key, true, Some(5));
            let stored = self.ui().ratings_stored;
            if let (Some(dir), true) = (&self.data_dir, stored > 0) {
                if let Err(e) = std::fs::write(dir.join(TEST_HOOK_DONE_FILE), "rated\n") {
                    self.error(format!("test hook: {e}"));
                }
            }
        }
    }
}
