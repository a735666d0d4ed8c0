//! The clip drag source against a real X server: an Xvfb display, a drop target that speaks
//! XDND the way file managers and DAWs do, and a mouse moved with XTEST.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use refrain_plugin::drag::{drag_files, uri_list, DragOutcome};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, PropMode,
    Window, WindowClass, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, MOTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{COPY_DEPTH_FROM_PARENT, COPY_FROM_PARENT, CURRENT_TIME};

/// A private X server on a free display, killed when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// `None` (with the reason printed) where Xvfb is not installed.
    fn start() -> Option<Self> {
        let installed = Command::new("Xvfb")
            .arg("-help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !installed {
            eprintln!("SKIPPED: Xvfb is not installed (apt-get install xvfb; .ci/run does)");
            return None;
        }
        // -displayfd: Xvfb picks a free display itself and prints its number once it listens,
        // so parallel tests neither race for a number nor poll for a socket.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "640x480x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb prints its display");
        let number: u32 = line.trim().parse().expect("a display number");
        Some(Self {
            child,
            display: format!(":{number}"),
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets the server remove its lock file; SIGKILL would leave it behind.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn atom(conn: &impl Connection, name: &str) -> Atom {
    conn.intern_atom(false, name.as_bytes())
        .expect("intern")
        .reply()
        .expect("atom")
        .atom
}

/// What the drop target saw.
#[derive(Debug, Default)]
struct Seen {
    offered_uri_list: bool,
    dropped: Option<String>,
    left: bool,
}

/// An XDND-aware window on the right half of the screen. It accepts (or refuses) copies of
/// `text/uri-list`, reads the list on drop and confirms with XdndFinished.
fn drop_target(display: String, accept: bool, ready: mpsc::Sender<Window>) -> Seen {
    let (conn, screen) = x11rb::connect(Some(&display)).expect("target connects");
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().expect("id");
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        window,
        root,
        320,
        0,
        320,
        480,
        0,
        WindowClass::INPUT_OUTPUT,
        COPY_FROM_PARENT,
        &CreateWindowAux::new(),
    )
    .expect("create");
    let aware = atom(&conn, "XdndAware");
    let [enter, position, status, leave, drop, finished, selection, copy, uri_list, property] = [
        "XdndEnter",
        "XdndPosition",
        "XdndStatus",
        "XdndLeave",
        "XdndDrop",
        "XdndFinished",
        "XdndSelection",
        "XdndActionCopy",
        "text/uri-list",
        "REFRAIN_TEST_DROP",
    ]
    .map(|name| atom(&conn, name));
    conn.change_property32(PropMode::REPLACE, window, aware, AtomEnum::ATOM, &[5])
        .expect("XdndAware");
    conn.map_window(window).expect("map");
    conn.sync().expect("sync");
    ready.send(window).expect("test waits");

    let mut seen = Seen::default();
    let mut source = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(event) = conn.poll_for_event().expect("event") else {
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        match event {
            Event::ClientMessage(m) => {
                let d = m.data.as_data32();
                if m.type_ == enter {
                    source = d[0];
                    seen.offered_uri_list = d[2..5].contains(&uri_list);
                } else if m.type_ == position {
                    let (answer, action) = if accept { (1, copy) } else { (0, 0) };
                    let reply =
                        ClientMessageEvent::new(32, source, status, [window, answer, 0, 0, action]);
                    conn.send_event(false, source, EventMask::NO_EVENT, reply)
                        .expect("status");
                } else if m.type_ == drop {
                    conn.convert_selection(window, selection, uri_list, property, d[2])
                        .expect("convert");
                } else if m.type_ == leave {
                    conn.sync().expect("sync");
                    seen.left = true;
                    return seen;
                }
                conn.flush().expect("flush");
            }
            Event::SelectionNotify(n) if n.property == property => {
                let value = conn
                    .get_property(true, window, property, AtomEnum::ANY, 0, 1 << 16)
                    .expect("get")
                    .reply()
                    .expect("property");
                seen.dropped = Some(String::from_utf8(value.value).expect("utf-8 list"));
                let done = ClientMessageEvent::new(32, source, finished, [window, 1, copy, 0, 0]);
                conn.send_event(false, source, EventMask::NO_EVENT, done)
                    .expect("finished");
                // A round trip, not a flush: a closing client's unread requests may be dropped.
                conn.sync().expect("sync");
                return seen;
            }
            _ => {}
        }
    }
    seen
}

/// Presses button 1 at `from`, drags to `to` in small steps while `drag_files` runs, releases.
fn gesture(display: &str, from: (i16, i16), to: (i16, i16), path: &Path) -> DragOutcome {
    let (conn, screen) = x11rb::connect(Some(display)).expect("mouse connects");
    let root = conn.setup().roots[screen].root;
    let fake = |kind: u8, detail: u8, (x, y): (i16, i16)| {
        conn.xtest_fake_input(kind, detail, CURRENT_TIME, root, x, y, 0)
            .expect("xtest");
        conn.sync().expect("sync");
    };
    fake(MOTION_NOTIFY_EVENT, 0, from);
    fake(BUTTON_PRESS_EVENT, 1, from);
    let (display_name, file) = (display.to_string(), path.to_path_buf());
    let drag = thread::spawn(move || drag_files(Some(&display_name), &[&file]));
    const STEPS: i16 = 25;
    for i in 1..=STEPS {
        let x = from.0 + (to.0 - from.0) * i / STEPS;
        let y = from.1 + (to.1 - from.1) * i / STEPS;
        fake(MOTION_NOTIFY_EVENT, 0, (x, y));
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(150));
    fake(BUTTON_RELEASE_EVENT, 1, to);
    drag.join().expect("drag thread").expect("drag runs")
}

/// Starts [`drop_target`] on the display and waits until its window is mapped.
fn spawn_target(x: &Xvfb, accept: bool) -> (thread::JoinHandle<Seen>, Window) {
    let (ready, window) = mpsc::channel();
    let display = x.display.clone();
    let target = thread::spawn(move || drop_target(display, accept, ready));
    let window = window
        .recv_timeout(Duration::from_secs(10))
        .expect("target up");
    (target, window)
}

fn clip_path() -> PathBuf {
    PathBuf::from("/tmp/Refrain exports/refrain-clip3-4bar-120bpm-seed7 é.wav")
}

#[test]
fn a_clip_dragged_onto_an_xdnd_window_is_dropped_as_a_file_uri() {
    let Some(x) = Xvfb::start() else { return };
    let (target, window) = spawn_target(&x, true);
    let outcome = gesture(&x.display, (100, 100), (480, 240), &clip_path());
    let seen = target.join().expect("target thread");
    assert_eq!(
        outcome,
        DragOutcome::Dropped {
            target: window,
            finished: true
        }
    );
    assert!(seen.offered_uri_list, "XdndEnter offers text/uri-list");
    assert_eq!(seen.dropped, Some(uri_list(&[&clip_path()])));
}

#[test]
fn a_target_that_refuses_gets_a_leave_and_no_drop() {
    let Some(x) = Xvfb::start() else { return };
    let (target, _) = spawn_target(&x, false);
    let outcome = gesture(&x.display, (100, 100), (480, 240), &clip_path());
    let seen = target.join().expect("target thread");
    assert_eq!(outcome, DragOutcome::Refused);
    assert!(seen.left, "the refusing target was told the drag left");
    assert_eq!(seen.dropped, None);
}

#[test]
fn released_over_no_target_or_never_held_drops_nothing() {
    let Some(x) = Xvfb::start() else { return };
    // Only the root window: nothing advertises XdndAware.
    let outcome = gesture(&x.display, (50, 50), (300, 300), &clip_path());
    assert_eq!(outcome, DragOutcome::NoTarget);
    // The button is up (the producer let go before the drag started): nothing is offered.
    let outcome = drag_files(Some(&x.display), &[&clip_path()]).expect("drag runs");
    assert_eq!(outcome, DragOutcome::NotHeld);
}

#[test]
fn no_display_is_an_error_not_a_panic() {
    let result = drag_files(Some(":9999"), &[&clip_path()]);
    assert!(result.is_err(), "{result:?}");
}
