//! Refrain's plugin: CLAP + VST3 (+ standalone behind the `standalone` feature) built with
//! nice-plug. Audio passes through; the plugin captures the track into pre-allocated buffers,
//! a controller thread generates variations with the engine's worker, the egui editor previews
//! and rates them, and ratings go to the engine's feedback store.
//!
//! Threads: the audio thread runs [`audio_thread::AudioCore`] only (no allocation, lock or I/O); the
//! controller ([`controller`]) owns the worker and the store; the editor ([`editor`]) draws
//! [`ui_state::UiState`] and sends [`ui_state::Command`]s.

pub mod audio_thread;
pub mod controller;
pub mod drag;
pub mod editor;
pub mod params;
pub mod transport;
pub mod ui_state;

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;

use audio_thread::{AudioCore, Mix, Shared, TransportInfo};
use controller::{Controller, ControllerSetup};
use params::RefrainParams;
use ui_state::{Command, UiState};

pub use controller::test_hook::{TEST_HOOK_DONE_FILE, TEST_HOOK_ENV};
pub use refrain_engine::locator::MODEL_DIR_ENV;

/// Env var for the realtime test's negative control: "1" makes `process()` allocate, which
/// nice-plug's `assert_process_allocs` must turn into an abort in debug builds.
pub const ALLOC_IN_PROCESS_ENV: &str = "REFRAIN_TEST_ALLOC_IN_PROCESS";

/// The engine crate version this plugin links, shown in the editor's footer.
pub fn engine_version() -> &'static str {
    refrain_engine::VERSION
}

/// The plugin instance.
pub struct Refrain {
    params: Arc<RefrainParams>,
    shared: Arc<Shared>,
    ui: Arc<Mutex<UiState>>,
    commands: (Sender<Command>, Receiver<Command>),
    editor_state: Arc<EguiEditorState>,
    /// Audio-thread state; `None` until the first activation.
    core: Option<AudioCore>,
    controller: Option<Controller>,
    /// See [`ALLOC_IN_PROCESS_ENV`] (read at activation: reading env vars allocates).
    alloc_in_process: bool,
}

impl Default for Refrain {
    fn default() -> Self {
        // Cheap on purpose: hosts create instances to scan them. Threads, the store and the
        // buffers come at activation.
        Self {
            params: Arc::new(RefrainParams::default()),
            shared: Arc::new(Shared::default()),
            ui: Arc::new(Mutex::new(UiState::default())),
            commands: crossbeam_channel::bounded(64),
            editor_state: editor::default_state(),
            core: None,
            controller: None,
            alloc_in_process: false,
        }
    }
}

impl Plugin for Refrain {
    const NAME: &'static str = "Refrain";
    const VENDOR: &'static str = "Refrain";
    const URL: &'static str = "https://example.invalid/refrain";
    const EMAIL: &'static str = "refrain@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // Stereo first (the default), then mono: on a mono track a host would otherwise feed the
    // stereo layout and pan the result, raising the level by 3 dB.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames::const_default(),
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            aux_input_ports: &[],
            aux_output_ports: &[],
            names: PortNames::const_default(),
        },
    ];

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = nice_plug_egui::EguiEditor<editor::RefrainApp>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(
            Arc::clone(&self.editor_state),
            editor::RefrainApp::new(
                Arc::clone(&self.params),
                Arc::clone(&self.shared),
                Arc::clone(&self.ui),
                self.commands.0.clone(),
            ),
        )
    }

    fn activate(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // The preview is added on top of the input with no look-ahead: no latency to report.
        context.set_latency_samples(0);
        self.alloc_in_process = std::env::var(ALLOC_IN_PROCESS_ENV).as_deref() == Ok("1");
        let rate = config.sample_rate.round() as u32;
        let channels = layout.main_output_channels.map_or(2, NonZeroU32::get);
        self.shared
            .track_channels
            .store(channels, Ordering::Relaxed);
        if self.core.is_some() && self.controller.as_ref().map(|c| c.sample_rate()) == Some(rate) {
            return true;
        }
        // A new rate needs buffers and clips at that rate: stop the old controller first.
        self.controller = None;
        self.shared.sample_rate.store(rate, Ordering::Relaxed);
        let (core, ends) = AudioCore::new(Arc::clone(&self.shared));
        let setup = ControllerSetup {
            params: Arc::clone(&self.params),
            shared: Arc::clone(&self.shared),
            ui: Arc::clone(&self.ui),
            commands: self.commands.1.clone(),
            ends,
            sample_rate: rate,
        };
        match Controller::spawn(setup) {
            Ok(controller) => {
                self.controller = Some(controller);
                self.core = Some(core);
                true
            }
            Err(e) => {
                tracing::error!("refrain: controller thread did not start: {e}");
                false
            }
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        if self.alloc_in_process {
            std::hint::black_box(Vec::<u8>::with_capacity(64));
        }
        let Some(core) = self.core.as_mut() else {
            return ProcessStatus::Normal;
        };
        let t = context.transport();
        let transport = TransportInfo {
            playing: t.playing,
            tempo: t.tempo,
            pos_beats: t.pos_beats(),
            bar_start_beats: t.bar_start_pos_beats,
            beats_per_bar: transport::beats_per_bar(t.time_sig_numerator, t.time_sig_denominator),
        };
        let mix = Mix {
            level: self.params.preview_level.value(),
            dry_wet: self.params.dry_wet.value(),
            bypassed: self.params.bypass.value(),
        };
        core.process_channels(buffer.as_slice(), &transport, mix);
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Refrain {
    const CLAP_ID: &'static str = "org.refrain.refrain";
    const CLAP_DESCRIPTION: Option<&'static str> = Some(
        "Captures the track, generates variations with a diffusion model, learns from ratings",
    );
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Stereo,
        ClapFeature::Utility,
    ];
}

impl Vst3Plugin for Refrain {
    const VST3_CLASS_ID: [u8; 16] = *b"RefrainDiffusion";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Generator];
}

nice_export_clap!(Refrain);
nice_export_vst3!(Refrain);
