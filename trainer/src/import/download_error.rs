//! Why a hub download failed, in sentences a producer can act on: each names the repo and,
//! where one is at fault, the file.
use std::path::PathBuf;
use thiserror::Error;

/// A file of a repo on a hub, as error messages name it; shown as "<file> of <repo>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// Repo id, `owner/name`.
    pub repo: String,
    /// The branch, tag or commit asked for.
    pub revision: String,
    /// Hub base URL.
    pub endpoint: String,
    /// Path inside the repo.
    pub file: String,
}

impl RepoFile {
    pub(super) fn with_file(&self, file: &str) -> Box<Self> {
        let file = file.to_string();
        Box::new(Self {
            file,
            ..self.clone()
        })
    }
}

impl std::fmt::Display for RepoFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.file, self.repo)
    }
}

/// Why a repo could not be downloaded; each message names the repo and, where one is at fault,
/// the file, and what the producer can do.
#[derive(Debug, Error)]
pub enum DownloadError {
    /// The repo id, revision, endpoint or cache folder cannot be used; says which and why.
    #[error("{0}")]
    Invalid(String),
    /// 401 or 403.
    #[error(
        "{} is gated or private (the hub answered {status} for {}): accept its terms on the hub \
         and set HF_TOKEN to a token that may read it (the hub answers the same for a repo id \
         that does not exist)", .at.repo, .at.file
    )]
    Gated { at: Box<RepoFile>, status: u16 },
    /// 404 on model_index.json.
    #[error(
        "no such repo or revision on the hub: {} at {} ({} has no {} there)",
        .at.repo, .at.revision, .at.endpoint, .at.file
    )]
    NoSuchRepo { at: Box<RepoFile> },
    /// 404 on a file the pipeline needs.
    #[error("{} at {} has no {}, which an audio-diffusion pipeline needs", .at.repo, .at.revision, .at.file)]
    MissingFile { at: Box<RepoFile> },
    /// model_index.json does not describe a pipeline this importer reads.
    #[error("{repo} is not a diffusers audio-diffusion pipeline: its model_index.json {reason}")]
    NotAPipeline { repo: String, reason: String },
    /// Another HTTP error status.
    #[error("the hub answered HTTP {status} for {at}; try again later")]
    Http { at: Box<RepoFile>, status: u16 },
    /// The endpoint could not be reached, or answered unlike a hub.
    #[error("could not get {at} from the hub at {} ({reason}): check the network and HF_ENDPOINT", .at.endpoint)]
    Network { at: Box<RepoFile>, reason: String },
    /// The connection dropped mid-file; the partial file is kept for the next run.
    #[error("the download of {at} stopped after {received} of {expected} bytes: run the import again to resume it")]
    Interrupted {
        at: Box<RepoFile>,
        received: u64,
        expected: u64,
    },
    /// The file arrived with the wrong size or hash and was removed from the cache.
    #[error("{at} arrived corrupt ({detail}); the bad copy was removed from the cache: run the import again")]
    Corrupt { at: Box<RepoFile>, detail: String },
    /// Files came from different commits: the revision moved while downloading.
    #[error("{} changed on the hub during the download ({} is at commit {now}, earlier files at {first}): run the import again", .at.repo, .at.file)]
    RepoChanged {
        at: Box<RepoFile>,
        first: String,
        now: String,
    },
    /// Reading or writing the cache failed, or another download holds the file's lock.
    #[error("could not store {at} in the hub cache {}: {source}", .path.display())]
    Cache {
        at: Box<RepoFile>,
        path: PathBuf,
        source: std::io::Error,
    },
}
