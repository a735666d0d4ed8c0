//! The controller's version choice end to end, with a temporary data dir and the tiny model:
//! listing, choosing (saved with the project, loaded on the worker thread), a state the host
//! restores later, a version that is gone, and the time per variation measured at first use.
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use refrain_engine::worker::Event;

use super::generate::JobOverrides;
use super::{ControllerSetup, State};
use crate::audio_thread::{AudioCore, Shared};
use crate::params::RefrainParams;
use crate::ui_state::UiState;

fn tiny() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_model")
}

/// Copies the tiny model to `dir` as lineage `name`, version `version`.
fn install(dir: &Path, name: &str, version: u32, license: Option<&str>) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(tiny()).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["name"] = name.into();
    m["version"] = version.into();
    if version > 0 {
        m["parent"] = (version - 1).into();
    }
    if let Some(l) = license {
        m["training"] = serde_json::json!({"import": {"license": l}});
    }
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
}

fn state(data: &Path) -> State {
    let shared = Arc::new(Shared::default());
    let (_core, ends) = AudioCore::new(Arc::clone(&shared));
    let (_tx, commands) = crossbeam_channel::bounded(4);
    let setup = ControllerSetup {
        params: Arc::new(RefrainParams::default()),
        shared,
        ui: Arc::new(Mutex::new(UiState::default())),
        commands,
        ends,
        sample_rate: 48_000,
    };
    let mut state = State::start_in(setup, Ok(data.to_path_buf()));
    // No env var may pin the model in this test.
    state.model_dir = None;
    state
}

/// A controller whose data dir holds the tiny test model as the shipped base.
fn state_with_base(data: &Path) -> State {
    install(&data.join("models/base"), "refrain-tiny-test", 0, None);
    state(data)
}

/// One Generate of `variations` clips at `steps` steps, its events fed to the controller until
/// the job is done or failed.
fn generate_and_wait(state: &mut State, steps: usize, variations: usize) {
    state.generate(Some(JobOverrides {
        steps: Some(steps),
        variations: Some(variations),
    }));
    pump(state, |e| {
        matches!(e, Event::Done { .. } | Event::Failed { .. })
    });
}

/// Feeds the worker's events to the controller until `done` says stop.
fn pump(state: &mut State, mut done: impl FnMut(&Event) -> bool) {
    loop {
        let event = state
            .events
            .recv_timeout(Duration::from_secs(120))
            .expect("worker went quiet");
        let stop = done(&event);
        state.event(event);
        if stop {
            return;
        }
    }
}

#[test]
fn the_editor_lists_chooses_and_measures_versions_without_blocking() {
    let data = tempfile::tempdir().unwrap();
    let models = data.path().join("models");
    install(&models.join("base"), "refrain-tiny-test", 0, None);
    install(&models.join("imp"), "imp", 0, Some("mit"));
    install(&models.join("v1"), "imp", 1, None);
    let mut s = state(data.path());

    let keys: Vec<String> = s.ui().versions.iter().map(|v| v.key.clone()).collect();
    assert_eq!(keys, ["base", "imp", "v1"]);
    assert_eq!(s.ui().chosen, "", "a new project follows the latest");
    assert!(
        s.ui().versions[2].detail.contains("license mit"),
        "v1 inherits its root's license"
    );
    assert!(s.ui().versions[1]
        .detail
        .contains("time measured at first use"));

    // Choosing returns at once; the load happens on the worker and is reported.
    s.use_version("imp".into());
    assert_eq!(*s.params.model_choice.lock().unwrap(), "imp");
    assert!(s.ui().loading.is_some());
    pump(&mut s, |e| matches!(e, Event::ModelLoaded { .. }));
    assert!(s.ui().loading.is_none());
    assert!(s.ui().model.starts_with("imp v0"), "{}", s.ui().model);
    assert!(s.ui().versions[1].detail.contains("loaded on"));

    // The first Generate with it measures its time per variation.
    generate_and_wait(&mut s, 4, 2);
    let detail = s.ui().versions[1].detail.clone();
    assert!(detail.contains("s per variation (4 steps"), "{detail}");
    let book = refrain_engine::catalog::TimingBook::open(data.path());
    let created = refrain_engine::manifest::Manifest::load(&models.join("imp"))
        .unwrap()
        .created;
    assert!(!book.needs(&models.join("imp"), &created));

    // The host restores a project that pinned v1 after start-up.
    *s.params.model_choice.lock().unwrap() = "v1".into();
    s.sync_choice();
    assert_eq!(s.ui().chosen, "v1");
    pump(&mut s, |e| matches!(e, Event::ModelLoaded { .. }));
    assert!(s.ui().model.starts_with("imp v1"), "{}", s.ui().model);

    // A project pinned to a version that was deleted says so and does not generate.
    s.use_version("gone".into());
    assert!(s
        .ui()
        .error
        .as_deref()
        .is_some_and(|e| e.contains("not installed")));
    assert!(!s.ui().model_found);
}

#[test]
fn the_vocoder_choice_is_saved_with_the_project_and_renders_the_clips() {
    let data = tempfile::tempdir().unwrap();
    let mut s = state_with_base(data.path());
    assert_eq!(
        s.requested_vocoder(),
        None,
        "a new project uses the version's own"
    );

    s.use_vocoder("pghi".into());
    assert_eq!(*s.params.vocoder_choice.lock().unwrap(), "pghi");
    assert_eq!(s.ui().vocoder, "pghi");
    generate_and_wait(&mut s, 4, 1);
    assert_eq!(s.clips.len(), 1, "{:?}", s.ui().error);
    assert_eq!(s.clips[0].params.vocoder, "pghi");

    // A project saved with Griffin-Lim, restored by the host after start-up.
    *s.params.vocoder_choice.lock().unwrap() = "griffin-lim".into();
    s.sync_vocoder();
    assert_eq!(s.ui().vocoder, "griffin-lim");
    assert_eq!(s.requested_vocoder().as_deref(), Some("griffin-lim"));
    s.use_vocoder(String::new());
    assert_eq!(s.requested_vocoder(), None);
}

#[test]
fn activation_leaves_nothing_behind_until_the_first_clip_or_capture() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("refrain");
    let mut s = state(&data);
    assert!(
        !data.exists(),
        "a host's plugin scan must leave no data dir"
    );
    assert!(s.sink.is_none());
    assert!(s.spare.is_none(), "no capture buffers before a capture");
    s.arm(Some(1.0));
    assert!(s.spare.is_some(), "the first Arm allocates them");
    assert!(!data.exists(), "arming writes nothing");
    // The first stored clip creates the data dir and the store.
    install(&data.join("models/base"), "refrain-tiny-test", 0, None);
    drop(s);
    let mut s = state(&data);
    assert!(!data.join(refrain_engine::feedback::DB_FILE).exists());
    generate_and_wait(&mut s, 2, 1);
    assert_eq!(s.clips.len(), 1, "{:?}", s.ui().error);
    assert!(data.join(refrain_engine::feedback::DB_FILE).is_file());
    assert!(s.clips[0].clip_id.is_some(), "the clip was stored");
}

#[test]
fn a_data_dir_that_cannot_be_written_moves_the_session_to_a_temporary_one() {
    let home = tempfile::tempdir().unwrap();
    // Under a plain file no folder can be made, whoever runs the test (root included).
    let blocker = home.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let data = blocker.join("refrain");
    let mut s = state(&data);
    let mut buf = crate::audio_thread::CaptureBuffer::with_capacity(4800, 48_000);
    buf.left[..4800].iter_mut().for_each(|v| *v = 0.25);
    buf.right[..4800].iter_mut().for_each(|v| *v = -0.25);
    buf.len = 4800;
    s.captured(buf);
    let temp = s.data_dir.clone().unwrap();
    assert_ne!(temp, data);
    assert!(s.sink.is_some(), "the store opened in the temporary dir");
    // Said in the editor for the whole session (the capture's own status came after it).
    let note = s.ui().data_note.clone().unwrap_or_default();
    assert!(
        note.contains(&temp.display().to_string()) && note.contains("cannot be written"),
        "{note}"
    );
    let songs = s.params.songs.lock().unwrap().clone();
    assert_eq!(songs.len(), 1, "the capture was kept");
    assert!(songs[0].wav.starts_with(&temp) && songs[0].wav.is_file());
    assert!(s.ui().export_dir.starts_with(&temp));
    std::fs::remove_dir_all(&temp).unwrap();
}

#[test]
fn an_exported_clip_fits_the_hosts_bars_and_track_and_carries_its_loop_points() {
    use std::sync::atomic::Ordering;
    let data = tempfile::tempdir().unwrap();
    let mut s = state_with_base(data.path());
    // What the audio thread records from a host at 120 BPM in 4/4 on a stereo track.
    s.shared
        .host_tempo
        .store(120f64.to_bits(), Ordering::Relaxed);
    s.shared
        .host_beats_per_bar
        .store(4f64.to_bits(), Ordering::Relaxed);
    s.shared.track_channels.store(2, Ordering::Relaxed);
    generate_and_wait(&mut s, 2, 1);
    assert_eq!(s.clips.len(), 1, "{:?}", s.ui().error);
    // Clip length defaults to 4 bars: 8 s at the host's 48 kHz.
    assert_eq!(s.clips[0].audio.len(), 8 * 48_000);
    let key = s.clips[0].key;
    s.export(key);
    let path = s.ui().last_export.clone().expect("exported");
    assert!(path.to_string_lossy().contains("4bar-120bpm"), "{path:?}");
    let back = refrain_engine::audio::read_file(&path).unwrap();
    assert_eq!((back.channels.len(), back.frames()), (2, 8 * 48_000));
    let bytes = std::fs::read(&path).unwrap();
    // 24-bit PCM (the fmt chunk's bits per sample, at byte 34).
    assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 24);
    let info = refrain_engine::audio::read_loop_chunks(&bytes).unwrap();
    assert_eq!(
        (info.frames, info.beats, info.meter),
        (8 * 48_000, 16, (4, 4))
    );
    assert_eq!(info.bpm, 120.0);
}

#[test]
fn dragging_a_clip_exports_it_first_and_says_why_when_no_drag_can_start() {
    let data = tempfile::tempdir().unwrap();
    let mut s = state_with_base(data.path());
    generate_and_wait(&mut s, 2, 1);
    let key = s.clips[0].key;
    s.drag_out(key);
    let path = s
        .ui()
        .last_export
        .clone()
        .expect("exported before the drag");
    assert!(path.is_file(), "{path:?}");
    if crate::drag::available() {
        // A display exists but no button is held: the drag ends at once, with no error.
        eprintln!("DISPLAY is set: the no-display message is not checked here");
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let error = loop {
        if let Some(e) = s.ui().error.clone() {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "no message");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        error.contains("X11") && error.contains("Copy path"),
        "{error}"
    );
}

#[test]
fn every_song_gets_a_waveform_once_and_a_removed_song_loses_it() {
    use crate::params::SongRef;
    use refrain_engine::audio::{write_wav, Audio};
    let data = tempfile::tempdir().unwrap();
    let mut s = state(data.path());
    let wav = data.path().join("song.wav");
    // Loud first half, silent second half: the thumbnail must show it.
    let mut samples = vec![0.5f32; 24_000];
    samples.extend(vec![0.0f32; 24_000]);
    write_wav(&wav, &Audio::new(48_000, vec![samples]).unwrap()).unwrap();
    let song = |wav: &Path| SongRef {
        name: "Song".into(),
        weight: 1.0,
        wav: wav.to_path_buf(),
        duration_s: 1.0,
        stored: None,
    };
    let missing = data.path().join("gone.wav");
    s.params
        .songs
        .lock()
        .unwrap()
        .extend([song(&wav), song(&missing)]);
    s.sync_song_peaks();
    let peaks = s.ui().song_peaks.clone();
    assert_eq!(peaks.len(), 2);
    let (_, loud) = peaks.iter().find(|(w, _)| *w == wav).unwrap();
    assert!(loud.len() > 10, "{}", loud.len());
    assert_eq!(loud[0], 1.0);
    assert_eq!(*loud.last().unwrap(), 0.0);
    let (_, unreadable) = peaks.iter().find(|(w, _)| *w == missing).unwrap();
    assert!(unreadable.is_empty(), "an unreadable WAV draws a flat line");
    s.params.songs.lock().unwrap().remove(0);
    s.sync_song_peaks();
    assert_eq!(
        s.ui().song_peaks.len(),
        1,
        "the removed song's waveform is forgotten"
    );
}
