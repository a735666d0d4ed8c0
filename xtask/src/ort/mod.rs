//! `cargo xtask ort [--gpu] [--target windows]`: provisions ONNX Runtime 1.31.1 for ort's
//! `load-dynamic` feature, for this machine or for the Windows cross build.
//!
//! ort's own `download-binaries` feature fetches from a CDN our builds can't reach, so the shared
//! libraries come from the official PyPI wheels instead (see docs/ARCHITECTURE.md §3): `pip download` fetches
//! the wheel into `<target>/onnxruntime/wheels/` (kept, so a rerun works offline) and the `.so`
//! files under `onnxruntime/capi/` are unpacked into `<target>/onnxruntime/{cpu,gpu}/` (Windows:
//! `windows-{cpu,gpu}/`). The engine (`refrain_engine::runtime`) looks there from any binary
//! built into the target directory.
use crate::workspace;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

mod platform;
pub use platform::{Platform, VERSION};

/// Records what was unpacked, so a rerun can verify instead of unpacking again.
const MANIFEST: &str = "provisioned.json";

/// Which wheel to provision, for which OS.
#[derive(Clone, Copy)]
struct Variant {
    gpu: bool,
    platform: Platform,
}

impl Variant {
    fn dir_name(self) -> String {
        let kind = if self.gpu { "gpu" } else { "cpu" };
        format!("{}{kind}", self.platform.dir_prefix())
    }

    /// The PyPI distribution name.
    fn package(self) -> &'static str {
        if self.gpu {
            "onnxruntime-gpu"
        } else {
            "onnxruntime"
        }
    }

    /// The start of the wheel's file name (wheel names normalise `-` to `_`).
    fn wheel_prefix(self) -> String {
        format!("{}-{VERSION}-", self.package().replace('-', "_"))
    }

    /// Files taken from `onnxruntime/capi/` in the wheel. The providers_shared library is
    /// loaded by ONNX Runtime from its own directory whenever a non-CPU provider is used; the
    /// CUDA provider needs it too. (The GPU wheel's TensorRT provider is left out: it needs a
    /// TensorRT install we don't use.)
    fn files(self) -> Vec<&'static str> {
        let p = self.platform;
        let mut files = vec![p.main_lib(), p.shim()];
        if self.gpu {
            files.push(p.cuda());
        }
        files
    }
}

/// Entry point for `cargo xtask ort [--gpu] [--target linux|windows]`.
pub fn run(args: &[String]) -> Result<()> {
    let usage = "usage: cargo xtask ort [--gpu] [--target linux|windows]";
    let mut gpu = false;
    let mut platform = Platform::Linux;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--gpu" => gpu = true,
            "--target" => {
                let name = args
                    .next()
                    .with_context(|| format!("--target needs a value\n{usage}"))?;
                platform = Platform::parse(name)?;
            }
            "-h" | "--help" => {
                println!("{usage}\n\nProvisions ONNX Runtime {VERSION} into <target>/onnxruntime/{{cpu,gpu,windows-cpu,windows-gpu}}.");
                return Ok(());
            }
            other => bail!("unknown argument `{other}` ({usage})"),
        }
    }
    let dir = ensure_for(platform, gpu)?;
    let lib = dir.join(platform.link_name());
    println!("ONNX Runtime {VERSION} library: {}", lib.display());
    if platform == Platform::Linux {
        println!(
            "to use it from anywhere: export REFRAIN_ORT_DYLIB={}",
            lib.display()
        );
    }
    Ok(())
}

/// Makes sure ONNX Runtime is unpacked and verified under `<target>/onnxruntime/{cpu,gpu}` and
/// returns that directory (it holds `libonnxruntime.so`). Does nothing beyond re-verifying when
/// it is already there, so `cargo xtask test`/`demo` can call it every time.
pub fn ensure(gpu: bool) -> Result<PathBuf> {
    if !cfg!(target_os = "linux") {
        bail!("`cargo xtask ort` runs on Linux only; on this OS point REFRAIN_ORT_DYLIB at an ONNX Runtime {VERSION} library");
    }
    ensure_for(Platform::Linux, gpu)
}

/// [`ensure`] for `platform`'s libraries (the Windows ones are unpacked on Linux for the cross
/// build and Wine).
pub fn ensure_for(platform: Platform, gpu: bool) -> Result<PathBuf> {
    let variant = Variant { gpu, platform };
    let root = workspace::target_dir()?.join("onnxruntime");
    let dir = root.join(variant.dir_name());

    match verify(&dir, variant) {
        Ok(()) => {
            println!(
                "ONNX Runtime {VERSION} ({}) already provisioned in {}",
                variant.dir_name(),
                dir.display()
            );
            return Ok(dir);
        }
        Err(why) if dir.exists() => {
            println!("re-provisioning {}: {why:#}", dir.display());
        }
        Err(_) => {}
    }

    let wheels = root.join("wheels");
    let wheel = match cached_wheel(&wheels, variant)? {
        Some(w) => w,
        None => download_wheel(&wheels, variant)?,
    };
    // A truncated or corrupt cached wheel (interrupted copy, disk trouble) is replaced once
    // rather than leaving the user to find and delete it by hand.
    if let Err(e) = unpack(&wheel, &dir, variant) {
        println!(
            "could not unpack {}: {e:#}; downloading it again",
            wheel.display()
        );
        fs::remove_file(&wheel).with_context(|| format!("removing {}", wheel.display()))?;
        let wheel = download_wheel(&wheels, variant)?;
        unpack(&wheel, &dir, variant)?;
    }
    verify(&dir, variant)
        .with_context(|| format!("verifying freshly unpacked {}", dir.display()))?;
    println!(
        "provisioned ONNX Runtime {VERSION} ({}) in {}",
        variant.dir_name(),
        dir.display()
    );
    Ok(dir)
}

/// The wheel already in `wheels`, if a previous run downloaded it.
fn cached_wheel(wheels: &Path, variant: Variant) -> Result<Option<PathBuf>> {
    if !wheels.is_dir() {
        return Ok(None);
    }
    let prefix = variant.wheel_prefix();
    let tag = variant.platform.pip_tag()?;
    let mut found: Vec<PathBuf> = fs::read_dir(wheels)
        .with_context(|| format!("listing {}", wheels.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(&format!("{tag}.whl")))
        })
        .collect();
    found.sort();
    Ok(found.pop())
}

/// Runs `python3 -m pip download` for the wheel and returns its path.
fn download_wheel(wheels: &Path, variant: Variant) -> Result<PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let pip_ok = Command::new(&python)
        .args(["-m", "pip", "--version"])
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run `{python}` ({e}): install Python 3 with pip (e.g. `apt-get install python3 python3-pip`), or set PYTHON to its path"
            )
        })?;
    if !pip_ok.status.success() {
        bail!(
            "`{python} -m pip` is not available: install pip (e.g. `apt-get install python3-pip` or `{python} -m ensurepip`)\n{}",
            String::from_utf8_lossy(&pip_ok.stderr).trim()
        );
    }
    fs::create_dir_all(wheels).with_context(|| format!("creating {}", wheels.display()))?;
    let spec = format!("{}=={VERSION}", variant.package());
    println!(
        "downloading {spec} wheel into {} (first time only)",
        wheels.display()
    );
    let status = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
        ])
        .args(["--platform", variant.platform.pip_tag()?])
        .arg("-d")
        .arg(wheels)
        .arg(&spec)
        .status()
        .with_context(|| format!("running `{python} -m pip download`"))?;
    if !status.success() {
        bail!(
            "`pip download {spec}` failed ({status}): PyPI (https://pypi.org) must be reachable, \
             or put the {} wheel into {} by hand and rerun",
            variant.wheel_prefix(),
            wheels.display()
        );
    }
    cached_wheel(wheels, variant)?.with_context(|| {
        format!(
            "pip reported success but no {}*.whl is in {}",
            variant.wheel_prefix(),
            wheels.display()
        )
    })
}

/// Unpacks the variant's libraries from `wheel` into `dir` (through a temporary sibling directory
/// renamed at the end, so an interrupted run never leaves a half-filled `dir` looking complete).
fn unpack(wheel: &Path, dir: &Path, variant: Variant) -> Result<()> {
    let file = fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("reading {} as a zip archive", wheel.display()))?;
    let tmp = dir.with_extension("partial");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;

    let mut manifest = serde_json::Map::new();
    let platform = variant.platform;
    for name in variant.files() {
        let inner = format!("onnxruntime/capi/{name}");
        let mut entry = archive
            .by_name(&inner)
            .with_context(|| format!("{} has no {inner}", wheel.display()))?;
        let dest = tmp.join(name);
        let mut out =
            fs::File::create(&dest).with_context(|| format!("creating {}", dest.display()))?;
        std::io::copy(&mut entry, &mut out)
            .with_context(|| format!("extracting {inner} to {}", dest.display()))?;
        drop(out);
        let (size, sha) = check_library(&dest, platform)?;
        manifest.insert(
            name.to_string(),
            serde_json::json!({ "size": size, "sha256": sha }),
        );
    }
    // Symlink rather than copy: no second 29 MB file, and libonnxruntime resolves its providers
    // relative to the path it was opened by, which is this same directory either way.
    if platform.link_name() != platform.main_lib() {
        std::os::unix::fs::symlink(platform.main_lib(), tmp.join(platform.link_name()))
            .with_context(|| format!("linking {} in {}", platform.link_name(), tmp.display()))?;
    }

    let wheel_name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let record = serde_json::json!({
        "version": VERSION,
        "variant": variant.dir_name(),
        "wheel": wheel_name,
        "files": manifest,
    });
    let text =
        serde_json::to_string_pretty(&record).context("serialising the provisioning record")?;
    fs::write(tmp.join(MANIFEST), text + "\n").with_context(|| format!("writing {MANIFEST}"))?;

    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing the old {}", dir.display()))?;
    }
    fs::rename(&tmp, dir)
        .with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(())
}

/// Checks `dir` against its `provisioned.json`: every file present, a library of the platform
/// with the recorded size and sha256, and the link name resolving to the main library.
fn verify(dir: &Path, variant: Variant) -> Result<()> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let record: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if record["version"] != VERSION {
        bail!(
            "{} records version {} instead of {VERSION}",
            path.display(),
            record["version"]
        );
    }
    let platform = variant.platform;
    for name in variant.files() {
        let want = &record["files"][name];
        let (size, sha) = check_library(&dir.join(name), platform)?;
        if want["size"] != size || want["sha256"] != sha.as_str() {
            bail!(
                "{name} in {} does not match {MANIFEST} (changed since it was unpacked)",
                dir.display()
            );
        }
    }
    let link = dir.join(platform.link_name());
    let (_, sha) = check_library(&link, platform)?;
    if record["files"][platform.main_lib()]["sha256"] != sha.as_str() {
        bail!(
            "{} is not the same file as {}",
            link.display(),
            platform.main_lib()
        );
    }
    Ok(())
}

/// Returns size and hex sha256 of `path` after checking it is a non-empty library of `platform`.
fn check_library(path: &Path, platform: Platform) -> Result<(u64, String)> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    let mut magic = Vec::with_capacity(4);
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        let want = platform.magic().len();
        if magic.len() < want {
            let take = (want - magic.len()).min(n);
            magic.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    if size == 0 {
        bail!("{} is empty", path.display());
    }
    if magic != platform.magic() {
        bail!("{} is not a {platform:?} shared library", path.display());
    }
    let digest = hasher.finalize();
    let hex = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((size, hex))
}
