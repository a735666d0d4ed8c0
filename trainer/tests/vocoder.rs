//! The neural vocoder end to end at a tiny size: pairs from known audio, a short training run
//! that lowers the held-out loss and resumes, export, burn vs ONNX Runtime parity through the
//! engine's `NeuralVocoder`, and the fallbacks for a damaged or half-written export.
//!
//! Needs the ONNX Runtime library (`cargo xtask ort`), like the other parity tests.
use burn::tensor::Device;
use refrain_engine::spectrogram::{AudioConfig, Mel, MelTransform};
use refrain_engine::vocoder::{self, neural::SPEC_FILE, NeuralVocoder, Vocoder};
use refrain_trainer::vocoder::{
    export_dir, from_export, latest_checkpoint, load_net, train, Pairs, PhaseSettings,
    VocoderConfig, VocoderNet, VocoderTrainOptions,
};

fn audio_config() -> AudioConfig {
    AudioConfig {
        sample_rate: 8000,
        n_fft: 256,
        hop_length: 64,
        win_length: 256,
        n_mels: 32,
        frames: 32,
        fmin: 0.0,
        fmax: 4000.0,
        top_db: 80.0,
        griffin_lim_iters: 8,
    }
}

fn net_config(audio: &AudioConfig) -> VocoderConfig {
    VocoderConfig {
        n_mels: audio.n_mels,
        n_freqs: audio.n_freqs(),
        dim: 16,
        inner: 32,
        blocks: 2,
        kernel: 7,
    }
}

/// Options for a short run of the tiny network into `out`.
fn tiny_options(out: std::path::PathBuf, steps: usize, audio: &AudioConfig) -> VocoderTrainOptions {
    let mut options = VocoderTrainOptions::new(out, steps);
    options.config = net_config(audio);
    options.batch = 4;
    options.crop = 16;
    options.warmup = 5;
    options.eval_every = 10;
    options.checkpoint_every = 10;
    options
}

/// Seconds of notes: a sine per window whose pitch changes, with a decaying envelope.
fn notes(config: &AudioConfig, seconds: f32, seed: f32) -> Vec<f32> {
    let rate = config.sample_rate as f32;
    let n = (seconds * rate) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate;
            let note = (t * 4.0).floor();
            let f = 200.0 + 150.0 * ((note * 1.7 + seed).sin().abs() * 8.0).floor();
            let env = (-(t * 4.0).fract() * 3.0).exp();
            0.4 * env * (2.0 * std::f32::consts::PI * f * t).sin()
        })
        .collect()
}

fn pairs(config: &AudioConfig, seed: f32) -> Pairs {
    let mut transform = MelTransform::new(config).unwrap();
    let mut pairs = Pairs::new(config);
    let added = pairs
        .add_audio(&notes(config, 6.0, seed), &mut transform)
        .unwrap();
    assert!(added >= 20, "only {added} windows");
    pairs
}

#[test]
fn trains_resumes_exports_and_matches_onnx_runtime() {
    let audio = audio_config();
    let (train_pairs, heldout) = (pairs(&audio, 0.0), pairs(&audio, 0.5));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut options = tiny_options(out.clone(), 30, &audio);
    options.lr = 3e-3;
    let first = train(
        &options,
        &audio,
        &train_pairs,
        &heldout,
        vec!["notes".into()],
    )
    .unwrap();
    let l1_30 = first.state.heldout_l1.unwrap();
    options.steps = 60;
    options.resume = true;
    let second = train(&options, &audio, &train_pairs, &heldout, vec![]).unwrap();
    assert_eq!(second.state.step, 60);
    assert_eq!(second.state.sources, ["notes"], "resumed, not restarted");
    let l1_60 = second.state.heldout_l1.unwrap();
    assert!(l1_60 < l1_30, "held-out L1 {l1_30} → {l1_60}");
    assert_eq!(
        second.state.legs.len(),
        1,
        "a resume on the same data continues its leg"
    );
    assert_eq!(
        (second.state.legs[0].from_step, second.state.legs[0].to_step),
        (0, 60)
    );

    // A leg on more data: the card names both legs and the union of their sources.
    let mut more = train_pairs.clone();
    more.add_synth_loops([1, 2], &audio).unwrap();
    assert!(
        more.len() > train_pairs.len(),
        "the synthetic loops gave windows"
    );
    options.steps = 64;
    let third = train(
        &options,
        &audio,
        &more,
        &heldout,
        vec!["notes".into(), "loops (MIT)".into()],
    )
    .unwrap();
    let legs: Vec<_> = third
        .state
        .legs
        .iter()
        .map(|l| (l.from_step, l.to_step, l.train_windows))
        .collect();
    assert_eq!(legs, [(0, 60, train_pairs.len()), (60, 64, more.len())]);
    assert_eq!(third.state.sources, ["notes", "loops (MIT)"]);

    let (ckpt, state) = latest_checkpoint(&out).unwrap();
    assert_eq!(
        state.legs, third.state.legs,
        "the legs are saved with the checkpoint"
    );
    let device = Device::default();
    let net = load_net(&ckpt, &state, &device).unwrap();
    let dir = tmp.path().join("vocoder");
    let phase = PhaseSettings {
        iters: 4,
        ..PhaseSettings::default()
    };
    let spec = export_dir(&net, &state, phase, "card", &dir).unwrap();
    assert_eq!(spec.audio, audio);
    assert_eq!(spec.phase_iters, 4);

    // burn and ONNX Runtime predict the same magnitudes.
    let (worst, mel) = parity(&net, &heldout, &dir, &audio);
    assert!(worst < 1e-3, "relative burn/ort difference {worst}");
    let mut neural = NeuralVocoder::load(&dir, &audio).unwrap();

    // Renders the window length, finite, reproducible; silence and NaN are survived.
    let expected = audio.frames * audio.hop_length - 1;
    let clip = neural.render(&mel, 1).unwrap();
    assert_eq!(clip.len(), expected);
    assert!(clip.iter().all(|s| s.is_finite()));
    assert_eq!(clip, neural.render(&mel, 1).unwrap());
    let silent = Mel {
        data: vec![-1.0; mel.data.len()],
        ..mel.clone()
    };
    assert!(neural
        .render(&silent, 1)
        .unwrap()
        .iter()
        .all(|s| s.is_finite()));
    let mut broken = mel.clone();
    broken.data[5] = f32::NAN;
    broken.data[9] = f32::NEG_INFINITY;
    assert!(neural
        .render(&broken, 1)
        .unwrap()
        .iter()
        .all(|s| s.is_finite()));
    let wrong = Mel {
        frames: 8,
        data: vec![0.0; audio.n_mels * 8],
        ..mel.clone()
    };
    assert!(neural.render(&wrong, 1).is_err());

    // Through the seam: loads cleanly, then falls back (with a warning naming the problem)
    // once the network is damaged, or when a killed export left no spec.
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &audio, &dir).unwrap();
    assert_eq!((v.name(), warning), (vocoder::NEURAL, None));
    let onnx = dir.join(&spec.network);
    let mut bytes = std::fs::read(&onnx).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&onnx, &bytes).unwrap();
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &audio, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.unwrap().contains("damaged"));
    std::fs::remove_file(dir.join(SPEC_FILE)).unwrap();
    let (v, warning) = vocoder::resolve(vocoder::NEURAL, &audio, &dir).unwrap();
    assert_eq!(v.name(), vocoder::GRIFFIN_LIM);
    assert!(warning.unwrap().contains(SPEC_FILE));

    // A network for another mel format is refused, not fed the wrong shape.
    let other = AudioConfig {
        n_mels: 64,
        ..audio.clone()
    };
    export_dir(&net, &state, PhaseSettings::default(), "card", &dir).unwrap();
    assert!(NeuralVocoder::load(&dir, &other).is_err());
}

/// The largest relative difference between burn's and the engine's (ONNX Runtime's) magnitude
/// for window 3 of `pairs`, with that window's mel; the engine builds the DSP base itself.
fn parity(
    net: &VocoderNet,
    pairs: &Pairs,
    dir: &std::path::Path,
    audio: &AudioConfig,
) -> (f32, Mel) {
    let device = Device::default();
    let w = pairs.windows(&[3], &device);
    let mel_t = w.mel.clone();
    let burn: Vec<f32> = net
        .forward(w.mel, w.base)
        .exp()
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    let mel = Mel {
        n_mels: audio.n_mels,
        frames: audio.frames,
        data: mel_t.to_data().try_to_vec::<f32>().unwrap(),
    };
    let mut neural = NeuralVocoder::load(dir, audio).unwrap();
    let ort = neural.magnitude(&mel).unwrap();
    let (n_freqs, frames) = (audio.n_freqs(), audio.frames);
    let mut worst = 0.0f32;
    for k in 0..n_freqs {
        for t in 0..frames {
            let (a, b) = (burn[k * frames + t], ort[t * n_freqs + k]);
            worst = worst.max((a - b).abs() / a.abs().max(1e-6));
        }
    }
    (worst, mel)
}

#[test]
fn a_network_trained_on_a_cheaper_inversion_is_rendered_with_it() {
    let audio = audio_config();
    let mut transform = MelTransform::with_inverse_steps(&audio, Some(0)).unwrap();
    let mut cheap = Pairs::new(&audio).with_inverse_steps(Some(0));
    cheap
        .add_audio(&notes(&audio, 6.0, 0.0), &mut transform)
        .unwrap();
    assert_ne!(
        cheap.bases,
        pairs(&audio, 0.0).bases,
        "the base is the cheaper inversion's"
    );
    // A transform that inverts differently would mix two bases in one set: refused.
    let mut default_transform = MelTransform::new(&audio).unwrap();
    let err = cheap
        .add_audio(&notes(&audio, 6.0, 0.0), &mut default_transform)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("12 NNLS steps") && err.contains("bases of 0"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let options = tiny_options(tmp.path().join("run"), 10, &audio);
    let report = train(&options, &audio, &cheap, &cheap, vec!["notes".into()]).unwrap();
    assert_eq!(report.state.inverse_steps(), Some(0));
    assert_eq!(report.state.legs[0].inverse_steps, Some(0));
    let (ckpt, state) = latest_checkpoint(&options.out).unwrap();
    let net = load_net(&ckpt, &state, &Device::default()).unwrap();
    let dir = tmp.path().join("vocoder");
    let spec = export_dir(&net, &state, PhaseSettings::default(), "card", &dir).unwrap();
    assert_eq!(spec.inverse_steps, Some(0));
    // The engine feeds the network the same cheaper inversion it learned to correct.
    let (worst, _) = parity(&net, &cheap, &dir, &audio);
    assert!(worst < 1e-3, "relative burn/ort difference {worst}");
}

#[test]
fn training_continues_from_an_export_when_the_checkpoint_is_gone() {
    let audio = audio_config();
    let (train_pairs, heldout) = (pairs(&audio, 0.0), pairs(&audio, 0.5));
    let tmp = tempfile::tempdir().unwrap();
    let options = tiny_options(tmp.path().join("run"), 20, &audio);
    train(
        &options,
        &audio,
        &train_pairs,
        &heldout,
        vec!["notes".into()],
    )
    .unwrap();
    let (ckpt, state) = latest_checkpoint(&options.out).unwrap();
    let device = Device::default();
    let net = load_net(&ckpt, &state, &device).unwrap();
    let dir = tmp.path().join("vocoder");
    export_dir(&net, &state, PhaseSettings::default(), "card", &dir).unwrap();

    // The weights read back from the ONNX network predict what the checkpoint's do.
    let (imported, record) = from_export(&dir, 7, &device).unwrap();
    let w = heldout.windows(&[2], &device);
    let a: Vec<f32> = net
        .forward(w.mel.clone(), w.base.clone())
        .to_data()
        .try_to_vec()
        .unwrap();
    let b: Vec<f32> = imported
        .forward(w.mel, w.base)
        .to_data()
        .try_to_vec()
        .unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "largest difference {worst}");
    assert_eq!((record.step, record.optimizer_from), (20, 20));
    assert_eq!(record.legs, state.legs, "the export carries the legs");
    assert_eq!(record.sources, ["notes"]);

    // A run into an empty directory continues from it, with a fresh optimizer.
    let mut options = VocoderTrainOptions {
        out: tmp.path().join("again"),
        steps: 26,
        init_from: Some(dir.clone()),
        ..options
    };
    let report = train(
        &options,
        &audio,
        &train_pairs,
        &heldout,
        vec!["notes".into()],
    )
    .unwrap();
    assert_eq!(report.state.step, 26);
    assert_eq!(report.state.optimizer_from, 20);
    let legs: Vec<_> = report
        .state
        .legs
        .iter()
        .map(|l| (l.from_step, l.to_step))
        .collect();
    assert_eq!(legs, [(0, 26)], "the same data continues the exported leg");
    let heldout_l1 = report.state.heldout_l1.unwrap();
    assert!(heldout_l1.is_finite());
    // An export already past the steps asked for is refused, saying how far it got.
    let short = VocoderTrainOptions {
        out: tmp.path().join("short"),
        steps: 15,
        ..options.clone()
    };
    let err = train(&short, &audio, &train_pairs, &heldout, vec![])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("already trained to step 20"), "{err}");
    // With a checkpoint there, --resume wins over the export.
    options.steps = 28;
    options.resume = true;
    let resumed = train(&options, &audio, &train_pairs, &heldout, vec![]).unwrap();
    assert_eq!((resumed.state.step, resumed.state.optimizer_from), (28, 20));

    // A damaged network or an export without its training record is refused, saying why.
    let spec_path = dir.join(SPEC_FILE);
    let spec_text = std::fs::read_to_string(&spec_path).unwrap();
    let mut spec: serde_json::Value = serde_json::from_str(&spec_text).unwrap();
    spec.as_object_mut().unwrap().remove("training");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let err = from_export(&dir, 7, &device).err().unwrap().to_string();
    assert!(err.contains("no training record"), "{err}");
    std::fs::write(&spec_path, spec_text).unwrap();
    let onnx = dir.join("vocoder.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&onnx, &bytes).unwrap();
    let err = from_export(&dir, 7, &device).err().unwrap().to_string();
    assert!(err.contains("damaged"), "{err}");
    // Another mel format than the run's is refused before training.
    bytes[middle] ^= 0x55;
    std::fs::write(&onnx, &bytes).unwrap();
    let other = AudioConfig {
        top_db: 60.0,
        ..audio.clone()
    };
    options.out = tmp.path().join("other");
    options.resume = false;
    let err = train(&options, &other, &train_pairs, &heldout, vec![])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another mel format"), "{err}");
}

/// The shipped network reads back into burn, so a fresh clone can train it further.
#[test]
fn the_shipped_vocoder_reads_back_for_further_training() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/vocoder");
    let (_, state) = from_export(&dir, 1, &Device::default()).unwrap();
    assert_eq!(state.audio, AudioConfig::default());
    assert!(state.step > 0 && !state.legs.is_empty());
    assert_eq!(state.legs.last().unwrap().to_step, state.step);
    assert_eq!(state.config.n_mels, state.audio.n_mels);
}

#[test]
fn pairs_hold_level_free_targets() {
    let audio = audio_config();
    let mut transform = MelTransform::new(&audio).unwrap();
    let signal = notes(&audio, 2.0, 0.0);
    let quiet: Vec<f32> = signal.iter().map(|s| s * 0.1).collect();
    let (mut loud, mut soft) = (Pairs::new(&audio), Pairs::new(&audio));
    loud.add_audio(&signal, &mut transform).unwrap();
    soft.add_audio(&quiet, &mut transform).unwrap();
    assert_eq!(loud.len(), soft.len());
    assert!(!loud.is_empty());
    // The mel is relative to its window's maximum, and so is the target: the same music at
    // −20 dB teaches the same mapping.
    let worst = loud
        .log_mags
        .iter()
        .zip(&soft.log_mags)
        .filter(|(a, _)| **a > -8.0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "{worst}");
    let silence = vec![0.0f32; 4 * audio.window_samples()];
    let mut none = Pairs::new(&audio);
    assert_eq!(none.add_audio(&silence, &mut transform).unwrap(), 0);
}
