//! The spectrogram against librosa 0.11 reference fixtures (scripts/make_dsp_fixtures.py).
mod support;

use refrain_engine::spectrogram::{
    from_unit, griffin_lim, hz_to_mel, mel_to_hz, spectral_convergence, to_unit, AudioConfig,
    GriffinLim, MelFilterbank, MelTransform, Spectrum, Stft,
};
use support::npy;

fn config(name: &str) -> AudioConfig {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(npy::dsp_fixtures().join("meta.json")).expect("meta.json"),
    )
    .expect("meta.json parses");
    let c = &meta["configs"][name];
    let int = |key: &str| c[key].as_u64().expect(key) as usize;
    let float = |key: &str| c[key].as_f64().expect(key) as f32;
    AudioConfig {
        sample_rate: int("sample_rate") as u32,
        n_fft: int("n_fft"),
        hop_length: int("hop_length"),
        win_length: int("win_length"),
        n_mels: int("n_mels"),
        frames: int("frames"),
        fmin: float("fmin"),
        fmax: float("fmax"),
        top_db: float("top_db"),
        griffin_lim_iters: 32,
    }
}

/// Spectral convergence of `audio` against the reference spectrum.
fn convergence(stft: &mut Stft, reference: &Spectrum, audio: &[f32]) -> f64 {
    let mut rebuilt = Spectrum::default();
    stft.forward(audio, &mut rebuilt);
    spectral_convergence(reference, &rebuilt)
}

#[test]
fn default_config_matches_design() {
    let c = AudioConfig::default();
    assert_eq!(c, config("default"));
    assert_eq!(c.window_samples(), 131_071);
    assert_eq!(c.frames_for(c.window_samples()), c.frames);
    assert!((c.window_secs() - 5.944).abs() < 1e-3);
}

#[test]
fn slaney_mel_scale_round_trips() {
    for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11_025.0] {
        assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
    }
    assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
}

#[test]
fn filterbanks_match_librosa() {
    for name in ["default", "small"] {
        let reference = npy::read(&format!("{name}_filterbank.npy"));
        let fb = MelFilterbank::new(&config(name)).expect("filterbank");
        assert_eq!(reference.shape, vec![fb.n_mels(), fb.n_freqs()]);
        assert_eq!(fb.empty_bands(), 0, "{name}");
        let max_err = fb
            .dense()
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("{name}: filterbank max abs error {max_err:e}");
        assert!(
            max_err <= 1e-6,
            "{name}: filterbank max abs error {max_err}"
        );
    }
}

#[test]
fn mel_db_matches_librosa_above_floor() {
    for name in ["default", "small"] {
        let cfg = config(name);
        let audio = npy::read(&format!("{name}_audio_i16.npy")).data;
        let reference = npy::read(&format!("{name}_mel_db.npy"));
        let (mel, _) = MelTransform::new(&cfg)
            .expect("transform")
            .mel_db(&audio)
            .expect("mel");
        assert_eq!(reference.shape, vec![mel.n_mels, mel.frames]);
        assert_eq!(mel.frames, cfg.frames);
        let (mut max_err, mut compared) = (0.0f32, 0usize);
        for (ours, theirs) in mel.data.iter().zip(&reference.data) {
            if *theirs > -cfg.top_db {
                max_err = max_err.max((ours - theirs).abs());
                compared += 1;
            }
        }
        println!("{name}: mel dB max abs error {max_err:.5} dB over {compared} cells");
        assert!(
            compared > mel.data.len() / 4,
            "{name}: too few cells above the floor"
        );
        assert!(max_err <= 0.01, "{name}: mel dB max abs error {max_err} dB");
    }
}

#[test]
fn unit_mapping_round_trips_and_clamps() {
    let mut v = vec![-80.0, -40.0, 0.0, -100.0, 5.0];
    to_unit(&mut v, 80.0);
    assert_eq!(v, vec![-1.0, 0.0, 1.0, -1.0, 1.0]);
    let mut back = vec![-1.0, 0.0, 1.0, f32::NAN];
    from_unit(&mut back, 80.0);
    assert_eq!(back, vec![-80.0, -40.0, 0.0, -80.0]);
}

#[test]
fn istft_inverts_stft() {
    for name in ["default", "small"] {
        let cfg = config(name);
        let audio = npy::read(&format!("{name}_audio_i16.npy")).data;
        let mut stft = Stft::new(&cfg).expect("stft");
        let mut spec = Spectrum::default();
        stft.forward(&audio, &mut spec);
        let mut back = Vec::new();
        stft.inverse(&spec, audio.len(), &mut back);
        assert_eq!(back.len(), audio.len());
        let err = audio
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "{name}: istft(stft(x)) max error {err}");
    }
}

#[test]
fn griffin_lim_converges_like_librosa() {
    let cfg = config("default");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(npy::dsp_fixtures().join("meta.json")).expect("meta"),
    )
    .expect("json");
    let librosa_sc = &meta["griffin_lim"]["spectral_convergence"];
    let audio = npy::read("default_audio_i16.npy").data;
    let mut stft = Stft::new(&cfg).expect("stft");
    let mut target = Spectrum::default();
    stft.forward(&audio, &mut target);
    let magnitude: Vec<f32> = target.data.iter().map(|c| c.norm()).collect();
    let mut results = Vec::new();
    for (label, settings) in [
        ("classic", GriffinLim::classic(32, 0)),
        ("fast", GriffinLim::fast(32, 0)),
    ] {
        let rec = griffin_lim(&mut stft, &magnitude, audio.len(), settings);
        let sc = convergence(&mut stft, &target, &rec);
        let reference = librosa_sc[format!("stft_{label}")]
            .as_f64()
            .expect("librosa sc");
        println!(
            "Griffin-Lim {label} 32 it: spectral convergence {sc:.4} (librosa {reference:.4})"
        );
        // Random initial phases differ from numpy's, so allow a margin around librosa's figure.
        assert!(
            sc < reference * 1.25 + 0.01,
            "{label}: {sc} vs librosa {reference}"
        );
        results.push(sc);
    }
    assert!(
        results[1] < results[0],
        "momentum should converge faster: {results:?}"
    );

    // The same job as librosa.feature.inverse.mel_to_audio: mel power → magnitude → GL.
    let mut transform = MelTransform::new(&cfg).expect("transform");
    let power = transform.mel_power(&audio).expect("mel power");
    let magnitude = transform.magnitude_from_power(&power).expect("inverse mel");
    let rec = griffin_lim(&mut stft, &magnitude, audio.len(), GriffinLim::fast(32, 0));
    let sc = convergence(&mut stft, &target, &rec);
    let reference = librosa_sc["mel_to_audio"].as_f64().expect("librosa mel sc");
    println!(
        "mel→audio (NNLS + fast GL 32): spectral convergence {sc:.4} (librosa NNLS {reference:.4})"
    );
    assert!(
        sc < reference * 1.5 + 0.02,
        "mel inversion too lossy: {sc} vs librosa {reference}"
    );

    // The model path drops the absolute level (ref = max), so only check it stays sane.
    let mut mel = transform.to_model(&audio).expect("mel");
    assert!(mel.data.iter().all(|v| (-1.0..=1.0).contains(v)));
    let rec = transform
        .from_model(&mel, GriffinLim::fast(32, 0))
        .expect("invert");
    assert_eq!(rec.len(), cfg.window_samples());
    assert!(rec.iter().all(|x| x.is_finite()) && rms(&rec) > 0.0);
    mel.data.iter_mut().for_each(|v| *v = f32::NAN);
    let silent = transform
        .from_model(&mel, GriffinLim::fast(2, 0))
        .expect("nan mel");
    assert!(silent.iter().all(|x| x.is_finite()));
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}
