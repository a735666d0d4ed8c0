//! The corpus cache: windows, splits, silence skipping, quantisation and the manifest.
use refrain_engine::audio::{write_wav, Audio};
use refrain_engine::spectrogram::MelTransform;
use refrain_trainer::corpus::{self, AudioSource, BuildOptions, Corpus, Split};

fn tone(seconds: f64, rate: u32, amplitude: f32) -> Audio {
    let n = (seconds * rate as f64) as usize;
    let samples = (0..n)
        .map(|i| amplitude * (2.0 * std::f32::consts::PI * 330.0 * i as f32 / rate as f32).sin())
        .collect();
    Audio::from_mono(rate, samples)
}

#[test]
fn builds_reads_and_splits_a_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("song{i}.wav"));
            // 13 s at 44.1 kHz: two full windows each; the third file is near-silent.
            let amplitude = if i == 2 { 1e-4 } else { 0.3 };
            write_wav(&path, &tone(13.0, 44_100, amplitude)).unwrap();
            path
        })
        .collect();
    let source = AudioSource {
        name: "test".into(),
        licenses: vec!["CC0-1.0".into()],
        copyright: dir.path().join("copyright"),
        files,
    };
    let out = dir.path().join("corpus");
    let mut options = BuildOptions::new(out.clone(), 4);
    options.heldout_every = 2;
    let manifest = corpus::build(&[source], &options).unwrap();
    assert_eq!(manifest.sources.len(), 2);
    let music = &manifest.sources[0];
    // Two windows each from song0 and song1; song2 is below the silence floor.
    assert_eq!((music.files, music.windows), (3, 4));
    // heldout_every = 2 holds out the second file (song1) whole.
    assert_eq!(music.heldout_windows, 2);
    assert_eq!(manifest.windows, 4 + 4);
    assert!(!out.with_extension("partial").exists());

    let corpus = Corpus::open(&out).unwrap();
    assert_eq!(corpus.len(), 8);
    assert_eq!(
        corpus.indices(Split::Train).len() + corpus.indices(Split::Heldout).len(),
        8
    );
    assert_eq!(
        corpus.indices(Split::Heldout).len(),
        manifest.heldout_windows
    );
    let mut transform = MelTransform::new(&options.audio).unwrap();
    let expected = transform
        .to_model(
            &refrain_engine::audio::resample(&tone(13.0, 44_100, 0.3).mono(), 44_100, 22_050)
                .unwrap(),
        )
        .unwrap();
    let cached = corpus.window(0);
    let err = cached
        .iter()
        .zip(&expected.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err <= 1.0 / 255.0 + 1e-6, "quantisation error {err}");
}

#[test]
fn a_truncated_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus");
    corpus::build(&[], &BuildOptions::new(out.clone(), 2)).unwrap();
    let mels = out.join("mels.u8");
    let bytes = std::fs::read(&mels).unwrap();
    std::fs::write(&mels, &bytes[..bytes.len() - 10]).unwrap();
    let err = Corpus::open(&out).err().expect("must fail").to_string();
    assert!(err.contains("inconsistent"), "{err}");
}

#[test]
fn license_names_come_from_dep5_fields() {
    let text = "Format: x\n\nFiles: *\nLicense: GPL-2+\n\nFiles: music/*\nLicense: CC-BY-SA-3.0\n\nLicense: GPL-2+\n text";
    assert_eq!(corpus::license_names(text), vec!["GPL-2+", "CC-BY-SA-3.0"]);
    assert_eq!(
        corpus::license_names("free text"),
        vec!["see copyright file"]
    );
}
