//! burn forward vs ONNX Runtime on the exported graph, for each network, with tiny random
//! models; then weights patched into / loaded from an exported graph.
//!
//! Needs the ONNX Runtime library (`cargo xtask ort`); fails with the search error when it is
//! missing rather than skipping, like the engine's runtime tests.
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};
use ort::value::{Tensor as OrtTensor, ValueType};
use refrain_engine::runtime;
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::onnx::export::{export_decoder, export_encoder, export_unet, Batch, Exported};
use refrain_trainer::onnx::{load_from_onnx, patch_onnx_initializers};

const TOL: f32 = 1e-4;
const MEL: [usize; 3] = [1, 32, 32];
const LATENT: [usize; 3] = [2, 8, 8];
const EMB: usize = 16;

fn ae_config() -> AutoencoderConfig {
    AutoencoderConfig {
        in_channels: 1,
        latent_channels: LATENT[0],
        channels: vec![8, 16],
        res_blocks: 1,
        norm_groups: 4,
    }
}

fn unet_config() -> UnetConfig {
    UnetConfig {
        latent_channels: LATENT[0],
        embedding_dim: EMB,
        channels: vec![8, 16],
        res_blocks: 1,
        attention: true,
        norm_groups: 4,
    }
}

fn random(shape: Vec<usize>, device: &Device) -> Tensor<4> {
    Tensor::random(
        [shape[0], shape[1], shape[2], shape[3]],
        Distribution::Normal(0.0, 1.0),
        device,
    )
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().unwrap()
}

/// Runs `onnx` in ONNX Runtime (one thread) on named f32 inputs; returns the named output.
fn run_ort(onnx: &[u8], inputs: &[(&str, Vec<usize>, Vec<f32>)], output: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, onnx).unwrap();
    let mut session = runtime::session_from_file(&path, 1).unwrap_or_else(|e| panic!("{e}"));
    let feeds: Vec<(String, ort::value::DynValue)> = inputs
        .iter()
        .map(|(name, shape, data)| {
            let t = OrtTensor::from_array((shape.clone(), data.clone())).unwrap();
            (name.to_string(), t.into_dyn())
        })
        .collect();
    let outputs = session.run(feeds).unwrap();
    let (_, y) = outputs[output].try_extract_tensor::<f32>().unwrap();
    y.to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Names and shapes of a graph's inputs or outputs (-1 for a dynamic axis).
type Signature = Vec<(String, Vec<i64>)>;

/// The graph's I/O names and shapes as ONNX Runtime reads them.
fn io_signature(onnx: &[u8]) -> (Signature, Signature) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, onnx).unwrap();
    let session = runtime::session_from_file(&path, 1).unwrap_or_else(|e| panic!("{e}"));
    let sig = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| match o.dtype() {
                ValueType::Tensor { shape, .. } => (o.name().to_string(), shape.to_vec()),
                other => panic!("{} is not a tensor: {other:?}", o.name()),
            })
            .collect::<Vec<_>>()
    };
    (sig(session.inputs()), sig(session.outputs()))
}

/// The batch a test runs at: 2 when the batch axis is dynamic (proves it), else the fixed one.
fn test_batch(e: &Exported) -> usize {
    match e.batch {
        Batch::Dynamic => 2,
        Batch::Fixed(b) => b,
    }
}

fn dims(batch: &Batch, rest: &[usize]) -> Vec<i64> {
    let b = match batch {
        Batch::Dynamic => -1,
        Batch::Fixed(b) => *b as i64,
    };
    std::iter::once(b)
        .chain(rest.iter().map(|&d| d as i64))
        .collect()
}

#[test]
fn encoder_matches_ort() {
    let device = Device::default();
    let encoder = ae_config().init_encoder(&device).unwrap();
    let exported = export_encoder(&encoder, MEL, 1).unwrap();
    let (inputs, outputs) = io_signature(&exported.onnx);
    assert_eq!(inputs, vec![("mel".into(), dims(&exported.batch, &MEL))]);
    let latent_hw = [LATENT[0], MEL[1] / 4, MEL[2] / 4];
    assert_eq!(
        outputs,
        vec![("latent".into(), dims(&exported.batch, &latent_hw))]
    );

    let b = test_batch(&exported);
    let mel = random(vec![b, MEL[0], MEL[1], MEL[2]], &device);
    let burn_out = values(&encoder.valid().forward(mel.clone()));
    let ort_out = run_ort(
        &exported.onnx,
        &[("mel", mel.dims().to_vec(), values(&mel))],
        "latent",
    );
    let diff = max_diff(&burn_out, &ort_out);
    eprintln!("encoder burn vs ort max abs diff {diff:e}");
    assert!(diff <= TOL, "encoder burn vs ort max abs diff {diff}");
}

#[test]
fn decoder_matches_ort() {
    let device = Device::default();
    let decoder = ae_config().init_decoder(&device).unwrap();
    let exported = export_decoder(&decoder, LATENT, 1).unwrap();
    let (inputs, outputs) = io_signature(&exported.onnx);
    assert_eq!(
        inputs,
        vec![("latent".into(), dims(&exported.batch, &LATENT))]
    );
    let mel = [1, LATENT[1] * 4, LATENT[2] * 4];
    assert_eq!(outputs, vec![("mel".into(), dims(&exported.batch, &mel))]);

    let b = test_batch(&exported);
    let z = random(vec![b, LATENT[0], LATENT[1], LATENT[2]], &device);
    let burn_out = values(&decoder.valid().forward(z.clone()));
    let ort_out = run_ort(
        &exported.onnx,
        &[("latent", z.dims().to_vec(), values(&z))],
        "mel",
    );
    let diff = max_diff(&burn_out, &ort_out);
    eprintln!("decoder burn vs ort max abs diff {diff:e}");
    assert!(diff <= TOL, "decoder burn vs ort max abs diff {diff}");
}

fn unet_inputs(b: usize, device: &Device) -> (Tensor<4>, Tensor<2>) {
    let x = random(vec![b, LATENT[0], LATENT[1], LATENT[2]], device);
    let t = Tensor::random([b, EMB], Distribution::Uniform(-1.0, 1.0), device);
    (x, t)
}

fn unet_ort(onnx: &[u8], x: &Tensor<4>, t: &Tensor<2>) -> Vec<f32> {
    let feeds = [
        ("sample", x.dims().to_vec(), values(x)),
        ("temb", t.dims().to_vec(), values(t)),
    ];
    run_ort(onnx, &feeds, "noise")
}

#[test]
fn unet_matches_ort() {
    let device = Device::default();
    let unet = unet_config().init(&device).unwrap();
    let exported = export_unet(&unet, LATENT, EMB, 1).unwrap();
    let (inputs, outputs) = io_signature(&exported.onnx);
    assert_eq!(
        inputs,
        vec![
            ("sample".into(), dims(&exported.batch, &LATENT)),
            ("temb".into(), dims(&exported.batch, &[EMB])),
        ]
    );
    assert_eq!(
        outputs,
        vec![("noise".into(), dims(&exported.batch, &LATENT))]
    );

    let (x, t) = unet_inputs(test_batch(&exported), &device);
    let burn_out = values(&unet.valid().forward(x.clone(), t.clone()));
    let diff = max_diff(&burn_out, &unet_ort(&exported.onnx, &x, &t));
    eprintln!("unet burn vs ort max abs diff {diff:e}");
    assert!(diff <= TOL, "unet burn vs ort max abs diff {diff}");
}

/// Adds N(0, 0.05²) noise to every float parameter (a stand-in for a fine-tune).
struct Perturb;

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| {
            let noise = Tensor::random(t.dims(), Distribution::Normal(0.0, 0.05), &t.device());
            t + noise
        })
    }
}

#[test]
fn patched_and_loaded_weights_match() {
    let device = Device::default();
    let config = unet_config();
    let unet = config.init(&device).unwrap();
    let exported = export_unet(&unet, LATENT, EMB, 1).unwrap();
    assert_eq!(exported.names.params.len(), unet_param_tensors(&unet));

    let tuned = unet.clone().map(&mut Perturb).valid();
    let patched = patch_onnx_initializers(&exported.onnx, &tuned, &exported.names).unwrap();
    let (x, t) = unet_inputs(test_batch(&exported), &device);
    let tuned_out = values(&tuned.forward(x.clone(), t.clone()));
    let original_out = values(&unet.valid().forward(x.clone(), t.clone()));
    assert!(
        max_diff(&tuned_out, &original_out) > 1e-3,
        "the perturbation must change the output for this test to mean anything"
    );
    let diff = max_diff(&tuned_out, &unet_ort(&patched, &x, &t));
    assert!(
        diff <= TOL,
        "patched graph vs tuned burn max abs diff {diff}"
    );

    let fresh = config.init(&device).unwrap();
    let loaded = load_from_onnx(&patched, fresh, &exported.names).unwrap();
    let loaded_out = values(&loaded.valid().forward(x, t));
    let diff = max_diff(&tuned_out, &loaded_out);
    assert!(
        diff <= 1e-6,
        "loaded module vs tuned module max abs diff {diff}"
    );
}

#[test]
fn loading_into_a_mismatched_module_is_an_error() {
    let device = Device::default();
    let unet = unet_config().init(&device).unwrap();
    let exported = export_unet(&unet, LATENT, EMB, 1).unwrap();
    let wider = UnetConfig {
        channels: vec![8, 24],
        ..unet_config()
    }
    .init(&device)
    .unwrap();
    let err = load_from_onnx(&exported.onnx, wider, &exported.names).unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
}

fn unet_param_tensors<M: Module>(module: &M) -> usize {
    struct Count(usize);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
            self.0 += 1;
        }
    }
    let mut c = Count(0);
    module.visit(&mut c);
    c.0
}

#[test]
fn save_writes_the_graph_and_its_name_map() {
    let device = Device::default();
    let decoder = ae_config().init_decoder(&device).unwrap();
    let exported = export_decoder(&decoder, LATENT, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    exported.save(dir.path(), "decoder").unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("decoder.onnx")).unwrap(),
        exported.onnx
    );
    let names: refrain_trainer::onnx::NameMap =
        serde_json::from_slice(&std::fs::read(dir.path().join("decoder.names.json")).unwrap())
            .unwrap();
    assert_eq!(names, exported.names);
}

#[test]
fn configs_that_cannot_build_are_errors() {
    let device = Device::default();
    let bad_groups = UnetConfig {
        norm_groups: 3,
        ..unet_config()
    };
    assert!(bad_groups.init(&device).is_err());
    let no_stages = AutoencoderConfig {
        channels: vec![],
        ..ae_config()
    };
    assert!(no_stages.init_encoder(&device).is_err());
}

#[test]
fn loading_into_an_autodiff_module_keeps_it_trainable() {
    let device = Device::default();
    let unet = unet_config().init(&device).unwrap();
    let exported = export_unet(&unet, LATENT, EMB, 1).unwrap();
    let ad = device.autodiff();
    let fresh = unet_config().init(&ad).unwrap();
    let loaded = load_from_onnx(&exported.onnx, fresh, &exported.names).unwrap();
    let (x, t) = unet_inputs(1, &ad);
    let loss = loaded.forward(x, t).powi_scalar(2).mean();
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &loaded);
    assert_eq!(grads.len(), exported.names.params.len());
}
