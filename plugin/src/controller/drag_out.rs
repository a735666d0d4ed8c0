//! Dragging a clip onto a host track: export it, then hand the file to the OS drag source.
use std::path::Path;
use std::sync::Arc;

use super::State;
use crate::drag::{drag_files, DragOutcome};

impl State {
    /// Exports the clip and offers the file as a drag until the producer lets go. The drag
    /// runs on its own thread: it blocks for as long as the button is held.
    pub(super) fn drag_out(&mut self, key: u64) {
        let Some(path) = self.export(key) else {
            return;
        };
        let ui = Arc::clone(&self.ui);
        let spawned = std::thread::Builder::new()
            .name("refrain-drag".into())
            .spawn(move || {
                let result = drag_files(None, &[&path]);
                let mut ui = ui.lock().unwrap_or_else(|e| e.into_inner());
                match result {
                    Ok(DragOutcome::NotHeld) => {}
                    Ok(outcome) => ui.status = drag_message(outcome, &path),
                    Err(e) => {
                        tracing::warn!("{e}");
                        ui.error = Some(format!("{e}. The clip is exported: use Copy path."));
                    }
                }
            });
        if let Err(e) = spawned {
            self.error(format!("Could not start the drag: {e}"));
        }
    }
}

/// What the status line says after a drag.
fn drag_message(outcome: DragOutcome, path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    match outcome {
        DragOutcome::Dropped { finished: true, .. } => format!("Dropped {name}"),
        DragOutcome::Dropped {
            finished: false, ..
        } => {
            format!("Dropped {name}; the window did not confirm it took the file")
        }
        DragOutcome::Refused => {
            format!("That window takes no audio files; {name} stays in the export folder")
        }
        DragOutcome::NoTarget | DragOutcome::NotHeld => {
            format!("Released outside a drop target; {name} stays in the export folder")
        }
    }
}
