//! The source side of XDND (freedesktop.org's drag-and-drop protocol, versions 3–5) on a
//! connection of our own.
//!
//! The drag follows the pointer by polling it rather than grabbing it: the button press that
//! began the gesture gave the editor's window an implicit grab, which another client cannot
//! take over, and polling works the same whichever window holds the pointer.
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, KeyButMask,
    PropMode, SelectionNotifyEvent, SelectionRequestEvent, Window, WindowClass,
    SELECTION_NOTIFY_EVENT,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{COPY_DEPTH_FROM_PARENT, COPY_FROM_PARENT, CURRENT_TIME, NONE};

use super::{DragError, DragOutcome};

/// The newest protocol version we speak; targets older than 3 are not offered drops.
const VERSION: u32 = 5;
/// How often the pointer is read: under a display refresh, so the target sees smooth motion.
const POLL: Duration = Duration::from_millis(8);
/// A drag held longer than this is abandoned (a stuck button must not keep a thread forever).
const MAX_HOLD: Duration = Duration::from_secs(300);
/// How long a target may take to read the files after the drop.
const FINISH_WAIT: Duration = Duration::from_secs(10);
/// A target that never answers a position still gets the next one after this.
const STATUS_WAIT: Duration = Duration::from_millis(500);

fn x11(e: impl std::fmt::Display) -> DragError {
    DragError::X11(e.to_string())
}

/// The atoms the protocol names.
struct Atoms {
    aware: Atom,
    proxy: Atom,
    selection: Atom,
    enter: Atom,
    position: Atom,
    status: Atom,
    leave: Atom,
    drop: Atom,
    finished: Atom,
    action_copy: Atom,
    uri_list: Atom,
    targets: Atom,
}

impl Atoms {
    fn intern(conn: &RustConnection) -> Result<Self, DragError> {
        let get = |name: &str| -> Result<Atom, DragError> {
            Ok(conn
                .intern_atom(false, name.as_bytes())
                .map_err(x11)?
                .reply()
                .map_err(x11)?
                .atom)
        };
        Ok(Self {
            aware: get("XdndAware")?,
            proxy: get("XdndProxy")?,
            selection: get("XdndSelection")?,
            enter: get("XdndEnter")?,
            position: get("XdndPosition")?,
            status: get("XdndStatus")?,
            leave: get("XdndLeave")?,
            drop: get("XdndDrop")?,
            finished: get("XdndFinished")?,
            action_copy: get("XdndActionCopy")?,
            uri_list: get("text/uri-list")?,
            targets: get("TARGETS")?,
        })
    }
}

/// A window that takes drops: where messages go (its proxy, if any) and the version to speak.
#[derive(Clone, Copy, PartialEq)]
struct Target {
    window: Window,
    deliver_to: Window,
    version: u32,
}

/// One drag in progress.
struct Session {
    conn: RustConnection,
    atoms: Atoms,
    root: Window,
    source: Window,
    uri_list: Vec<u8>,
    target: Option<Target>,
    accepted: bool,
    awaiting_status: Option<Instant>,
    finished: Option<bool>,
}

/// Runs one drag of `uri_list` until the button is released and the drop is done.
pub(super) fn drag(display: Option<&str>, uri_list: &str) -> Result<DragOutcome, DragError> {
    let (conn, screen) = x11rb::connect(display).map_err(x11)?;
    let root = conn
        .setup()
        .roots
        .get(screen)
        .ok_or_else(|| DragError::X11(format!("display has no screen {screen}")))?
        .root;
    let atoms = Atoms::intern(&conn)?;
    let source = conn.generate_id().map_err(x11)?;
    // An unmapped input-only window: it owns the selection and receives the target's replies.
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        source,
        root,
        -10,
        -10,
        1,
        1,
        0,
        WindowClass::INPUT_ONLY,
        COPY_FROM_PARENT,
        &CreateWindowAux::new().override_redirect(1),
    )
    .map_err(x11)?;
    conn.set_selection_owner(source, atoms.selection, CURRENT_TIME)
        .map_err(x11)?;
    conn.flush().map_err(x11)?;
    let mut session = Session {
        conn,
        atoms,
        root,
        source,
        uri_list: uri_list.as_bytes().to_vec(),
        target: None,
        accepted: false,
        awaiting_status: None,
        finished: None,
    };
    let outcome = session.run();
    // A round trip before closing: the X server may drop a closing client's unread requests,
    // which lost the final XdndLeave in tests. Best effort: closing frees the window anyway.
    let _ = session.conn.destroy_window(session.source);
    let _ = session.conn.sync();
    outcome
}

impl Session {
    fn run(&mut self) -> Result<DragOutcome, DragError> {
        let started = Instant::now();
        let mut last_position = None;
        let mut first = true;
        loop {
            self.handle_events()?;
            let pointer = self
                .conn
                .query_pointer(self.root)
                .map_err(x11)?
                .reply()
                .map_err(x11)?;
            let held = pointer.mask.contains(KeyButMask::BUTTON1);
            if !held || started.elapsed() > MAX_HOLD {
                if first {
                    return Ok(DragOutcome::NotHeld);
                }
                return self.release();
            }
            first = false;
            let (x, y) = (pointer.root_x, pointer.root_y);
            let target = self.target_at(x, y)?;
            if target != self.target {
                self.leave()?;
                if let Some(t) = target {
                    self.enter(t)?;
                }
                last_position = None;
            }
            let status_due = self
                .awaiting_status
                .is_none_or(|since| since.elapsed() > STATUS_WAIT);
            if self.target.is_some() && last_position != Some((x, y)) && status_due {
                self.position(x, y)?;
                last_position = Some((x, y));
            }
            self.conn.flush().map_err(x11)?;
            std::thread::sleep(POLL);
        }
    }

    /// The deepest window under the root point that advertises XdndAware (version ≥ 3).
    fn target_at(&self, x: i16, y: i16) -> Result<Option<Target>, DragError> {
        let mut window = self.root;
        loop {
            let child = self
                .conn
                .translate_coordinates(self.root, window, x, y)
                .map_err(x11)?
                .reply()
                .map_err(x11)?
                .child;
            if child == NONE {
                return Ok(None);
            }
            // A WM frame is not aware; the client window inside it is.
            let proxy = self.window_property(child, self.atoms.proxy, AtomEnum::WINDOW)?;
            let deliver_to = proxy.unwrap_or(child);
            if let Some(version) =
                self.window_property(deliver_to, self.atoms.aware, AtomEnum::ATOM)?
            {
                if version >= 3 {
                    return Ok(Some(Target {
                        window: child,
                        deliver_to,
                        version: version.min(VERSION),
                    }));
                }
            }
            window = child;
        }
    }

    /// The first 32-bit value of a property, if the window has it with this type.
    fn window_property(
        &self,
        window: Window,
        property: Atom,
        kind: AtomEnum,
    ) -> Result<Option<u32>, DragError> {
        // A window destroyed under the pointer answers with an error: treat it as absent.
        let Ok(reply) = self
            .conn
            .get_property(false, window, property, kind, 0, 1)
            .map_err(x11)?
            .reply()
        else {
            return Ok(None);
        };
        Ok(reply.value32().and_then(|mut values| values.next()))
    }

    fn send(&self, target: Target, kind: Atom, data: [u32; 5]) -> Result<(), DragError> {
        let event = ClientMessageEvent::new(32, target.window, kind, data);
        self.conn
            .send_event(false, target.deliver_to, EventMask::NO_EVENT, event)
            .map_err(x11)?;
        Ok(())
    }

    fn enter(&mut self, target: Target) -> Result<(), DragError> {
        // Up to three types travel in the message itself; one is all we offer.
        let data = [self.source, target.version << 24, self.atoms.uri_list, 0, 0];
        self.send(target, self.atoms.enter, data)?;
        self.target = Some(target);
        self.accepted = false;
        self.awaiting_status = None;
        Ok(())
    }

    fn position(&mut self, x: i16, y: i16) -> Result<(), DragError> {
        let Some(target) = self.target else {
            return Ok(());
        };
        let point = ((x as u16 as u32) << 16) | (y as u16 as u32);
        let data = [self.source, 0, point, CURRENT_TIME, self.atoms.action_copy];
        self.send(target, self.atoms.position, data)?;
        self.awaiting_status = Some(Instant::now());
        Ok(())
    }

    fn leave(&mut self) -> Result<(), DragError> {
        if let Some(target) = self.target.take() {
            self.send(target, self.atoms.leave, [self.source, 0, 0, 0, 0])?;
        }
        self.accepted = false;
        self.awaiting_status = None;
        Ok(())
    }

    /// The button went up: drop where the target accepted, else leave.
    fn release(&mut self) -> Result<DragOutcome, DragError> {
        // A status still on its way decides whether this is a drop.
        let deadline = Instant::now() + STATUS_WAIT;
        while self.awaiting_status.is_some() && Instant::now() < deadline {
            self.handle_events()?;
            std::thread::sleep(POLL);
        }
        let Some(target) = self.target else {
            return Ok(DragOutcome::NoTarget);
        };
        if !self.accepted {
            self.leave()?;
            self.conn.flush().map_err(x11)?;
            return Ok(DragOutcome::Refused);
        }
        self.send(
            target,
            self.atoms.drop,
            [self.source, 0, CURRENT_TIME, 0, 0],
        )?;
        self.conn.flush().map_err(x11)?;
        let deadline = Instant::now() + FINISH_WAIT;
        while self.finished.is_none() && Instant::now() < deadline {
            self.handle_events()?;
            self.conn.flush().map_err(x11)?;
            std::thread::sleep(POLL);
        }
        Ok(DragOutcome::Dropped {
            target: target.window,
            finished: self.finished.unwrap_or(false),
        })
    }

    fn handle_events(&mut self) -> Result<(), DragError> {
        while let Some(event) = self.conn.poll_for_event().map_err(x11)? {
            match event {
                Event::ClientMessage(message) => self.on_message(&message),
                Event::SelectionRequest(request) => self.on_selection_request(&request)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn on_message(&mut self, message: &ClientMessageEvent) {
        let data = message.data.as_data32();
        let from_target = self.target.is_some_and(|t| t.window == data[0]);
        if message.type_ == self.atoms.status && from_target {
            self.accepted = data[1] & 1 == 1;
            self.awaiting_status = None;
        } else if message.type_ == self.atoms.finished && from_target {
            // Version 5 says whether the drop succeeded; earlier versions only that it ended.
            let version = self.target.map_or(VERSION, |t| t.version);
            self.finished = Some(version < 5 || data[1] & 1 == 1);
        }
    }

    /// The target reads the files: answer `text/uri-list` (and `TARGETS`), refuse the rest.
    fn on_selection_request(&self, request: &SelectionRequestEvent) -> Result<(), DragError> {
        // Obsolete requestors name no property: the target atom stands in (ICCCM §2.2).
        let property = if request.property == NONE {
            request.target
        } else {
            request.property
        };
        let answered = if request.selection != self.atoms.selection {
            NONE
        } else if request.target == self.atoms.uri_list {
            self.conn
                .change_property8(
                    PropMode::REPLACE,
                    request.requestor,
                    property,
                    self.atoms.uri_list,
                    &self.uri_list,
                )
                .map_err(x11)?;
            property
        } else if request.target == self.atoms.targets {
            self.conn
                .change_property32(
                    PropMode::REPLACE,
                    request.requestor,
                    property,
                    AtomEnum::ATOM,
                    &[self.atoms.targets, self.atoms.uri_list],
                )
                .map_err(x11)?;
            property
        } else {
            NONE
        };
        let notify = SelectionNotifyEvent {
            response_type: SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: request.time,
            requestor: request.requestor,
            selection: request.selection,
            target: request.target,
            property: answered,
        };
        self.conn
            .send_event(false, request.requestor, EventMask::NO_EVENT, notify)
            .map_err(x11)?;
        self.conn.flush().map_err(x11)?;
        Ok(())
    }
}
