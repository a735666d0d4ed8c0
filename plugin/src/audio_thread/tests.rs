use super::*;

fn core(rate: u32) -> (AudioCore, ControllerEnds, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    shared.sample_rate.store(rate, Ordering::Relaxed);
    let (core, ends) = AudioCore::new(Arc::clone(&shared));
    (core, ends, shared)
}

fn arm_seconds(shared: &Shared, seconds: f32) {
    shared
        .capture_length
        .store(seconds.to_bits(), Ordering::Relaxed);
    shared.length_in_bars.store(false, Ordering::Relaxed);
    shared.arm.store(true, Ordering::Relaxed);
}

const MIX: Mix = Mix {
    level: 1.0,
    dry_wet: 0.5,
    bypassed: false,
};

#[test]
fn free_running_capture_records_exactly_the_length_and_hands_the_buffer_back() {
    let (mut core, mut ends, shared) = core(100);
    ends.spare
        .push(CaptureBuffer::with_capacity(1000, 100))
        .unwrap();
    arm_seconds(&shared, 2.5);
    let no_transport = TransportInfo::default();
    let mut n = 0.0f32;
    for _ in 0..10 {
        let mut l: Vec<f32> = (0..64).map(|i| n + i as f32).collect();
        let mut r = l.clone();
        n += 64.0;
        core.process(&mut l, &mut r, &no_transport, MIX);
    }
    let Ok(FromAudio::Captured(buf)) = ends.from_audio.pop() else {
        panic!("no capture came back");
    };
    assert_eq!(buf.len, 250);
    assert_eq!(buf.left[0], 0.0);
    assert_eq!(buf.left[249], 249.0);
    assert_eq!(
        shared.capture_state.load(Ordering::Relaxed),
        capture_state::IDLE
    );
}

#[test]
fn armed_capture_waits_for_the_next_bar_when_the_transport_plays() {
    let (mut core, mut ends, shared) = core(1000);
    ends.spare
        .push(CaptureBuffer::with_capacity(10_000, 1000))
        .unwrap();
    shared
        .capture_length
        .store(1.0f32.to_bits(), Ordering::Relaxed);
    shared.length_in_bars.store(true, Ordering::Relaxed);
    shared.arm.store(true, Ordering::Relaxed);
    // 120 BPM, 4/4 at 1000 Hz: a beat is 500 frames, a bar 2000. Start 100 frames before a bar.
    let mut t = TransportInfo {
        playing: true,
        tempo: Some(120.0),
        pos_beats: Some(4.0 - 0.2),
        bar_start_beats: None,
        beats_per_bar: 4.0,
    };
    let mut l: Vec<f32> = (0..256).map(|i| i as f32).collect();
    let mut r = l.clone();
    core.process(&mut l, &mut r, &t, MIX);
    assert_eq!(shared.capture_done.load(Ordering::Relaxed), 156);
    assert_eq!(shared.capture_total.load(Ordering::Relaxed), 2000);
    t.pos_beats = Some(t.pos_beats.unwrap() + 256.0 / 500.0);
    let _ = &mut t;
    assert!(ends.from_audio.pop().is_err(), "one bar is not done yet");
}

#[test]
fn stopped_transport_keeps_the_capture_armed() {
    let (mut core, mut ends, shared) = core(1000);
    ends.spare
        .push(CaptureBuffer::with_capacity(100, 1000))
        .unwrap();
    arm_seconds(&shared, 0.05);
    let stopped = TransportInfo {
        playing: false,
        tempo: Some(120.0),
        pos_beats: Some(0.0),
        bar_start_beats: None,
        beats_per_bar: 4.0,
    };
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    core.process(&mut l, &mut r, &stopped, MIX);
    assert_eq!(
        shared.capture_state.load(Ordering::Relaxed),
        capture_state::ARMED
    );
}

#[test]
fn no_spare_buffer_is_reported_not_waited_for() {
    let (mut core, _ends, shared) = core(1000);
    arm_seconds(&shared, 1.0);
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert_eq!(
        shared.capture_state.load(Ordering::Relaxed),
        capture_state::NO_BUFFER
    );
}

#[test]
fn input_passes_untouched_without_a_preview_and_the_preview_loops_and_counts() {
    let (mut core, mut ends, shared) = core(1000);
    let (mut l, mut r) = (vec![0.25; 8], vec![-0.5; 8]);
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert_eq!((l[3], r[3]), (0.25, -0.5));

    let played = Arc::new(AtomicU64::new(0));
    ends.to_audio
        .push(ToAudio::Play(Box::new(PreviewClip {
            key: 7,
            samples: vec![0.125, 0.0, 0.0],
            played: Arc::clone(&played),
        })))
        .unwrap();
    let (mut l, mut r) = (vec![0.25; 8], vec![0.0; 8]);
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert_eq!(shared.playing_key.load(Ordering::Relaxed), 7);
    assert_eq!(l[0], 0.375);
    assert_eq!(l[3], 0.375, "the clip loops");
    assert_eq!(r[6], 0.125);
    assert_eq!(played.load(Ordering::Relaxed), 8);

    ends.to_audio.push(ToAudio::Stop).unwrap();
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert!(matches!(
        ends.from_audio.pop(),
        Ok(FromAudio::Retired(clip)) if clip.key == 7
    ));
    assert_eq!(shared.playing_key.load(Ordering::Relaxed), 0);
}

#[test]
fn mix_law_is_unity_at_the_middle() {
    let g = |w| {
        Mix {
            level: 1.0,
            dry_wet: w,
            bypassed: false,
        }
        .gains()
    };
    assert_eq!(g(0.5), (1.0, 1.0));
    assert_eq!(g(0.0), (1.0, 0.0));
    assert_eq!(g(1.0), (0.0, 1.0));
}

fn play(ends: &mut ControllerEnds, key: u64, samples: Vec<f32>) -> Arc<AtomicU64> {
    let played = Arc::new(AtomicU64::new(0));
    ends.to_audio
        .push(ToAudio::Play(Box::new(PreviewClip {
            key,
            samples,
            played: Arc::clone(&played),
        })))
        .unwrap();
    played
}

/// 120 BPM 4/4 at 1000 Hz: 500 frames per beat, 2000 per bar.
fn rolling(pos_beats: f64) -> TransportInfo {
    TransportInfo {
        playing: true,
        tempo: Some(120.0),
        pos_beats: Some(pos_beats),
        bar_start_beats: None,
        beats_per_bar: 4.0,
    }
}

#[test]
fn preview_started_mid_bar_waits_for_the_hosts_next_bar() {
    let (mut core, mut ends, _shared) = core(1000);
    let played = play(&mut ends, 3, vec![1.0, 2.0, 3.0, 4.0]);
    // 0.1 beat before the bar line: 50 frames of dry track, then the clip from its start.
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    core.process(&mut l, &mut r, &rolling(7.9), MIX);
    assert!(l[..50].iter().all(|s| *s == 0.0), "{:?}", &l[..50]);
    assert_eq!(&l[50..54], &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        played.load(Ordering::Relaxed),
        14,
        "only what was heard counts"
    );

    // A preview asked for further from the line waits through whole blocks.
    let played = play(&mut ends, 4, vec![1.0]);
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    core.process(&mut l, &mut r, &rolling(9.0), MIX);
    assert!(l.iter().all(|s| *s == 0.0));
    assert_eq!(played.load(Ordering::Relaxed), 0);
}

#[test]
fn preview_without_a_transport_runs_free() {
    let (mut core, mut ends, _shared) = core(1000);
    let played = play(&mut ends, 5, vec![0.5]);
    let (mut l, mut r) = (vec![0.0; 16], vec![0.0; 16]);
    let stopped = TransportInfo {
        playing: false,
        ..rolling(1.3)
    };
    core.process(&mut l, &mut r, &stopped, MIX);
    assert_eq!(l[0], 0.5, "stopped: at once");
    assert_eq!(played.load(Ordering::Relaxed), 16);
}

#[test]
fn preview_restarts_on_the_bar_when_the_transport_starts() {
    let (mut core, mut ends, _shared) = core(1000);
    let _played = play(&mut ends, 6, vec![1.0, 2.0, 3.0]);
    let stopped = TransportInfo {
        playing: false,
        ..rolling(3.9)
    };
    let (mut l, mut r) = (vec![0.0; 5], vec![0.0; 5]);
    core.process(&mut l, &mut r, &stopped, MIX);
    assert_eq!(
        l,
        vec![1.0, 2.0, 3.0, 1.0, 2.0],
        "free-running while stopped"
    );

    // Play pressed 0.02 beats (10 frames) before a bar: the loop restarts on that bar.
    let (mut l, mut r) = (vec![0.0; 16], vec![0.0; 16]);
    core.process(&mut l, &mut r, &rolling(3.98), MIX);
    assert!(l[..10].iter().all(|s| *s == 0.0), "{l:?}");
    assert_eq!(&l[10..13], &[1.0, 2.0, 3.0]);
}

#[test]
fn capture_starts_on_the_bar_and_at_once_when_the_timeline_is_unusable() {
    let (mut core, mut ends, shared) = core(1000);
    ends.spare
        .push(CaptureBuffer::with_capacity(1000, 1000))
        .unwrap();
    arm_seconds(&shared, 0.5);
    let no_tempo = TransportInfo {
        tempo: Some(0.0),
        ..rolling(1.3)
    };
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    core.process(&mut l, &mut r, &no_tempo, MIX);
    assert_eq!(shared.capture_done.load(Ordering::Relaxed), 64);
}

#[test]
fn a_mono_track_is_captured_and_previewed_in_its_one_channel() {
    let (mut core, mut ends, shared) = core(100);
    ends.spare
        .push(CaptureBuffer::with_capacity(1000, 100))
        .unwrap();
    arm_seconds(&shared, 0.5);
    let mut x: Vec<f32> = (0..64).map(|i| i as f32).collect();
    core.process_channels(&mut [&mut x], &TransportInfo::default(), MIX);
    let Ok(FromAudio::Captured(buf)) = ends.from_audio.pop() else {
        panic!("no capture came back");
    };
    assert_eq!(buf.len, 50);
    assert_eq!((buf.left[49], buf.right[49]), (49.0, 49.0));
    let played = play(&mut ends, 3, vec![0.5]);
    let mut x = vec![0.25; 4];
    core.process_channels(&mut [&mut x], &TransportInfo::default(), MIX);
    // Added once, at the same level as on each channel of a stereo track.
    assert_eq!(x, vec![0.75; 4]);
    assert_eq!(played.load(Ordering::Relaxed), 4);
}

#[test]
fn bypassed_the_track_passes_untouched_and_no_listening_counts() {
    let (mut core, mut ends, _shared) = core(1000);
    let played = play(&mut ends, 9, vec![0.5, 0.25]);
    let bypassed = Mix {
        bypassed: true,
        ..MIX
    };
    let (mut l, mut r) = (vec![0.1; 16], vec![-0.1; 16]);
    core.process(&mut l, &mut r, &TransportInfo::default(), bypassed);
    assert_eq!((l, r), (vec![0.1; 16], vec![-0.1; 16]));
    assert_eq!(played.load(Ordering::Relaxed), 0);
    // Bypass off again: the preview is there, from where it was.
    let (mut l, mut r) = (vec![0.0; 2], vec![0.0; 2]);
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert_eq!(l, vec![0.5, 0.25]);
}

#[test]
fn the_hosts_tempo_and_metre_are_kept_for_generate() {
    let (mut core, _ends, shared) = core(1000);
    assert_eq!(shared.host_tempo(), None);
    let (mut l, mut r) = (vec![0.0; 8], vec![0.0; 8]);
    let three_four = TransportInfo {
        beats_per_bar: 3.0,
        tempo: Some(96.0),
        ..rolling(0.0)
    };
    core.process(&mut l, &mut r, &three_four, MIX);
    assert_eq!(shared.host_tempo(), Some((96.0, 3.0)));
    // A block without a tempo (or with a broken one) keeps the last one the host gave.
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    let broken = TransportInfo {
        tempo: Some(f64::NAN),
        ..rolling(0.0)
    };
    core.process(&mut l, &mut r, &broken, MIX);
    assert_eq!(shared.host_tempo(), Some((96.0, 3.0)));
}

#[test]
fn denormal_input_leaves_as_zero_and_the_rest_untouched() {
    let (mut core, _ends, _shared) = core(1000);
    let tiny = f32::MIN_POSITIVE / 4.0;
    assert!(tiny.is_subnormal());
    let (mut l, mut r) = (vec![tiny, 0.5, -tiny], vec![-0.25, tiny, f32::MIN_POSITIVE]);
    core.process(&mut l, &mut r, &TransportInfo::default(), MIX);
    assert_eq!(l, vec![0.0, 0.5, 0.0]);
    assert_eq!(r, vec![-0.25, 0.0, f32::MIN_POSITIVE]);
}
