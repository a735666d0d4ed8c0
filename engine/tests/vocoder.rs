//! The vocoders: PGHI against signals whose magnitude is exact (a chirp, sines and clicks), with
//! stated bounds; both vocoders through the seam on silence, NaN and short mels.
use refrain_engine::spectrogram::{
    griffin_lim, griffin_lim_from, pghi_phase, spectral_convergence, AudioConfig, GriffinLim, Mel,
    MelTransform, PghiGeometry, Spectrum, Stft, PGHI_TOLERANCE,
};
use refrain_engine::vocoder::{self, Vocoder, VocoderError};

/// 5.94 s at 22.05 kHz: a linear chirp 200 → 1982 Hz, a steady 1234.5 Hz sine (between bins)
/// and a click every 5000 samples — glides, steady tones and transients at once.
fn known_signal(config: &AudioConfig) -> Vec<f32> {
    let sr = config.sample_rate as f64;
    (0..config.window_samples())
        .map(|i| {
            let t = i as f64 / sr;
            let chirp = 0.3 * (2.0 * std::f64::consts::PI * (200.0 * t + 150.0 * t * t)).sin();
            let sine = 0.2 * (2.0 * std::f64::consts::PI * 1234.5 * t).sin();
            let click = if i % 5000 == 0 { 0.8 } else { 0.0 };
            (chirp + sine + click) as f32
        })
        .collect()
}

fn magnitude(stft: &mut Stft, audio: &[f32]) -> (Spectrum, Vec<f32>) {
    let mut spectrum = Spectrum::default();
    stft.forward(audio, &mut spectrum);
    let magnitude = spectrum.data.iter().map(|c| c.norm()).collect();
    (spectrum, magnitude)
}

fn convergence(stft: &mut Stft, reference: &Spectrum, audio: &[f32]) -> f64 {
    let mut rebuilt = Spectrum::default();
    stft.forward(audio, &mut rebuilt);
    spectral_convergence(reference, &rebuilt)
}

#[test]
fn pghi_rebuilds_a_known_signal_without_iterations_and_beats_griffin_lim_32_with_16() {
    let config = AudioConfig::default();
    let mut stft = Stft::new(&config).unwrap();
    let audio = known_signal(&config);
    let (reference, mag) = magnitude(&mut stft, &audio);
    let n_freqs = config.n_freqs();
    let geometry = PghiGeometry {
        n_fft: config.n_fft,
        hop: config.hop_length,
        win_length: config.win_length,
    };
    let phases = pghi_phase(&mag, n_freqs, geometry, PGHI_TOLERANCE, 1);
    let none = GriffinLim::fast(0, 1);
    let pghi_only = griffin_lim_from(&mut stft, &mag, &phases, audio.len(), none);
    let sc_pghi = convergence(&mut stft, &reference, &pghi_only);
    let random_only = griffin_lim(&mut stft, &mag, audio.len(), none);
    let sc_random = convergence(&mut stft, &reference, &random_only);
    // numpy prototype of the same formulas: 0.033; random phases: ≈ 0.6.
    assert!(
        sc_pghi < 0.06,
        "PGHI alone: spectral convergence {sc_pghi:.4}"
    );
    assert!(
        sc_pghi < 0.2 * sc_random,
        "PGHI {sc_pghi:.4} vs random {sc_random:.4}"
    );

    let refined = GriffinLim {
        iters: 16,
        momentum: 0.5,
        seed: 1,
    };
    let pghi16 = griffin_lim_from(&mut stft, &mag, &phases, audio.len(), refined);
    let sc_pghi16 = convergence(&mut stft, &reference, &pghi16);
    let gl32 = griffin_lim(&mut stft, &mag, audio.len(), GriffinLim::fast(32, 1));
    let sc_gl32 = convergence(&mut stft, &reference, &gl32);
    eprintln!(
        "spectral convergence: PGHI {sc_pghi:.4}, random {sc_random:.4}, \
         PGHI+16 {sc_pghi16:.4}, Griffin-Lim 32 {sc_gl32:.4}"
    );
    assert!(
        sc_pghi16 < 0.5 * sc_gl32,
        "PGHI + 16: {sc_pghi16:.4}, Griffin-Lim 32: {sc_gl32:.4}"
    );
}

#[test]
fn pghi_of_silence_is_finite() {
    let config = AudioConfig::default();
    let geometry = PghiGeometry {
        n_fft: config.n_fft,
        hop: config.hop_length,
        win_length: config.win_length,
    };
    let phases = pghi_phase(
        &vec![0.0; 10 * config.n_freqs()],
        config.n_freqs(),
        geometry,
        PGHI_TOLERANCE,
        3,
    );
    assert_eq!(phases.len(), 10 * config.n_freqs());
    assert!(phases.iter().all(|p| p.is_finite()));
    assert!(pghi_phase(&[], config.n_freqs(), geometry, PGHI_TOLERANCE, 3).is_empty());
}

/// A model-range mel of the known signal.
fn model_mel(config: &AudioConfig) -> Mel {
    MelTransform::new(config)
        .unwrap()
        .to_model(&known_signal(config))
        .unwrap()
}

#[test]
fn every_vocoder_renders_the_window_length_and_survives_silence_and_nan() {
    let config = AudioConfig::default();
    let mel = model_mel(&config);
    let expected = mel.frames * config.hop_length - 1;
    // The neural one needs its network: `shipped_neural_vocoder_*` and the trainer's tests.
    for name in [vocoder::GRIFFIN_LIM, vocoder::PGHI] {
        let mut v = vocoder::by_name(name, &config).unwrap();
        assert_eq!(v.name(), name);
        let audio = v.render(&mel, 7).unwrap();
        assert_eq!(audio.len(), expected, "{name}");
        assert!(audio.iter().all(|s| s.is_finite()), "{name}");
        assert_eq!(audio, v.render(&mel, 7).unwrap(), "{name} is reproducible");

        let silent = Mel {
            data: vec![-1.0; mel.data.len()],
            ..mel.clone()
        };
        let quiet = v.render(&silent, 7).unwrap();
        assert!(
            quiet.iter().all(|s| s.is_finite() && s.abs() < 1e-3),
            "{name}: silence"
        );

        let mut broken = mel.clone();
        broken.data[100] = f32::NAN;
        broken.data[2000] = f32::INFINITY;
        let rendered = v.render(&broken, 7).unwrap();
        assert!(
            rendered.iter().all(|s| s.is_finite()),
            "{name}: NaN in, NaN out"
        );

        let wrong = Mel {
            n_mels: 7,
            ..mel.clone()
        };
        assert!(
            matches!(v.render(&wrong, 7), Err(VocoderError::Spectrogram(_))),
            "{name}"
        );
    }
    assert!(matches!(
        vocoder::by_name("hifi-gan", &config),
        Err(VocoderError::Unknown(n)) if n == "hifi-gan"
    ));
}

#[test]
fn a_missing_or_damaged_neural_vocoder_falls_back_to_griffin_lim_with_a_warning() {
    let config = AudioConfig::default();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &config, &missing).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    let warning = warning.unwrap();
    assert!(
        warning.contains("neural") && warning.contains("Griffin-Lim"),
        "{warning}"
    );

    // Not a spec at all.
    let dir = tmp.path().join("garbage");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(vocoder::neural::SPEC_FILE), "{ not json").unwrap();
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &config, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.unwrap().contains("not a vocoder spec"));

    // A spec whose network is cut short (a download or export killed halfway).
    let spec = vocoder::NeuralSpec {
        format_version: vocoder::neural::SPEC_FORMAT,
        audio: config.clone(),
        network: "vocoder.onnx".into(),
        sha256: "00".repeat(32),
        phase_init: vocoder::PhaseInit::Pghi,
        phase_iters: 4,
        phase_momentum: 0.5,
        magnitude_floor: 1e-5,
        inverse_steps: None,
        training: None,
    };
    std::fs::write(
        dir.join(vocoder::neural::SPEC_FILE),
        serde_json::to_string(&spec).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("vocoder.onnx"), b"ONNX, cut").unwrap();
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &config, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.unwrap().contains("damaged"));

    // Hash right, bytes not a network: ONNX Runtime refuses it, the seam falls back.
    let digest = refrain_engine::manifest::sha256_file(&dir.join("vocoder.onnx")).unwrap();
    let spec = vocoder::NeuralSpec {
        sha256: digest,
        ..spec
    };
    std::fs::write(
        dir.join(vocoder::neural::SPEC_FILE),
        serde_json::to_string(&spec).unwrap(),
    )
    .unwrap();
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &config, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.is_some());

    // A name no build knows (a manifest from a newer Refrain) falls back too; Griffin-Lim
    // itself never needs to.
    let (v, warning) = vocoder::resolve("hifi-gan", &config, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.unwrap().contains("hifi-gan"));
    let (_, warning) = vocoder::resolve(vocoder::GRIFFIN_LIM, &config, &dir).unwrap();
    assert!(warning.is_none());

    // A spec written before `phase_init` existed still reads, as the PGHI start it meant.
    let mut old = serde_json::to_value(&spec).unwrap();
    old.as_object_mut().unwrap().remove("phase_init");
    let old: vocoder::NeuralSpec = serde_json::from_value(old).unwrap();
    assert_eq!(old.phase_init, vocoder::PhaseInit::Pghi);
}

#[test]
fn shipped_neural_vocoder_renders_music_quietly_silence_and_survives_nan() {
    let config = AudioConfig::default();
    let dir = refrain_engine::locator::shipped_vocoder();
    if !dir.join(vocoder::neural::SPEC_FILE).is_file() {
        eprintln!(
            "SKIPPED: no neural vocoder at {} (models/vocoder is shipped in the repository)",
            dir.display()
        );
        return;
    }
    let mut v = vocoder::by_name(vocoder::NEURAL, &config).unwrap();
    let mel = model_mel(&config);
    let audio = v.render(&mel, 7).unwrap();
    assert_eq!(audio.len(), mel.frames * config.hop_length - 1);
    assert!(audio.iter().all(|s| s.is_finite()));
    assert_eq!(audio, v.render(&mel, 7).unwrap(), "reproducible");
    let silent = Mel {
        data: vec![-1.0; mel.data.len()],
        ..mel.clone()
    };
    let quiet = v.render(&silent, 7).unwrap();
    let loud = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let hush = quiet.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        hush.is_finite() && hush < loud * 0.01,
        "silence {hush} vs music {loud}"
    );
    // Both phase starts render the window; they are different renders.
    let mut other = vocoder::NeuralVocoder::load(&dir, &config).unwrap();
    let other_init = match other.spec().phase_init {
        vocoder::PhaseInit::Pghi => vocoder::PhaseInit::Random,
        vocoder::PhaseInit::Random => vocoder::PhaseInit::Pghi,
    };
    other.set_phase(other_init, 4, 0.5);
    let alt = other.render(&mel, 7).unwrap();
    assert_eq!(alt.len(), audio.len());
    assert!(alt.iter().all(|s| s.is_finite()) && alt != audio);
    let mut broken = mel.clone();
    broken.data[100] = f32::NAN;
    broken.data[2000] = f32::INFINITY;
    assert!(v.render(&broken, 7).unwrap().iter().all(|s| s.is_finite()));
    let wrong = Mel {
        n_mels: 7,
        data: vec![0.0; 7 * mel.frames],
        ..mel.clone()
    };
    assert!(matches!(
        v.render(&wrong, 7),
        Err(VocoderError::Neural { .. })
    ));
}
