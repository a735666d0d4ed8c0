//! The burn rebuild of diffusers' UNet2DModel and AutoencoderKL against diffusers itself: the
//! fixture repos in tests/fixtures/diffusers (random weights, every block type of the family, at
//! small widths) and their reference outputs come from scripts/make_diffusers_fixtures.py.
use burn::tensor::{Device, Tensor, TensorData};
use refrain_engine::ddim::timestep_embeddings;
use refrain_trainer::diffusers::{self, DiffusersError};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../engine/tests/support/npy.rs"]
mod npy;
mod support;

/// Largest difference allowed per network output (the bound).
const NET_TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/diffusers")
}

fn reference(name: &str) -> npy::Npy {
    npy::read_file(&fixtures().join("reference").join(format!("{name}.npy")))
}

fn tensor(a: &npy::Npy, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = a.shape.clone().try_into().expect("a 4-D reference");
    Tensor::from_data(TensorData::new(a.data.clone(), shape), device)
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 output")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The UNet's noise prediction at three timesteps, fed the engine's own timestep embedding.
fn check_unet(repo: &str, prefix: &str) {
    let device = Device::flex();
    let (config, unet) =
        diffusers::load_unet(&fixtures().join(repo), true, &device).expect("loads");
    let input = reference(&format!("{prefix}_input"));
    let width = config.block_out_channels[0];
    for t in [999, 500, 10] {
        let proj = reference(&format!("{prefix}_time_proj_t{t}"));
        let ours = timestep_embeddings(&[t as f32], width);
        let proj_diff = max_diff(&ours, &proj.data);
        // torch's f32 `exp` differs from the engine's f64 formula by a few 1e-6 at t = 999.
        assert!(
            proj_diff < 2e-5,
            "{repo} t={t}: timestep embedding differs by {proj_diff}"
        );
        let temb = Tensor::from_data(TensorData::new(ours, [1, width]), &device);
        let eps = values(unet.forward(tensor(&input, &device), temb));
        let want = reference(&format!("{prefix}_eps_t{t}"));
        let diff = max_diff(&eps, &want.data);
        println!("{repo} t={t}: max |ε − diffusers| = {diff:.2e}");
        assert!(
            diff <= NET_TOLERANCE,
            "{repo} t={t}: noise prediction differs by {diff}"
        );
    }
}

#[test]
fn latent_unet_from_a_pytorch_bin_matches_diffusers() {
    check_unet("latent-tiny", "latent_unet");
}

#[test]
fn pixel_unet_from_safetensors_matches_diffusers() {
    check_unet("pixel-tiny", "pixel_unet");
}

#[test]
fn a_checkpoint_with_pre_0_14_attention_names_loads_to_the_same_network() {
    check_unet("latent-tiny-legacy", "latent_unet");
}

#[test]
fn vae_encode_and_decode_match_diffusers() {
    let device = Device::flex();
    let (_, encoder, decoder) =
        diffusers::load_vae(&fixtures().join("latent-tiny"), &device).expect("loads");
    let image = reference("mel_image");
    let image = npy::Npy {
        shape: vec![1, 1, image.shape[0], image.shape[1]],
        data: image.data,
    };
    let mean = values(encoder.forward(tensor(&image, &device)));
    let diff = max_diff(&mean, &reference("vae_encode_mean").data);
    println!("encode: max |mean − diffusers| = {diff:.2e}");
    assert!(diff <= NET_TOLERANCE, "posterior mean differs by {diff}");
    let latent = reference("vae_decode_input");
    let decoded = values(decoder.forward(tensor(&latent, &device)));
    let diff = max_diff(&decoded, &reference("vae_decode").data);
    println!("decode: max |image − diffusers| = {diff:.2e}");
    assert!(diff <= NET_TOLERANCE, "decoded image differs by {diff}");
}

fn copy_repo(name: &str, to: &Path) {
    support::copy_dir(&fixtures().join(name), to);
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[test]
fn an_unsupported_block_type_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo("latent-tiny", dir.path());
    edit_json(&dir.path().join("unet/config.json"), |c| {
        c["down_block_types"][1] = "CrossAttnDownBlock2D".into();
    });
    let err = diffusers::load_unet(dir.path(), true, &Device::flex()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DiffusersError::Config { .. }), "{text}");
    assert!(
        text.contains("CrossAttnDownBlock2D") && text.contains("not supported"),
        "{text}"
    );
}

#[test]
fn weights_that_do_not_fit_the_config_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo("latent-tiny", dir.path());
    // One resnet per block more than the weights hold.
    edit_json(&dir.path().join("unet/config.json"), |c| {
        c["layers_per_block"] = 3.into()
    });
    let err = diffusers::load_unet(dir.path(), true, &Device::flex()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DiffusersError::Weights { .. }), "{text}");
    assert!(
        text.contains("do not fit") || text.contains("not in the file"),
        "{text}"
    );
    assert!(
        text.contains("up_blocks.0.resnets.2") || text.contains("resnets.2"),
        "names a tensor: {text}"
    );
}

#[test]
fn a_component_without_weights_says_so() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo("pixel-tiny", dir.path());
    std::fs::remove_file(dir.path().join("unet/diffusion_pytorch_model.safetensors")).unwrap();
    let err = diffusers::load_unet(dir.path(), true, &Device::flex()).unwrap_err();
    assert!(
        matches!(err, DiffusersError::MissingWeights { .. }),
        "{err}"
    );
}
