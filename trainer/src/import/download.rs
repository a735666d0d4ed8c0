//! Downloads a diffusers `AudioDiffusionPipeline` repo from the Hugging Face hub into the
//! standard hub cache, `<cache>/models--owner--name/{blobs,snapshots/<commit>,refs}` (`<cache>`
//! is `$HF_HOME/hub` by default), so Python tools and later runs share the files.
//!
//! Client: `hf-hub` 0.5, huggingface's own crate, through its blocking `api::sync` on ureq, so
//! the trainer pulls no async runtime (0.5 is the newest release with a sync API; 1.0 is async
//! only). It fetches `{endpoint}/{repo}/resolve/{revision}/{file}`, learns the commit, etag and
//! size from a one-byte range request, and writes `blobs/<etag>`, the `snapshots/<commit>/<file>`
//! link and `refs/<revision>`. Resume is the crate's: a body is written to `blobs/<etag>.part`,
//! which a dropped connection leaves behind, and the next run asks for
//! `Range: bytes=<part length>-` and appends. Retries within a run are off: the error tells the
//! producer to run the import again, which resumes.
//!
//! Done here because the crate does not:
//! - integrity: it renames the `.part` into place unchecked. Each file's blob must have the size
//!   the hub announced and, where the etag is a sha256 (LFS files, `X-Linked-Etag`), that sha256;
//!   on a mismatch the blob and its snapshot link are deleted and the import fails. Small git
//!   files carry the git object's sha1 as etag, so only their size is checked.
//! - `HF_TOKEN` and `HF_HUB_CACHE`: it reads only the token file `$HF_HOME/token` and `HF_HOME`,
//!   and panics when there is no home directory; token and cache are resolved here.
//! - skipping files already complete in the cache (it always downloads again).
//! - a snapshot entry that holds the file where symlinks fail or cannot be followed (Windows,
//!   Wine): `cache_link`.
//! - errors a producer can act on: gated repo, missing file, interrupted or corrupt download.
use hf_hub::api::sync::{Api, ApiBuilder, ApiError, Metadata};
use hf_hub::{Cache, Repo, RepoType};
use refrain_engine::manifest::sha256_file;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use ureq::Error::StatusCode as Status;

use super::cache_link;
pub use super::download_error::{DownloadError, RepoFile};

/// The hub used when neither the options nor `HF_ENDPOINT` name one.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

const MODEL_INDEX: &str = "model_index.json";
/// Components of model_index.json this family imports: `unet` always, `vqvae` when present
/// (pixel-space pipelines have none).
const COMPONENTS: [&str; 2] = ["unet", "vqvae"];
/// Weight files of a component, preferred first.
const WEIGHTS: [&str; 2] = [
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.bin",
];
const REQUIRED: [&str; 2] = ["mel/mel_config.json", "scheduler/scheduler_config.json"];
/// The model card: optional, read later for the license.
const README: &str = "README.md";
/// `Hub::fetch`'s `optional`: a 404 on the file is not an error.
const OPTIONAL: bool = true;
const REQUIRED_FILE: bool = false;

/// Options for one download.
#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    /// Hub repo id, `owner/name`.
    pub repo_id: String,
    /// Branch, tag or commit; `main` when `None`.
    pub revision: Option<String>,
    /// Show a progress bar per file on stderr.
    pub progress: bool,
    /// Hub base URL; `HF_ENDPOINT`, else [`DEFAULT_ENDPOINT`], when `None`.
    pub endpoint: Option<String>,
    /// Hub cache (the folder holding `models--owner--name`); when `None`: `HF_HUB_CACHE`, else
    /// `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
    pub cache_dir: Option<PathBuf>,
    /// Access token, sent as `Authorization: Bearer`; `HF_TOKEN`, else the token file beside the
    /// cache (`$HF_HOME/token`), when `None`.
    pub token: Option<String>,
}

impl DownloadOptions {
    /// Options for `repo_id` at `main`, everything else from the environment, no progress bar.
    pub fn new(repo_id: impl Into<String>) -> Self {
        let repo_id = repo_id.into();
        Self {
            repo_id,
            ..Self::default()
        }
    }
}

/// The downloaded snapshot: its directory (standard hub cache layout), the resolved commit.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `<cache>/models--owner--name/snapshots/<commit>`.
    pub dir: PathBuf,
    /// The commit the revision resolved to (the hub's `X-Repo-Commit`).
    pub commit: Option<String>,
    /// Repo-relative paths present in `dir`, in download order.
    pub files: Vec<String>,
}

/// Downloads the pipeline files of `options.repo_id` (model_index.json, the unet and vqvae
/// configs and weights, mel and scheduler configs, the model card when present) into the hub
/// cache, skipping files already complete there.
pub fn fetch_repo(options: &DownloadOptions) -> Result<Snapshot, DownloadError> {
    let mut hub = Hub::open(options)?;
    let Some(index) = hub.fetch(MODEL_INDEX, OPTIONAL)? else {
        return Err(DownloadError::NoSuchRepo {
            at: hub.at(MODEL_INDEX),
        });
    };
    let index = std::fs::read_to_string(index).map_err(|e| hub.cache_error(MODEL_INDEX, e))?;
    for component in components(&hub.base.repo, &index)? {
        hub.fetch(&format!("{component}/config.json"), REQUIRED_FILE)?;
        let [preferred, fallback] = WEIGHTS.map(|w| format!("{component}/{w}"));
        // A repo with only PyTorch pickles has no safetensors file: that 404 is expected.
        if hub.fetch(&preferred, OPTIONAL)?.is_none() && hub.fetch(&fallback, OPTIONAL)?.is_none() {
            let at = hub.at(&format!("{preferred} (or {fallback})"));
            return Err(DownloadError::MissingFile { at });
        }
    }
    for file in REQUIRED {
        hub.fetch(file, REQUIRED_FILE)?;
    }
    hub.fetch(README, OPTIONAL)?;
    hub.finish()
}

/// The components of `index` (model_index.json) to download, `unet` first.
fn components(repo: &str, index: &str) -> Result<Vec<&'static str>, DownloadError> {
    let not = |reason: String| DownloadError::NotAPipeline {
        repo: repo.into(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(index).map_err(|e| not(format!("is not JSON ({e})")))?;
    let object = value
        .as_object()
        .ok_or_else(|| not("is not a JSON object".into()))?;
    if !object.contains_key("unet") {
        return Err(not("names no unet".into()));
    }
    Ok(COMPONENTS
        .into_iter()
        .filter(|c| object.contains_key(*c))
        .collect())
}

/// One repo at one revision on one hub, and the commit its files came from.
struct Hub {
    api: Api,
    repo: Repo,
    cache: Cache,
    /// Repo, revision and endpoint of every error (`file` empty).
    base: RepoFile,
    commit: Option<String>,
    files: Vec<String>,
}

impl Hub {
    fn open(options: &DownloadOptions) -> Result<Self, DownloadError> {
        let base = target(options)?;
        let cache = Cache::new(cache_dir(options)?);
        let mut builder = ApiBuilder::from_cache(cache.clone())
            .with_endpoint(base.endpoint.clone())
            .with_progress(options.progress)
            // No retries within a run: an interrupted file is resumed by the next run.
            .with_retries(0)
            .with_user_agent("refrain-trainer", env!("CARGO_PKG_VERSION"));
        // The crate reads only the token file; the explicit token and HF_TOKEN win over it.
        if let Some(token) = options.token.clone().or_else(|| env_string("HF_TOKEN")) {
            builder = builder.with_token(Some(token));
        }
        let (id, revision) = (base.repo.clone(), base.revision.clone());
        let repo = Repo::with_revision(id, RepoType::Model, revision);
        // Building fails only for a TLS setup the crate cannot make.
        let api = builder.build().map_err(|e| {
            let (at, reason) = (base.with_file(MODEL_INDEX), e.to_string());
            DownloadError::Network { at, reason }
        })?;
        let (commit, files) = (None, Vec::new());
        Ok(Self {
            api,
            repo,
            cache,
            base,
            commit,
            files,
        })
    }

    /// Downloads `file` unless the cache has it complete; `None` when it is `optional` and the
    /// hub has no such file (a 404).
    fn fetch(&mut self, file: &str, optional: bool) -> Result<Option<PathBuf>, DownloadError> {
        let remote = self.api.repo(self.repo.clone());
        let meta = match self.api.metadata(&remote.url(file)) {
            Ok(meta) => meta,
            Err(ApiError::RequestError(e)) if optional && matches!(*e, Status(404)) => {
                return Ok(None)
            }
            Err(e) => return Err(self.api_error(file, e, None)),
        };
        self.same_commit(file, meta.commit_hash())?;
        let local = self.cache.repo(self.repo.clone());
        let blob = local.blob_path(meta.etag());
        let pointer = local.pointer_path(meta.commit_hash()).join(file);
        let (size, part) = (meta.size() as u64, blob.with_extension("part"));
        if std::fs::metadata(&part).is_ok_and(|m| m.len() == size) {
            // A run stopped between the last byte and the crate's rename: resuming would ask for
            // a range past the end, which the hub refuses. Moved into place, then verified.
            std::fs::rename(&part, &blob).map_err(|e| self.cache_error(file, e))?;
        }
        // The snapshot entry holds the bytes whether the platform linked or moved the blob.
        let cached = cache_link::ensure_entry(&pointer, &blob).ok().flatten();
        if cached.is_some_and(|entry| verify(&entry, &meta).is_ok()) {
            tracing::info!(repo = %self.base.repo, file, "already in the hub cache");
        } else {
            tracing::info!(repo = %self.base.repo, file, bytes = size, "downloading");
            // An entry left from before could be a hard link to an old blob, which the crate
            // would keep (it skips an existing entry).
            cache_link::remove_quietly(&pointer);
            if let Ok(downloaded) = cache_link::download_caught(&pointer, || remote.download(file))
            {
                downloaded.map_err(|e| self.api_error(file, e, Some((&part, size))))?;
            }
            let entry = cache_link::ensure_entry(&pointer, &blob);
            let entry = entry.map_err(|e| self.cache_error(file, e))?;
            let checked = match entry {
                Some(entry) => verify(&entry, &meta),
                None => Err("the download left no file in the cache".into()),
            };
            if let Err(detail) = checked {
                // Neither a bad blob nor a link to it may survive as a complete-looking file.
                cache_link::remove_quietly(&pointer);
                cache_link::remove_quietly(&blob);
                return Err(DownloadError::Corrupt {
                    at: self.at(file),
                    detail,
                });
            }
        }
        self.files.push(file.into());
        Ok(Some(pointer))
    }

    fn same_commit(&mut self, file: &str, now: &str) -> Result<(), DownloadError> {
        match self.commit.clone() {
            None => self.commit = Some(now.to_string()),
            Some(first) if first != now => {
                let (at, now) = (self.at(file), now.to_string());
                return Err(DownloadError::RepoChanged { at, first, now });
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Snapshot, DownloadError> {
        let local = self.cache.repo(self.repo.clone());
        let commit = self.commit.clone().unwrap_or_default();
        // The crate writes the ref only when it downloads; a run served from the cache too.
        let written = local.create_ref(&commit);
        written.map_err(|e| self.cache_error(MODEL_INDEX, e))?;
        let (dir, commit, files) = (local.pointer_path(&commit), self.commit, self.files);
        Ok(Snapshot { dir, commit, files })
    }

    fn at(&self, file: &str) -> Box<RepoFile> {
        self.base.with_file(file)
    }

    fn cache_error(&self, file: &str, source: std::io::Error) -> DownloadError {
        let (at, path) = (self.at(file), self.cache.path().clone());
        DownloadError::Cache { at, path, source }
    }

    /// Maps the crate's error for `file`; `part` is the partial file and the file's size while
    /// the body was being fetched (a dropped connection then leaves it to resume from).
    fn api_error(&self, file: &str, err: ApiError, part: Option<(&Path, u64)>) -> DownloadError {
        let at = self.at(file);
        let network = |at, reason: String| DownloadError::Network { at, reason };
        let io = match err {
            ApiError::RequestError(e) => match *e {
                Status(status @ (401 | 403)) => return DownloadError::Gated { at, status },
                Status(404) => return DownloadError::MissingFile { at },
                Status(status) => return DownloadError::Http { at, status },
                ureq::Error::Io(io) => io,
                other => return network(at, other.to_string()),
            },
            ApiError::IoError(io) => io,
            ApiError::TooManyRetries(inner) => return self.api_error(file, *inner, part),
            ApiError::InvalidResume => {
                // The partial file is longer than the file: it cannot be resumed, only redone.
                if let Some((part, _)) = part {
                    let _ = std::fs::remove_file(part);
                }
                let detail = "the partial download was longer than the file".into();
                return DownloadError::Corrupt { at, detail };
            }
            ApiError::LockAcquisition(lock) => {
                let held = format!("another download holds {}", lock.display());
                return self.cache_error(file, std::io::Error::new(ErrorKind::WouldBlock, held));
            }
            e @ (ApiError::MissingHeader(_)
            | ApiError::InvalidHeader(_)
            | ApiError::ParseIntError(_)) => {
                return network(at, format!("it answered unlike a Hugging Face hub: {e}"))
            }
        };
        // ureq reports a body cut short as UnexpectedEof and hands its other errors out of a
        // body read wrapped in io::Error; other errors while writing the body are the disk's.
        let cut = matches!(
            io.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        );
        match part {
            Some((part, expected)) if cut => {
                tracing::warn!(file, error = %io, "download interrupted");
                let received = std::fs::metadata(part).map_or(0, |m| m.len());
                DownloadError::Interrupted {
                    at,
                    received,
                    expected,
                }
            }
            Some(_) if !io.get_ref().is_some_and(|e| e.is::<ureq::Error>()) => {
                self.cache_error(file, io)
            }
            _ => network(at, io.to_string()),
        }
    }
}

/// Checks the downloaded file against the hub's size and, for a sha256 etag, its hash; the error says how it
/// differs.
fn verify(file: &Path, meta: &Metadata) -> Result<(), String> {
    let len = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if len != meta.size() as u64 {
        return Err(format!(
            "{len} bytes where the hub announced {}",
            meta.size()
        ));
    }
    let etag = meta.etag().trim_start_matches("W/").to_ascii_lowercase();
    if etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit()) {
        let actual = sha256_file(file).map_err(|e| e.to_string())?;
        if actual != etag {
            return Err(format!("sha256 {actual}, the hub says {etag}"));
        }
    }
    Ok(())
}

/// `owner/name` (or a legacy bare `name`) of letters, digits, `-`, `_`, `.`; no `--` or `..`,
/// which the hub refuses and which would break the cache folder name.
fn valid_repo_id(id: &str) -> bool {
    let part_ok = |p: &str| {
        let chars = p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        let odd = p.contains("--") || p.contains("..") || p.starts_with(['-', '.']);
        chars && !p.is_empty() && !odd
    };
    id.split('/').count() <= 2 && id.split('/').all(part_ok)
}

/// A branch, tag or commit that stays inside `refs/` when the crate writes it there.
fn valid_revision(revision: &str) -> bool {
    let chars = revision
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    chars
        && revision
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Repo, revision and endpoint from the options and the environment, checked (`file` empty).
fn target(options: &DownloadOptions) -> Result<RepoFile, DownloadError> {
    let repo = options.repo_id.trim().to_string();
    let revision = options.revision.clone().unwrap_or_else(|| "main".into());
    let endpoint = (options.endpoint.clone()).or_else(|| env_string("HF_ENDPOINT"));
    let endpoint = endpoint.unwrap_or_else(|| DEFAULT_ENDPOINT.into());
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let problem = if !valid_repo_id(&repo) {
        format!("`{repo}` is not a hub repo id: give it as owner/name, as on its hub page")
    } else if !valid_revision(&revision) {
        format!("`{revision}` is not a revision: give a branch, tag or commit hash")
    } else if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        format!("the hub endpoint `{endpoint}` (HF_ENDPOINT) is not an http(s) URL")
    } else {
        let file = String::new();
        return Ok(RepoFile {
            repo,
            revision,
            endpoint,
            file,
        });
    };
    Err(DownloadError::Invalid(problem))
}

fn cache_dir(options: &DownloadOptions) -> Result<PathBuf, DownloadError> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = || env("HOME").or_else(|| env("USERPROFILE"));
    (options.cache_dir.clone())
        .or_else(|| env("HF_HUB_CACHE"))
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("XDG_CACHE_HOME").map(|x| x.join("huggingface/hub")))
        .or_else(|| home().map(|h| h.join(".cache/huggingface/hub")))
        .ok_or_else(|| DownloadError::Invalid("no folder for the hub cache: set HF_HOME".into()))
}

fn env_string(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}
