//! A minimal VST3 host (the `vst3` crate's bindings, the ones nice-plug's wrapper is built on)
//! for end-to-end plugin tests, the counterpart of [`crate::clap_host`]: load a `.vst3` bundle's
//! binary, create its audio module, set up stereo in/out at 48 kHz, process a stereo sine block
//! by block on an audio thread with a playing 4/4 transport at [`TEMPO`] in each block's
//! `ProcessContext`, while the main thread waits (and, on Windows, pumps the window messages
//! nice-plug's main-thread tasks arrive by), until a condition holds or time runs out.
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, BusDirections_, IAudioProcessor, IAudioProcessorTrait,
    IComponent, IComponentTrait, MediaTypes_, ProcessContext,
    ProcessContext_::StatesAndFlags_ as States, ProcessData, ProcessModes_, ProcessSetup,
    SpeakerArr, SymbolicSampleSizes_,
};
use vst3::Steinberg::{
    kResultOk, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait, PClassInfo, TUID,
};
use vst3::{ComPtr, ComRef, Interface};

use crate::host_audio::{drive, Counters, Player, RunReport, BLOCK, SAMPLE_RATE, TEMPO};

/// The class category of a VST3 audio processor (`kVstAudioEffectClass`).
const AUDIO_MODULE_CLASS: &str = "Audio Module Class";

/// The plugin binary inside a `.vst3` bundle for this platform (VST3 bundle format:
/// `Contents/x86_64-linux/<name>.so`, `Contents/x86_64-win/<name>.vst3`).
pub fn bundle_binary(bundle: &Path) -> Result<PathBuf> {
    let stem = bundle
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| anyhow!("{} is not a .vst3 bundle", bundle.display()))?;
    let binary = if cfg!(windows) {
        bundle.join(format!("Contents/x86_64-win/{stem}.vst3"))
    } else {
        bundle.join(format!("Contents/x86_64-linux/{stem}.so"))
    };
    if !binary.is_file() {
        bail!(
            "{} has no plugin binary at {}",
            bundle.display(),
            binary.display()
        );
    }
    Ok(binary)
}

/// A raw interface pointer handed to the audio thread (the VST3 API lets the host call
/// `IAudioProcessor` from its audio thread; the main thread does not touch it meanwhile).
struct AudioSide(*mut IAudioProcessor);
// SAFETY: see the type's comment; the pointer outlives the scoped audio thread.
unsafe impl Send for AudioSide {}

/// Loads the `.vst3` `bundle`, processes audio (the sine of [`crate::host_audio`], in real
/// time) until `done()` or `timeout`. `done` runs on the main thread every 100 ms.
pub fn run(bundle: &Path, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<RunReport> {
    let binary = bundle_binary(bundle)?;
    // SAFETY: loading a plugin runs its initialisers; the path is our own build.
    let library = unsafe { libloading::Library::new(&binary) }
        .with_context(|| format!("loading {}", binary.display()))?;
    module_entry(&library)?;
    let report = {
        let factory = factory(&library)?;
        let component = create_audio_module(&factory)?;
        // SAFETY: plain COM calls on live objects, in the order the VST3 workflow prescribes.
        unsafe { with_component(&component, timeout, &mut done) }?
    };
    module_exit(&library);
    Ok(report)
}

/// Sets `component` up, processes until done or timeout, and takes it down again.
unsafe fn with_component(
    component: &ComPtr<IComponent>,
    timeout: Duration,
    done: &mut dyn FnMut() -> bool,
) -> Result<RunReport> {
    check(component.initialize(std::ptr::null_mut()), "initialize")?;
    let processor: ComPtr<IAudioProcessor> = component
        .cast()
        .ok_or_else(|| anyhow!("the audio module has no IAudioProcessor"))?;
    let (mut ins, mut outs) = (SpeakerArr::kStereo, SpeakerArr::kStereo);
    check(
        processor.setBusArrangements(&mut ins, 1, &mut outs, 1),
        "setBusArrangements(stereo, stereo)",
    )?;
    let audio = MediaTypes_::kAudio as i32;
    for direction in [BusDirections_::kInput, BusDirections_::kOutput] {
        check(
            component.activateBus(audio, direction as i32, 0, 1),
            "activateBus",
        )?;
    }
    let mut setup = ProcessSetup {
        processMode: ProcessModes_::kRealtime as i32,
        symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
        maxSamplesPerBlock: BLOCK as i32,
        sampleRate: SAMPLE_RATE,
    };
    check(processor.setupProcessing(&mut setup), "setupProcessing")?;
    check(component.setActive(1), "setActive(true)")?;

    let counters = Counters::default();
    let side = AudioSide(processor.as_ptr());
    let ((), finished) = drive(
        timeout,
        |stop| audio_thread(side, stop, &counters),
        pump_messages,
        done,
    )?;
    check(component.setActive(0), "setActive(false)")?;
    check(component.terminate(), "terminate")?;
    Ok(counters.report(finished))
}

/// Processes blocks paced at real time until `stop`, between `setProcessing(true/false)`.
fn audio_thread(side: AudioSide, stop: &AtomicBool, counters: &Counters) -> Result<()> {
    // SAFETY: the pointer is live for the whole scope (see `AudioSide`).
    let processor = unsafe { ComRef::from_raw(side.0) }
        .ok_or_else(|| anyhow!("no IAudioProcessor for the audio thread"))?;
    let mut input = [[0.0f32; BLOCK]; 2];
    let mut output = [[0.0f32; BLOCK]; 2];
    let mut player = Player::default();
    // SAFETY: `processor` is live for the whole scope; every pointer in `data` points at
    // locals of this frame that outlive the call.
    unsafe {
        check(processor.setProcessing(1), "setProcessing(true)")?;
        while !stop.load(Ordering::Acquire) {
            player.next_block(&mut input);
            let expected = input;
            let mut in_channels = input.each_mut().map(|c| c.as_mut_ptr());
            let mut out_channels = output.each_mut().map(|c| c.as_mut_ptr());
            let mut in_bus = bus(&mut in_channels);
            let mut out_bus = bus(&mut out_channels);
            let mut context = transport_at(player.frame);
            let mut data = ProcessData {
                processMode: ProcessModes_::kRealtime as i32,
                symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
                numSamples: BLOCK as i32,
                numInputs: 1,
                numOutputs: 1,
                inputs: &mut in_bus,
                outputs: &mut out_bus,
                inputParameterChanges: std::ptr::null_mut(),
                outputParameterChanges: std::ptr::null_mut(),
                inputEvents: std::ptr::null_mut(),
                outputEvents: std::ptr::null_mut(),
                processContext: &mut context,
            };
            check(processor.process(&mut data), "process")?;
            counters.count(&expected, &output);
            player.advance();
        }
        check(processor.setProcessing(0), "setProcessing(false)")
    }
}

/// A stereo bus over two channel pointers.
fn bus(channels: &mut [*mut f32; 2]) -> AudioBusBuffers {
    AudioBusBuffers {
        numChannels: 2,
        silenceFlags: 0,
        __field0: AudioBusBuffers__type0 {
            channelBuffers32: channels.as_mut_ptr(),
        },
    }
}

/// The `ProcessContext` at frame `frame` of a song playing at [`TEMPO`] in 4/4 from frame 0.
fn transport_at(frame: u64) -> ProcessContext {
    let beats = frame as f64 / SAMPLE_RATE * TEMPO / 60.0;
    // SAFETY: ProcessContext is plain data; all-zero is a valid (empty) context.
    let mut context: ProcessContext = unsafe { std::mem::zeroed() };
    // The flags' integer type differs between platforms' bindings (u32 on Linux, i32 on Windows).
    #[allow(clippy::unnecessary_cast)]
    let state = (States::kPlaying
        | States::kTempoValid
        | States::kTimeSigValid
        | States::kProjectTimeMusicValid
        | States::kBarPositionValid) as u32;
    context.state = state;
    context.sampleRate = SAMPLE_RATE;
    context.projectTimeSamples = frame as i64;
    context.continousTimeSamples = frame as i64;
    context.projectTimeMusic = beats;
    context.barPositionMusic = (beats / 4.0).floor() * 4.0;
    context.tempo = TEMPO;
    context.timeSigNumerator = 4;
    context.timeSigDenominator = 4;
    context
}

/// The library's factory (`GetPluginFactory`).
fn factory(library: &libloading::Library) -> Result<ComPtr<IPluginFactory>> {
    type GetFactory = unsafe extern "system" fn() -> *mut c_void;
    // SAFETY: the symbol has this signature in every VST3 module.
    let raw = unsafe {
        let get = library
            .get::<GetFactory>(b"GetPluginFactory\0")
            .context("the module exports no GetPluginFactory")?;
        get()
    };
    // SAFETY: GetPluginFactory returns an owned reference to an IPluginFactory (or null).
    unsafe { ComPtr::from_raw(raw as *mut IPluginFactory) }
        .ok_or_else(|| anyhow!("GetPluginFactory returned null"))
}

/// Creates the factory's first class of the audio module category as an `IComponent`.
fn create_audio_module(factory: &ComPtr<IPluginFactory>) -> Result<ComPtr<IComponent>> {
    // SAFETY: COM calls on a live factory; `info` is written by the callee.
    unsafe {
        for index in 0..factory.countClasses() {
            let mut info: PClassInfo = std::mem::zeroed();
            check(factory.getClassInfo(index, &mut info), "getClassInfo")?;
            let category = CStr::from_ptr(info.category.as_ptr()).to_string_lossy();
            if category != AUDIO_MODULE_CLASS {
                continue;
            }
            let mut object = std::ptr::null_mut();
            let iid = IComponent::IID.as_ptr() as *const c_char;
            let cid: *const TUID = &info.cid;
            check(
                factory.createInstance(cid as *const c_char, iid, &mut object),
                "createInstance(IComponent)",
            )?;
            return ComPtr::from_raw(object as *mut IComponent)
                .ok_or_else(|| anyhow!("createInstance returned null"));
        }
    }
    bail!("the module has no {AUDIO_MODULE_CLASS}")
}

/// The platform's module entry (`InitDll` on Windows, `ModuleEntry` on Linux), if exported.
fn module_entry(library: &libloading::Library) -> Result<()> {
    // SAFETY: both entry points have these signatures in the VST3 module format.
    let ok = unsafe {
        if cfg!(windows) {
            match library.get::<unsafe extern "system" fn() -> bool>(b"InitDll\0") {
                Ok(init) => init(),
                Err(_) => true,
            }
        } else {
            match library.get::<unsafe extern "C" fn(*mut c_void) -> bool>(b"ModuleEntry\0") {
                Ok(entry) => entry(std::ptr::null_mut()),
                Err(_) => true,
            }
        }
    };
    if !ok {
        bail!("the module's entry point refused to initialise");
    }
    Ok(())
}

/// The platform's module exit (`ExitDll` / `ModuleExit`), if exported.
fn module_exit(library: &libloading::Library) {
    let name: &[u8] = if cfg!(windows) {
        b"ExitDll\0"
    } else {
        b"ModuleExit\0"
    };
    // SAFETY: both exit points take nothing and return bool.
    unsafe {
        if let Ok(exit) = library.get::<unsafe extern "system" fn() -> bool>(name) {
            exit();
        }
    }
}

fn check(result: i32, call: &str) -> Result<()> {
    if result != kResultOk {
        bail!("{call} returned {result}");
    }
    Ok(())
}

/// Runs the window messages queued for this thread: nice-plug's Windows event loop delivers
/// main-thread tasks to a hidden window, as a DAW's message loop would.
#[cfg(windows)]
fn pump_messages() {
    #[repr(C)]
    struct Msg {
        hwnd: *mut c_void,
        message: u32,
        wparam: usize,
        lparam: isize,
        time: u32,
        pt: [i32; 2],
        private: u32,
    }
    #[link(name = "user32")]
    extern "system" {
        fn PeekMessageW(msg: *mut Msg, hwnd: *mut c_void, min: u32, max: u32, remove: u32) -> i32;
        fn TranslateMessage(msg: *const Msg) -> i32;
        fn DispatchMessageW(msg: *const Msg) -> isize;
    }
    const PM_REMOVE: u32 = 1;
    // SAFETY: MSG is plain data; the calls fill and read it on this thread.
    unsafe {
        let mut msg: Msg = std::mem::zeroed();
        while PeekMessageW(&mut msg, std::ptr::null_mut(), 0, 0, PM_REMOVE) != 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

#[cfg(not(windows))]
fn pump_messages() {}
