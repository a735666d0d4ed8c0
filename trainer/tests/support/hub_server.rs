//! A local stand-in for the Hugging Face hub's file API, enough for `hf-hub`'s sync client:
//! `GET`/`HEAD {endpoint}/{repo}/resolve/{revision}/{path}` with the hub's headers
//! (`X-Repo-Commit`; `ETag`, and for weight files the LFS `X-Linked-Etag` / `X-Linked-Size`
//! carrying the sha256) and `Range` requests answered with 206 and `Content-Range`. HTTP/1.1 by
//! hand, one request per connection (`Connection: close`), a thread per connection. Faults
//! (status codes, cut or truncated bodies, corrupt bytes, missing or replaced files) are set per
//! server and may change between runs.
#![allow(dead_code)] // each test binary uses its own subset

use refrain_engine::manifest::sha256_file;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The commit every file of the fixture repo is served at.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the server does wrong; paths are repo-relative (`unet/diffusion_pytorch_model.bin`).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer every request with this status and no file.
    pub status: Option<u16>,
    /// Send half of this file's body on the first full download, then close.
    pub cut_once: Option<String>,
    /// Send half of this file's body on every download, then close.
    pub truncate: Option<String>,
    /// Serve half of this file as if it were all of it: a consistent, complete-looking response
    /// whose size differs from the size announced in the metadata.
    pub short: Option<String>,
    /// Serve this file with every byte flipped under the original's sha256 and size.
    pub corrupt: Option<String>,
    /// Answer 404 for this file.
    pub hide: Option<String>,
    /// Serve these bytes for this path instead of the fixture's.
    pub replace: Option<(String, Vec<u8>)>,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Repo-relative file path (or the raw target when it is not a resolve URL).
    pub file: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

/// A fixture file: its bytes and the hub's etag for it.
struct Served {
    bytes: Vec<u8>,
    etag: String,
    lfs: bool,
}

struct State {
    repo: String,
    files: HashMap<String, Served>,
    faults: Mutex<Faults>,
    cut_done: AtomicBool,
    seen: Mutex<Vec<Seen>>,
}

/// The running server; stops when dropped.
pub struct HubServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl HubServer {
    /// Serves the files under `root` as repo `repo` at [`COMMIT`] (revision `main` or the commit).
    pub fn start(repo: &str, root: &Path, faults: Faults) -> HubServer {
        let mut files = HashMap::new();
        for path in walk(root) {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let sha = sha256_file(&path).unwrap();
            let lfs = name.ends_with(".bin") || name.ends_with(".safetensors");
            // Small git files carry the git object's sha1 on the hub: any 40 hex digits will do.
            let etag = if lfs { sha } else { sha[..40].to_string() };
            let bytes = std::fs::read(&path).unwrap();
            files.insert(name, Served { bytes, etag, lfs });
        }
        let state = Arc::new(State {
            repo: repo.to_string(),
            files,
            faults: Mutex::new(faults),
            cut_done: AtomicBool::new(false),
            seen: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let state = state2.clone();
                    std::thread::spawn(move || handle(&state, stream));
                }
            }
        });
        HubServer {
            endpoint: format!("http://{addr}"),
            state,
            stop,
        }
    }

    /// Replaces the faults for the next requests.
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The sha256 the server announces for `file` (a fixture weight file).
    pub fn sha256(&self, file: &str) -> String {
        self.state.files[file].etag.clone()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn handle(state: &State, mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(value.trim().to_string()),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let resolved = resolve(state, &target);
    let file = resolved.clone().map_or(target.clone(), |(_, f)| f);
    let seen = Seen {
        method: method.clone(),
        file: file.clone(),
        range: range.clone(),
        authorization,
    };
    state.seen.lock().unwrap().push(seen);
    let faults = state.faults.lock().unwrap().clone();

    if let Some(status) = faults.status {
        return respond(&mut stream, status, &[], b"refused", method == "HEAD");
    }
    let served = match resolved {
        Some((true, file)) if faults.hide.as_deref() != Some(file.as_str()) => {
            state.files.get(&file)
        }
        _ => None,
    };
    let Some(served) = served else {
        return respond(
            &mut stream,
            404,
            &[("X-Error-Code", "EntryNotFound".into())],
            b"",
            false,
        );
    };
    let mut bytes = served.bytes.clone();
    if let Some((path, replacement)) = &faults.replace {
        if *path == file {
            bytes = replacement.clone();
        }
    }
    let (etag, size) = match &faults.replace {
        Some((path, _)) if *path == file => (format!("{:040x}", bytes.len()), bytes.len()),
        _ => (served.etag.clone(), served.bytes.len()),
    };
    if faults.corrupt.as_deref() == Some(file.as_str()) {
        bytes.iter_mut().for_each(|b| *b ^= 0xff);
    }
    let mut headers = vec![
        ("X-Repo-Commit", COMMIT.to_string()),
        ("ETag", format!("\"{etag}\"")),
    ];
    if served.lfs {
        headers.push(("X-Linked-Etag", format!("\"{etag}\"")));
        headers.push(("X-Linked-Size", size.to_string()));
    }
    let (status, body) = match range.as_deref().and_then(parse_range) {
        Some((start, _)) if start >= size => {
            headers.push(("Content-Range", format!("bytes */{size}")));
            (416, Vec::new())
        }
        Some((start, end)) => {
            let end = end.unwrap_or(size - 1).min(size - 1);
            headers.push(("Content-Range", format!("bytes {start}-{end}/{size}")));
            (206, bytes[start..=end].to_vec())
        }
        None => (200, bytes),
    };
    // Faults on bodies apply to downloads, not to the one-byte probe for metadata.
    let download = body.len() > 1 && method == "GET";
    if download && faults.short.as_deref() == Some(file.as_str()) {
        let half = body.len() / 2;
        return respond(&mut stream, status, &headers, &body[..half], false);
    }
    let cut = download
        && (faults.truncate.as_deref() == Some(file.as_str())
            || (faults.cut_once.as_deref() == Some(file.as_str())
                && !state.cut_done.swap(true, Ordering::SeqCst)));
    if cut {
        let half = body.len() / 2;
        write_head(&mut stream, status, &headers, body.len());
        let _ = stream.write_all(&body[..half]);
        let _ = stream.flush();
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    respond(&mut stream, status, &headers, &body, method == "HEAD");
}

/// `(true, file)` for a resolve URL of the served repo at a known revision, `(false, file)` for
/// one of another repo or revision.
fn resolve(state: &State, target: &str) -> Option<(bool, String)> {
    let rest = target.strip_prefix('/')?;
    let (repo, rest) = rest.split_once("/resolve/")?;
    let (revision, file) = rest.split_once('/')?;
    let revision = revision.replace("%2F", "/");
    let known = repo == state.repo && (revision == "main" || revision == COMMIT);
    Some((known, file.to_string()))
}

/// `bytes=a-` or `bytes=a-b`.
fn parse_range(value: &str) -> Option<(usize, Option<usize>)> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    let end = if end.is_empty() {
        None
    } else {
        Some(end.parse().ok()?)
    };
    Some((start.parse().ok()?, end))
}

fn write_head(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], len: usize) {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {len}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
    head: bool,
) {
    write_head(stream, status, headers, body.len());
    if !head {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}
