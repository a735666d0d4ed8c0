//! The operating systems ONNX Runtime is provisioned for: which wheel, which files, which
//! binary format (`cargo xtask ort` for this machine, `--target windows` for the cross build).
use anyhow::{bail, Result};

/// The ONNX Runtime release the engine is built against (ort 2.0.0-rc.15 with `api-31`).
pub const VERSION: &str = "1.31.1";

/// Which operating system's libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// This machine (Linux x86_64 or aarch64): `.so` files from the manylinux wheel.
    Linux,
    /// Windows x86_64 (the `x86_64-pc-windows-gnu` cross build): `.dll` files from the
    /// win_amd64 wheel.
    Windows,
}

impl Platform {
    /// From `--target`'s value.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "linux" => Ok(Self::Linux),
            "windows" => Ok(Self::Windows),
            other => bail!("unknown --target `{other}` (linux or windows)"),
        }
    }

    /// The folder name prefix under `<target>/onnxruntime/` (`cpu`, `gpu`, `windows-cpu`).
    pub fn dir_prefix(self) -> &'static str {
        match self {
            Self::Linux => "",
            Self::Windows => "windows-",
        }
    }

    /// The library as the wheel names it.
    pub fn main_lib(self) -> &'static str {
        match self {
            Self::Linux => "libonnxruntime.so.1.31.1",
            Self::Windows => "onnxruntime.dll",
        }
    }

    /// The folder under a VST3 bundle's `Contents/` holding this platform's binary.
    pub fn vst3_arch(self) -> &'static str {
        match self {
            Self::Linux => "x86_64-linux",
            Self::Windows => "x86_64-win",
        }
    }

    /// The name ort and the engine open (`engine::runtime::LIBRARY_FILE` on that OS); on Linux
    /// a symlink to [`Self::main_lib`].
    pub fn link_name(self) -> &'static str {
        match self {
            Self::Linux => "libonnxruntime.so",
            Self::Windows => "onnxruntime.dll",
        }
    }

    /// The provider shim ONNX Runtime loads from its own folder for any non-CPU provider.
    pub fn shim(self) -> &'static str {
        match self {
            Self::Linux => "libonnxruntime_providers_shared.so",
            Self::Windows => "onnxruntime_providers_shared.dll",
        }
    }

    /// The CUDA provider (GPU wheel only).
    pub fn cuda(self) -> &'static str {
        match self {
            Self::Linux => "libonnxruntime_providers_cuda.so",
            Self::Windows => "onnxruntime_providers_cuda.dll",
        }
    }

    /// The pip platform tag; pinned (with the Python version) so every host downloads the same
    /// wheel whatever its own Python is.
    pub fn pip_tag(self) -> Result<&'static str> {
        match (self, std::env::consts::ARCH) {
            (Self::Windows, _) => Ok("win_amd64"),
            (Self::Linux, "x86_64") => Ok("manylinux_2_28_x86_64"),
            (Self::Linux, "aarch64") => Ok("manylinux_2_28_aarch64"),
            (Self::Linux, other) => bail!("no ONNX Runtime wheel for architecture `{other}`; set REFRAIN_ORT_DYLIB to a library you built"),
        }
    }

    /// The first bytes of a library of this platform (ELF, or a PE file's `MZ`).
    pub fn magic(self) -> &'static [u8] {
        match self {
            Self::Linux => b"\x7fELF",
            Self::Windows => b"MZ",
        }
    }
}
