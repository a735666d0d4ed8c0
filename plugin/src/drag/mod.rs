//! Dragging a clip's WAV out of the editor onto a host's track: an OS drag source.
//!
//! baseview (under egui) can receive drops but cannot start an OS drag, so the drag runs on its
//! own thread with its own display connection. X11 (and XWayland) speak XDND; other platforms
//! report [`DragError::Unsupported`] and the editor keeps Copy path / Show folder.
use std::path::Path;

#[cfg(target_os = "linux")]
mod xdnd;

use percent_encoding::{percent_encode, AsciiSet, CONTROLS};

/// How a drag ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DragOutcome {
    /// The mouse button was already up when the drag began: nothing was offered.
    NotHeld,
    /// Released over no window that takes drops.
    NoTarget,
    /// Released over a window that takes drops but refused these files.
    Refused,
    /// Dropped; `finished` is true when the target said it took the files (XdndFinished).
    Dropped {
        /// The X window that took the drop.
        target: u32,
        /// The target confirmed it read the files.
        finished: bool,
    },
}

/// Why a drag could not run.
#[derive(Debug, thiserror::Error)]
pub enum DragError {
    /// No OS drag source on this platform or display.
    #[error("dragging out of the plugin window needs X11 (or XWayland); {0}")]
    Unsupported(&'static str),
    /// The display server failed us.
    #[error("X11 drag failed: {0}")]
    X11(String),
}

/// Characters a `file://` URI path may not carry as they are (RFC 3986 path, with `/` kept).
const URI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `text/uri-list` for absolute paths: one `file://` URI per line, CRLF-terminated (RFC 2483).
pub fn uri_list(paths: &[&Path]) -> String {
    let mut list = String::new();
    for path in paths {
        list.push_str("file://");
        list.extend(percent_encode(path_bytes(path), URI_PATH));
        list.push_str("\r\n");
    }
    list
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    // Only X11 consumes these lists; elsewhere a lossy spelling is never sent to a host.
    path.to_str().map(str::as_bytes).unwrap_or_default()
}

/// Whether this process can start an OS drag (X11 display named in `DISPLAY`).
pub fn available() -> bool {
    cfg!(target_os = "linux") && std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
}

/// Offers `paths` as a drag that follows the pointer until mouse button 1 is released, and
/// blocks until the drop is done. Call it while the button is held (from a drag gesture);
/// `display` is an X display name (`None`: `DISPLAY`).
pub fn drag_files(display: Option<&str>, paths: &[&Path]) -> Result<DragOutcome, DragError> {
    #[cfg(target_os = "linux")]
    {
        xdnd::drag(display, &uri_list(paths))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (display, paths);
        Err(DragError::Unsupported(
            "this platform has no drag source in Refrain yet",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_list_escapes_spaces_and_non_ascii_and_ends_lines_with_crlf() {
        let a = Path::new("/home/me/My Clips/refrain-clip1-4bar-120bpm.wav");
        let b = Path::new("/tmp/été#1.wav");
        assert_eq!(
            uri_list(&[a, b]),
            "file:///home/me/My%20Clips/refrain-clip1-4bar-120bpm.wav\r\n\
             file:///tmp/%C3%A9t%C3%A9%231.wav\r\n"
        );
    }
}
