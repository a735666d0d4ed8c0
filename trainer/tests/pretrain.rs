//! Pretraining on a tiny synthesised corpus with tiny networks: the autoencoder learns, a
//! resumed UNet run ends exactly where an uninterrupted one does, and an export loads in the
//! engine and round-trips a mel.
//!
//! The export test needs the ONNX Runtime library (`cargo xtask ort`), like the parity tests.
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::spectrogram::Mel;
use refrain_trainer::corpus::{self, BuildOptions, Corpus, Split};
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::pretrain::version::{export_version, ExportOptions};
use refrain_trainer::pretrain::{
    checkpoint_dir, pretrain, read_loss_log, PretrainOptions, Stage, TrainState,
};
use refrain_trainer::versions::GUARD_FILE;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

mod support;

/// Runs are serialised: fresh runs seed burn's global RNG before initialising weights, and two
/// tests initialising at once would interleave their draws.
static SERIAL: Mutex<()> = Mutex::new(());

fn ae_config() -> AutoencoderConfig {
    support::autoencoder()
}

fn unet_config() -> UnetConfig {
    support::unet()
}

/// A 32×32-mel corpus of 9 synthesised loops (3 held out), and an autoencoder trained 20 steps
/// on it — built once for all tests.
struct Fixture {
    _dir: tempfile::TempDir,
    corpus: PathBuf,
    train: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        let mut build = BuildOptions::new(corpus.clone(), 9);
        build.audio = support::audio();
        build.heldout_every = 3;
        corpus::build(&[], &build).unwrap();
        let train = dir.path().join("train");
        let mut options = options(Stage::Autoencoder, &corpus, &train, 20);
        options.lr = Some(3e-3);
        options.eval_every = 5;
        let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        pretrain(&options).unwrap();
        Fixture {
            _dir: dir,
            corpus,
            train,
        }
    })
}

fn options(stage: Stage, corpus: &Path, train: &Path, steps: usize) -> PretrainOptions {
    let out = train.join(stage_dir(stage));
    let mut o = PretrainOptions::new(stage, corpus.to_path_buf(), out, steps);
    o.autoencoder = ae_config();
    o.unet = unet_config();
    o.batch = Some(4);
    o.warmup = 2;
    o.eval_windows = 4;
    o
}

#[test]
fn autoencoder_loss_decreases() {
    let f = fixture();
    let log = read_loss_log(&f.train.join("autoencoder")).unwrap();
    let heldout: Vec<f32> = log.iter().filter_map(|r| r.heldout).collect();
    assert_eq!(heldout.len(), 4, "{log:?}");
    assert!(heldout[3] < heldout[0] * 0.8, "held-out L1 {heldout:?}");
    let train: Vec<f32> = log.iter().map(|r| r.loss).collect();
    assert!(train.last() < train.first(), "train L1 {train:?}");
    let state = TrainState::load(&checkpoint_dir(&f.train.join("autoencoder")).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(state.step, 20);
    assert!(state.latent_std.is_some_and(|s| s > 0.0));
}

/// Every float parameter of a module, in visiting order.
fn params<M: Module>(m: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().to_data().iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

fn unet_params(ckpt: &Path, file: &str) -> Vec<f32> {
    let device = Device::flex();
    let m = unet_config().init(&device).unwrap();
    params(&m.load_file(ckpt.join(file)))
}

#[test]
fn resumed_unet_run_matches_an_uninterrupted_one() {
    let f = fixture();
    let run = |name: &str, stops: &[usize]| {
        let root = f.train.parent().unwrap().join(name);
        for (k, &steps) in stops.iter().enumerate() {
            let mut o = options(Stage::Unet, &f.corpus, &root, steps);
            o.autoencoder_dir = Some(f.train.join("autoencoder"));
            o.resume = k > 0;
            o.eval_every = 2;
            o.checkpoint_every = 2;
            let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
            pretrain(&o).unwrap();
        }
        root.join("unet")
    };
    let straight = run("straight", &[6]);
    let resumed = run("resumed", &[3, 6]);
    let (a, b) = (
        checkpoint_dir(&straight).unwrap(),
        checkpoint_dir(&resumed).unwrap(),
    );
    let (sa, sb) = (
        TrainState::load(&a).unwrap().unwrap(),
        TrainState::load(&b).unwrap().unwrap(),
    );
    assert_eq!((sa.step, sb.step), (6, 6));
    assert!(sa.latent_scale.is_some_and(|s| s.is_finite() && s > 0.0));
    assert_eq!(sa.latent_scale, sb.latent_scale);
    for file in ["model.bpk", "ema.bpk"] {
        let (pa, pb) = (unet_params(&a, file), unet_params(&b, file));
        assert_eq!(pa.len(), pb.len());
        let diff = pa
            .iter()
            .zip(&pb)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert_eq!(diff, 0.0, "{file}: resumed weights differ by up to {diff}");
    }
    assert_eq!(sa.heldout_loss, sb.heldout_loss);
    // The interrupted run also logged its last step before stopping (3); every step the
    // uninterrupted run evaluated has the same held-out loss in both logs.
    let heldout = |d: &Path| -> Vec<(usize, f32)> {
        read_loss_log(d)
            .unwrap()
            .iter()
            .filter_map(|r| r.heldout.map(|h| (r.step, h)))
            .collect()
    };
    let (ha, hb) = (heldout(&straight), heldout(&resumed));
    assert_eq!(ha.len(), 3);
    for entry in &ha {
        assert!(hb.contains(entry), "{entry:?} missing from {hb:?}");
    }
}

#[test]
fn export_loads_in_the_engine_and_round_trips() {
    let f = fixture();
    let root = f.train.parent().unwrap().join("export");
    let mut o = options(Stage::Unet, &f.corpus, &root, 2);
    o.autoencoder_dir = Some(f.train.join("autoencoder"));
    {
        let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        pretrain(&o).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    let ae_link = root.join("autoencoder");
    copy_dir(&f.train.join("autoencoder"), &ae_link);
    let version = root.join("version");
    let manifest = export_version(&ExportOptions {
        checkpoints: root.clone(),
        out: version.clone(),
        name: "tiny".into(),
        fixed_batch: 1,
        corpus: Some(f.corpus.clone()),
    })
    .unwrap();
    assert_eq!(manifest.version, 0);
    assert_eq!(
        (
            manifest.latent.channels,
            manifest.latent.height,
            manifest.latent.width
        ),
        (2, 8, 8)
    );
    let training = manifest.training.as_ref().unwrap();
    assert_eq!(training["unet"]["run"]["steps"], 2);
    assert_eq!(training["autoencoder"]["run"]["steps"], 20);
    // The held-out guard ships: the 3 held-out windows' latents, 2×8×8 f32 each.
    assert!(manifest.files.contains_key(GUARD_FILE));
    let guard = std::fs::metadata(version.join(GUARD_FILE)).unwrap().len();
    assert_eq!(guard, 3 * 2 * 8 * 8 * 4);

    let options = ModelOptions {
        provider: Provider::Cpu,
        intra_threads: 1,
        warm_up: true,
    };
    let mut model = Model::load(&version, options).unwrap_or_else(|e| panic!("{e}"));
    let corpus = Corpus::open(&f.corpus).unwrap();
    let i = corpus.indices(Split::Heldout)[0];
    let mel = Mel {
        n_mels: 32,
        frames: 32,
        data: corpus.window(i),
    };
    let latent = model.encode(&mel).unwrap();
    assert_eq!(latent.len(), 2 * 8 * 8);
    let back = model.decode(&latent).unwrap();
    let l1 = back
        .data
        .iter()
        .zip(&mel.data)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / mel.data.len() as f32;
    // 20 tiny steps: far from good, but clearly better than a constant mid-range guess.
    assert!(l1.is_finite() && l1 < 0.5, "round-trip mel L1 {l1}");
}

#[test]
fn unet_resumed_on_a_newer_autoencoder_restarts_its_weight_average() {
    let f = fixture();
    let root = f.train.parent().unwrap().join("moved");
    copy_dir(&f.train.join("autoencoder"), &root.join("autoencoder"));
    let stage = |stage: Stage, steps: usize, resume: bool| {
        let mut o = options(stage, &f.corpus, &root, steps);
        o.autoencoder_dir = Some(root.join("autoencoder"));
        o.resume = resume;
        o.lr = Some(3e-3);
        o.eval_every = 2;
        o.checkpoint_every = 2;
        let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        pretrain(&o).unwrap();
        TrainState::load(&checkpoint_dir(&root.join(stage_dir(stage))).unwrap())
            .unwrap()
            .unwrap()
    };
    let first = stage(Stage::Unet, 2, false);
    assert_eq!((first.autoencoder_step, first.ema_since), (Some(20), None));
    assert_eq!(stage(Stage::Autoencoder, 22, true).step, 22);
    let moved = stage(Stage::Unet, 4, true);
    assert_eq!(moved.autoencoder_step, Some(22));
    // The average of weights fitted to the old latents is dropped where the latents changed.
    assert_eq!(moved.ema_since, Some(2));
    assert_ne!(moved.latent_scale, first.latent_scale);
}

fn stage_dir(stage: Stage) -> &'static str {
    match stage {
        Stage::Autoencoder => "autoencoder",
        Stage::Unet => "unet",
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
