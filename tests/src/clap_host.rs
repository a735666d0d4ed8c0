//! A minimal CLAP host (clack-host 0.2) for end-to-end plugin tests: load a `.clap`, activate
//! at 48 kHz, process a stereo sine block by block on an audio thread with a transport playing
//! at [`TEMPO`] in 4/4 (as a DAW does), while the main thread services the plugin's main-thread
//! callbacks, until a condition holds or time runs out.
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, Result};
use clack_host::events::event_types::{TransportEvent, TransportFlags};
use clack_host::events::{EventFlags, EventHeader};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};

use crate::host_audio::{drive, Counters, Player, RunReport, BLOCK, SAMPLE_RATE, TEMPO};

/// The transport at frame `frame` of a song playing at [`TEMPO`] in 4/4 from frame 0.
fn transport_at(frame: u64) -> TransportEvent {
    let seconds = frame as f64 / SAMPLE_RATE;
    let beats = seconds * TEMPO / 60.0;
    let bar = (beats / 4.0).floor();
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags: TransportFlags::HAS_TEMPO
            | TransportFlags::HAS_BEATS_TIMELINE
            | TransportFlags::HAS_SECONDS_TIMELINE
            | TransportFlags::HAS_TIME_SIGNATURE
            | TransportFlags::IS_PLAYING,
        song_pos_beats: BeatTime::from_float(beats),
        song_pos_seconds: SecondsTime::from_float(seconds),
        tempo: TEMPO,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_int(0),
        loop_end_beats: BeatTime::from_int(0),
        loop_start_seconds: SecondsTime::from_int(0),
        loop_end_seconds: SecondsTime::from_int(0),
        bar_start: BeatTime::from_float(bar * 4.0),
        bar_number: bar as i32,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

/// Host callbacks: every request is simply noted; the main loop services callbacks each turn.
pub struct Shared {
    callback: AtomicBool,
}

impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {
        self.callback.store(true, Ordering::Release);
    }
}

/// The host type.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// Loads the plugin with `plugin_id` from `clap_path` and processes audio (a 220 Hz stereo
/// sine at -10 dBFS, in real time) until `done()` or `timeout`. `done` runs on the main
/// thread every 100 ms.
pub fn run(
    clap_path: &Path,
    plugin_id: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<RunReport> {
    // SAFETY: loading a plugin runs its initialisers; the path is our own build.
    let entry = unsafe { PluginEntry::load(clap_path) }
        .map_err(|e| anyhow!("loading {}: {e:?}", clap_path.display()))?;
    let host_info = HostInfo::new("refrain-tests", "refrain", "https://example.invalid", "0.1")
        .map_err(|e| anyhow!("host info: {e:?}"))?;
    let id = CString::new(plugin_id)?;
    let mut instance = PluginInstance::<TestHost>::new(
        |_| Shared {
            callback: AtomicBool::new(false),
        },
        |_| (),
        &entry,
        &id,
        &host_info,
    )
    .map_err(|e| anyhow!("instantiating {plugin_id}: {e:?}"))?;
    let config = PluginAudioConfiguration {
        sample_rate: SAMPLE_RATE,
        min_frames_count: 1,
        max_frames_count: BLOCK as u32,
    };
    let stopped = instance
        .activate(|_, _| (), config)
        .map_err(|e| anyhow!("activate: {e:?}"))?;

    let counters = Counters::default();
    let (processor, finished) = drive(
        timeout,
        |stop| audio_thread(stopped, stop, &counters),
        || instance.call_on_main_thread_callback(),
        &mut done,
    )?;
    instance.deactivate(processor);
    Ok(counters.report(finished))
}

/// Processes blocks paced at real time until `stop`.
fn audio_thread(
    stopped: StoppedPluginAudioProcessor<TestHost>,
    stop: &AtomicBool,
    counters: &Counters,
) -> Result<StoppedPluginAudioProcessor<TestHost>> {
    let mut processor = stopped
        .start_processing()
        .map_err(|e| anyhow!("start_processing: {e:?}"))?;
    let mut input = [[0.0f32; BLOCK]; 2];
    let mut output = [[0.0f32; BLOCK]; 2];
    let mut in_ports = AudioPorts::with_capacity(2, 1);
    let mut out_ports = AudioPorts::with_capacity(2, 1);
    let events_in = EventBuffer::new();
    let mut events_out = EventBuffer::new();
    let mut player = Player::default();
    while !stop.load(Ordering::Acquire) {
        player.next_block(&mut input);
        let transport = transport_at(player.frame);
        let steady = player.frame + BLOCK as u64;
        let expected = input;
        let inputs = in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                input.iter_mut().map(InputChannel::variable),
            ),
        }]);
        let mut outputs = out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                output.iter_mut().map(|b| b.as_mut_slice()),
            ),
        }]);
        processor
            .process(
                &inputs,
                &mut outputs,
                &events_in.as_input(),
                &mut events_out.as_output(),
                Some(steady),
                Some(&transport),
            )
            .map_err(|e| anyhow!("process: {e:?}"))?;
        events_out.clear();
        counters.count(&expected, &output);
        player.advance();
    }
    Ok(processor.stop_processing())
}
