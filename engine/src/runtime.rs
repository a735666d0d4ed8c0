//! Finding and loading ONNX Runtime, once per process.
//!
//! ort is built with `load-dynamic` (docs/ARCHITECTURE.md §3): the library is opened at run time from a path
//! we choose, so the plugin can carry its own copy (no clash with another plugin's ONNX Runtime
//! in the same DAW) and one binary can use the CPU or the GPU build. Left to itself, ort would
//! panic at first use when no library is found; [`init`] loads it explicitly from the path
//! [`find_library`] picks and turns every failure, panics included, into a [`RuntimeError`].
//!
//! ort allows only one environment per process, so every session must be created from
//! [`RuntimeInfo::environment`] (or through [`session_from_file`]).
use ort::environment::Environment;
use ort::session::Session;
use std::ffi::{c_char, c_int, CStr, OsStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Environment variable naming the ONNX Runtime library file, or a directory containing it.
pub const ENV_VAR: &str = "REFRAIN_ORT_DYLIB";

/// The library's unversioned file name on this OS (what `cargo xtask ort` creates).
#[cfg(target_os = "windows")]
pub const LIBRARY_FILE: &str = "onnxruntime.dll";
/// The library's unversioned file name on this OS (what `cargo xtask ort` creates).
#[cfg(target_os = "macos")]
pub const LIBRARY_FILE: &str = "libonnxruntime.dylib";
/// The library's unversioned file name on this OS (what `cargo xtask ort` creates).
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
pub const LIBRARY_FILE: &str = "libonnxruntime.so";

/// What went wrong finding or using ONNX Runtime. Messages name the file involved and what to do.
///
/// `Clone` because [`init`] caches its result and must report the same failure to every caller;
/// ort's own errors are therefore kept as their message text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// `REFRAIN_ORT_DYLIB` is set but does not lead to a library.
    #[error("{ENV_VAR} is set to `{}`, but no ONNX Runtime library is there (it must name the library file or a directory containing {LIBRARY_FILE}); fix or unset it, or run `cargo xtask ort`", .path.display())]
    EnvPathMissing {
        /// The value of the variable.
        path: PathBuf,
    },
    /// No library in any of the standard places.
    #[error("ONNX Runtime library ({LIBRARY_FILE}) not found; looked in:{}\nrun `cargo xtask ort` (or `cargo xtask ort --gpu`) to provision it, or set {ENV_VAR} to the library file or its directory", bullet_list(.searched))]
    NotFound {
        /// Every candidate path that was checked, in search order.
        searched: Vec<PathBuf>,
    },
    /// The library was found but could not be loaded or initialised.
    #[error("could not load ONNX Runtime from `{}`: {message}", .path.display())]
    Load {
        /// The library file.
        path: PathBuf,
        /// ort's or the loader's explanation.
        message: String,
    },
    /// A model file that does not exist.
    #[error("ONNX model `{}` does not exist", .path.display())]
    ModelMissing {
        /// The model file.
        path: PathBuf,
    },
    /// A model file ONNX Runtime refused (corrupt, truncated, unsupported operators…).
    #[error("could not load ONNX model `{}`: {message}", .path.display())]
    ModelInvalid {
        /// The model file.
        path: PathBuf,
        /// ONNX Runtime's explanation.
        message: String,
    },
    /// Session options ONNX Runtime rejected (before any model was read).
    #[error("could not configure an ONNX Runtime session: {message}")]
    Session {
        /// ONNX Runtime's explanation.
        message: String,
    },
}

fn bullet_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("\n  - {}", p.display()))
        .collect()
}

/// The loaded ONNX Runtime, as reported by the library itself.
pub struct RuntimeInfo {
    /// The library file that was loaded.
    pub library: PathBuf,
    /// Its version, e.g. `1.31.1` (from its build info, or `unknown`).
    pub version: String,
    /// Execution providers the library reports as available (ORT's `GetAvailableProviders`), e.g.
    /// `CPUExecutionProvider`, `CUDAExecutionProvider`. This means *compiled in*: registering CUDA
    /// can still fail at session creation when the CUDA/cuDNN libraries are missing.
    pub providers: Vec<String>,
    /// Kept alive here because ort allows a single environment per process.
    environment: Environment,
}

impl RuntimeInfo {
    /// The process-wide ort environment; pass it to `Session::builder` for custom sessions.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }
}

impl std::fmt::Debug for RuntimeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeInfo")
            .field("library", &self.library)
            .field("version", &self.version)
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

/// Finds the ONNX Runtime library, reading `REFRAIN_ORT_DYLIB` from the environment.
/// See [`find_library_with`] for the search order.
pub fn find_library() -> Result<PathBuf, RuntimeError> {
    find_library_with(std::env::var_os(ENV_VAR).as_deref())
}

/// Finds the ONNX Runtime library, with `env` standing for the value of `REFRAIN_ORT_DYLIB`
/// (a parameter so tests can try values without touching the process environment).
///
/// Order: `env` (a file, or a directory holding [`LIBRARY_FILE`]; when set it must be right, so
/// a typo is reported instead of silently loading another copy); the running executable's
/// directory; the directory of the shared library containing this code (the plugin); then
/// `<ancestor>/onnxruntime/cpu/` and after that `<ancestor>/onnxruntime/gpu/` for each ancestor
/// of the executable's directory, which finds `target/onnxruntime/cpu` from `target/debug/deps`
/// (on Windows `windows-cpu/` and `windows-gpu/`).
pub fn find_library_with(env: Option<&OsStr>) -> Result<PathBuf, RuntimeError> {
    if let Some(value) = env.filter(|v| !v.is_empty()) {
        let given = absolute(Path::new(value));
        let file = if given.is_dir() {
            given.join(LIBRARY_FILE)
        } else {
            given.clone()
        };
        if file.is_file() {
            tracing::debug!(path = %file.display(), "ONNX Runtime from {ENV_VAR}");
            return Ok(file);
        }
        return Err(RuntimeError::EnvPathMissing { path: given });
    }

    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let mut searched: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if !searched.contains(&p) {
            searched.push(p);
        }
    };
    if let Some(dir) = &exe_dir {
        push(dir.join(LIBRARY_FILE));
    }
    if let Some(dir) = module_dir() {
        push(dir.join(LIBRARY_FILE));
    }
    // `cargo xtask ort` unpacks each OS's libraries into its own folders.
    let variants = if cfg!(windows) {
        ["windows-cpu", "windows-gpu"]
    } else {
        ["cpu", "gpu"]
    };
    for variant in variants {
        for ancestor in exe_dir.iter().flat_map(|d| d.ancestors()) {
            push(
                ancestor
                    .join("onnxruntime")
                    .join(variant)
                    .join(LIBRARY_FILE),
            );
        }
    }
    for candidate in &searched {
        if candidate.is_file() {
            tracing::debug!(path = %candidate.display(), "found ONNX Runtime");
            return Ok(candidate.clone());
        }
    }
    Err(RuntimeError::NotFound { searched })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The directory of the shared object (or executable) this code was linked into, via `dladdr`.
/// Declared by hand rather than through the `libc` crate to avoid a dependency; the signature
/// and `Dl_info` layout are the same on glibc, musl and macOS.
#[cfg(unix)]
pub(crate) fn module_dir() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;

    #[repr(C)]
    struct DlInfo {
        dli_fname: *const c_char,
        dli_fbase: *mut std::ffi::c_void,
        dli_sname: *const c_char,
        dli_saddr: *mut std::ffi::c_void,
    }
    extern "C" {
        fn dladdr(addr: *const std::ffi::c_void, info: *mut DlInfo) -> c_int;
    }

    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let here = module_dir as fn() -> Option<PathBuf> as *const std::ffi::c_void;
    // SAFETY: `here` is an address inside this object and `info` is a valid, writable Dl_info.
    let found = unsafe { dladdr(here, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr returned success, so dli_fname is a NUL-terminated string owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = Path::new(OsStr::from_bytes(name.to_bytes()));
    // For the main executable glibc may report a bare or relative argv[0]; that case is already
    // covered by the executable's directory, so only trust absolute paths.
    if !path.is_absolute() {
        return None;
    }
    path.parent().map(Path::to_path_buf)
}

/// The directory of the DLL (or executable) this code was linked into: `GetModuleHandleExW`
/// from an address inside it, then `GetModuleFileNameW`. Declared by hand (kernel32 is always
/// linked) rather than through `windows-sys`, as the Unix side avoids `libc`.
#[cfg(windows)]
pub(crate) fn module_dir() -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    type Hmodule = *mut std::ffi::c_void;
    const FROM_ADDRESS: u32 = 0x4;
    const UNCHANGED_REFCOUNT: u32 = 0x2;
    extern "system" {
        fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut Hmodule) -> i32;
        fn GetModuleFileNameW(module: Hmodule, name: *mut u16, size: u32) -> u32;
    }
    let here = module_dir as fn() -> Option<PathBuf> as *const u16;
    let mut module: Hmodule = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the "name" is an address inside this module; `module` is a
    // valid out pointer; UNCHANGED_REFCOUNT means nothing needs releasing.
    let found = unsafe { GetModuleHandleExW(FROM_ADDRESS | UNCHANGED_REFCOUNT, here, &mut module) };
    if found == 0 {
        return None;
    }
    let mut buf = vec![0u16; 32_768];
    // SAFETY: `buf` is writable for its whole length, which is what is passed.
    let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
    if len == 0 || len >= buf.len() {
        return None;
    }
    let path = PathBuf::from(std::ffi::OsString::from_wide(&buf[..len]));
    path.parent().map(Path::to_path_buf)
}

#[cfg(not(any(unix, windows)))]
pub(crate) fn module_dir() -> Option<PathBuf> {
    None
}

static RUNTIME: OnceLock<Result<RuntimeInfo, RuntimeError>> = OnceLock::new();

/// Finds and loads ONNX Runtime and creates the process-wide environment, once; later calls
/// return the same info (or the same error: a failed load is not retried, since ort keeps
/// whatever state the first attempt left).
pub fn init() -> Result<&'static RuntimeInfo, RuntimeError> {
    RUNTIME
        .get_or_init(|| find_library().and_then(|path| load(&path)))
        .as_ref()
        .map_err(Clone::clone)
}

fn load(path: &Path) -> Result<RuntimeInfo, RuntimeError> {
    let load_error = |message: String| RuntimeError::Load {
        path: path.to_path_buf(),
        message,
    };
    // ort asserts and `expect`s in a few places while loading (null API pointer, non-UTF-8
    // strings); a broken library must become an error, not abort the host application.
    let attempt = catch_unwind(AssertUnwindSafe(|| -> Result<RuntimeInfo, RuntimeError> {
        let builder = ort::init_from(path).map_err(|e| load_error(load_dynamic_text(&e)))?;
        let environment = builder
            .with_name("refrain")
            .with_telemetry(false)
            .build()
            .map_err(|e| load_error(format!("creating the environment: {e}")))?;
        let providers = available_providers()
            .map_err(|e| load_error(format!("listing execution providers: {e}")))?;
        let version = version_of(ort::info(), path);
        Ok(RuntimeInfo {
            library: path.to_path_buf(),
            version,
            providers,
            environment,
        })
    }));
    let info = attempt.unwrap_or_else(|panic| {
        Err(load_error(format!(
            "ONNX Runtime panicked: {}",
            panic_text(&*panic)
        )))
    })?;
    tracing::info!(
        library = %info.library.display(),
        version = %info.version,
        providers = ?info.providers,
        "ONNX Runtime loaded"
    );
    Ok(info)
}

/// ort's message for a failed dlopen is just "dlopen failed" (libloading keeps the loader's
/// reason, e.g. "invalid ELF header", in `source()`), so spell out the whole chain.
fn load_dynamic_text(error: &ort::LoadDynamicError) -> String {
    match error {
        ort::LoadDynamicError::Dlopen { error, .. } => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
        other => other.to_string(),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// The library's own answer (`OrtGetApiBase()->GetVersionString()`), else ORT's build info
/// (`ORT Build Info: git-branch=rel-1.31.1, …`; the Windows wheel says `git-branch=HEAD`), else
/// the versioned file name a symlink points to (`libonnxruntime.so.1.31.1`).
fn version_of(build_info: &str, library: &Path) -> String {
    if let Some(v) = version_from_api(library) {
        return v;
    }
    let from_info = build_info
        .split(['=', ',', ' '])
        .find_map(|part| part.strip_prefix("rel-"))
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
    if let Some(v) = from_info {
        return v.to_string();
    }
    let real = std::fs::canonicalize(library).unwrap_or_else(|_| library.to_path_buf());
    real.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once(".so."))
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `OrtGetApiBase()->GetVersionString()` of the (already loaded) library; ort does not expose
/// it.
fn version_from_api(library: &Path) -> Option<String> {
    type GetBase = unsafe extern "system" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: `library` is the ONNX Runtime ort has just loaded: opening it again only takes a
    // reference, and `OrtGetApiBase` is its documented entry point with this signature.
    let lib = unsafe { libloading::Library::new(library) }.ok()?;
    // SAFETY: as above; the symbol lives as long as `lib`, which outlives its use here.
    let get: libloading::Symbol<GetBase> = unsafe { lib.get(b"OrtGetApiBase") }.ok()?;
    // SAFETY: the entry point takes no arguments and returns a static table or null.
    let base = unsafe { get() };
    if base.is_null() {
        return None;
    }
    // SAFETY: `base` is ONNX Runtime's static API base; GetVersionString returns a static,
    // NUL-terminated string.
    let text = unsafe { CStr::from_ptr(((*base).GetVersionString)()) };
    text.to_str()
        .ok()
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

/// The execution providers compiled into the loaded library, via the C API directly: ort only
/// exposes a per-provider `is_available()`, and only for providers enabled as cargo features.
fn available_providers() -> Result<Vec<String>, ort::Error> {
    let api = ort::api();
    let mut list: *mut *mut c_char = std::ptr::null_mut();
    let mut count: c_int = 0;
    // SAFETY: both out-pointers are valid; the library was loaded by `ort::init_from`.
    unsafe { ort::Error::result_from_status((api.GetAvailableProviders)(&mut list, &mut count)) }?;
    if list.is_null() {
        return Ok(Vec::new());
    }
    let names = (0..usize::try_from(count).unwrap_or(0))
        .map(|i| {
            // SAFETY: ORT returned `count` valid NUL-terminated strings in `list`.
            unsafe { CStr::from_ptr(*list.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // SAFETY: `list` and `count` are exactly what GetAvailableProviders returned.
    let released =
        unsafe { ort::Error::result_from_status((api.ReleaseAvailableProviders)(list, count)) };
    if let Err(e) = released {
        tracing::warn!("ReleaseAvailableProviders failed: {e}");
    }
    Ok(names)
}

/// Loads an ONNX model into a CPU session with `intra_threads` threads for its operators (0 lets
/// ONNX Runtime choose). Initialises the runtime first, so this is the only call most code needs.
pub fn session_from_file(
    path: impl AsRef<Path>,
    intra_threads: usize,
) -> Result<Session, RuntimeError> {
    let path = path.as_ref();
    let info = init()?;
    if !path.is_file() {
        return Err(RuntimeError::ModelMissing {
            path: path.to_path_buf(),
        });
    }
    let attempt = catch_unwind(AssertUnwindSafe(|| -> Result<Session, RuntimeError> {
        let session_error = |message: String| RuntimeError::Session { message };
        let mut builder = Session::builder(info.environment())
            .map_err(|e| session_error(e.to_string()))?
            .with_intra_threads(intra_threads)
            .map_err(|e| session_error(format!("{intra_threads} intra-op threads: {e}")))?;
        builder
            .commit_from_file(path)
            .map_err(|e| RuntimeError::ModelInvalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }));
    attempt.unwrap_or_else(|panic| {
        Err(RuntimeError::ModelInvalid {
            path: path.to_path_buf(),
            message: format!("ONNX Runtime panicked: {}", panic_text(&*panic)),
        })
    })
}
