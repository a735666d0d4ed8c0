//! `refrain-plugin-host <Refrain.clap | Refrain.vst3> <data dir> <timeout s>`: hosts Refrain —
//! the CLAP (id `org.refrain.refrain`) or the VST3 bundle, by the path's extension — at 48 kHz
//! until its test hook reports a stored rating by writing
//! `<data dir>/test-hook.done` (the host never opens the store itself: a second SQLite copy in
//! the same process would break SQLite's POSIX locks).
//!
//! A separate process because the plugin's debug build aborts the whole process when
//! `process()` allocates (nice-plug's `assert_process_allocs`): the test reads the exit status.
//! Prints one `report ...` line, with `ort=` the ONNX Runtime library the plugin loaded (from
//! this process's memory map, so the test can check it came from the bundle); exits 0 when a
//! rating was stored, 1 on timeout or error.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use refrain_tests::{clap_host, vst3_host};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [plugin, data_dir, timeout] = args.as_slice() else {
        bail!("usage: refrain-plugin-host <Refrain.clap | Refrain.vst3> <data dir> <timeout s>");
    };
    let plugin = Path::new(plugin);
    let vst3 = plugin
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vst3"));
    let data_dir = PathBuf::from(data_dir);
    let timeout = Duration::from_secs(timeout.parse().context("timeout in seconds")?);
    let done_file = data_dir.join("test-hook.done");
    let mut ort = None;
    let done = || {
        let done = done_file.is_file();
        if done {
            // Read while the plugin is surely still loaded.
            ort = loaded_onnxruntime();
        }
        done
    };
    let report = if vst3 {
        vst3_host::run(plugin, timeout, done)?
    } else {
        clap_host::run(plugin, "org.refrain.refrain", timeout, done)?
    };
    println!(
        "report format={} blocks={} untouched={} mixed={} finished={} ort={}",
        if vst3 { "vst3" } else { "clap" },
        report.blocks,
        report.untouched_blocks,
        report.mixed_blocks,
        report.finished,
        ort.as_deref().unwrap_or("none")
    );
    if !report.finished {
        bail!("no rating was stored within {} s", timeout.as_secs());
    }
    Ok(())
}

/// The path of the loaded `onnxruntime.dll`: `GetModuleHandleW` by name, then its file name
/// (kernel32, declared by hand as the engine's runtime finder does).
#[cfg(windows)]
fn loaded_onnxruntime() -> Option<String> {
    type Hmodule = *mut std::ffi::c_void;
    extern "system" {
        fn GetModuleHandleW(name: *const u16) -> Hmodule;
        fn GetModuleFileNameW(module: Hmodule, name: *mut u16, size: u32) -> u32;
    }
    let name: Vec<u16> = "onnxruntime.dll".encode_utf16().chain([0]).collect();
    // SAFETY: `name` is NUL-terminated UTF-16; the handle is not reference-counted.
    let module = unsafe { GetModuleHandleW(name.as_ptr()) };
    if module.is_null() {
        return None;
    }
    let mut buf = vec![0u16; 32_768];
    // SAFETY: `buf` is writable for its whole length, which is what is passed.
    let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
    (len > 0 && len < buf.len()).then(|| String::from_utf16_lossy(&buf[..len]))
}

/// The path of the mapped `libonnxruntime.so*`, from `/proc/self/maps` (Linux).
#[cfg(not(windows))]
fn loaded_onnxruntime() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        // The path is the rest of the line from its first '/' (it may contain spaces).
        .filter_map(|line| line.find('/').map(|i| &line[i..]))
        .find(|path| {
            path.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with("libonnxruntime.so"))
        })
        .map(str::to_string)
}
