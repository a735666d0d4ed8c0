//! Sizes and speeds of the default networks: parameter counts, ONNX Runtime forward time
//! (batch 1, one intra-op thread) and the burn flex training step of the UNet at batch 8.
//!
//! `cargo run -p refrain-trainer --example measure [-- --runs N --steps N --unet JSON]`
use anyhow::Result;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::onnx::export::{export_decoder, export_encoder, export_unet, Exported};
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `--unet '{"channels": [...], ...}'` overrides the default UNet config (for size sweeps).
fn unet_config() -> Result<UnetConfig> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--unet") {
        Some(i) => Ok(serde_json::from_str(args.get(i + 1).map_or("", |s| s))?),
        None => Ok(UnetConfig::default()),
    }
}

fn ort_ms(exported: &Exported, inputs: &[(&str, Vec<usize>)], runs: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.onnx");
    std::fs::write(&path, &exported.onnx)?;
    let mut session = refrain_engine::runtime::session_from_file(&path, 1)?;
    let mut times = Vec::new();
    for i in 0..runs + 2 {
        let feeds: Vec<(String, ort::value::DynValue)> = inputs
            .iter()
            .map(|(n, s)| {
                let len = s.iter().product();
                let t = ort::value::Tensor::from_array((s.clone(), vec![0.1f32; len]))?;
                Ok((n.to_string(), t.into_dyn()))
            })
            .collect::<Result<_>>()?;
        let start = Instant::now();
        session.run(feeds)?;
        if i >= 2 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

fn main() -> Result<()> {
    let runs = arg("--runs", 10);
    let steps = arg("--steps", 3);
    let ae = AutoencoderConfig::default();
    let un = unet_config()?;
    let device = Device::default();
    let encoder = ae.init_encoder(&device)?;
    let decoder = ae.init_decoder(&device)?;
    let unet = un.init(&device)?;
    let f = ae.downsampling();
    let (mels, frames) = (256, 256);
    let latent = [ae.latent_channels, mels / f, frames / f];
    println!(
        "params: encoder {} decoder {} unet {}",
        encoder.num_params(),
        decoder.num_params(),
        unet.num_params()
    );

    let t = Instant::now();
    let enc = export_encoder(&encoder, [1, mels, frames], 1)?;
    let dec = export_decoder(&decoder, latent, 1)?;
    let une = export_unet(&unet, latent, un.embedding_dim, 1)?;
    println!("export all three: {:.1} s", t.elapsed().as_secs_f64());
    for (name, e) in [("encoder", &enc), ("decoder", &dec), ("unet", &une)] {
        println!(
            "{name}: batch {:?}, {} bytes, {} initializers mapped{}",
            e.batch,
            e.onnx.len(),
            e.names.params.len(),
            e.dynamic_refused
                .as_deref()
                .map(|r| format!(" (dynamic refused: {r})"))
                .unwrap_or_default()
        );
    }
    let l = latent.to_vec();
    let b1 = |rest: &[usize]| std::iter::once(1).chain(rest.iter().copied()).collect();
    println!(
        "ort ms (batch 1, 1 thread, median of {runs}): encoder {:.1} decoder {:.1} unet {:.1}",
        ort_ms(&enc, &[("mel", vec![1, 1, mels, frames])], runs)?,
        ort_ms(&dec, &[("latent", b1(&l))], runs)?,
        ort_ms(
            &une,
            &[("sample", b1(&l)), ("temb", vec![1, un.embedding_dim])],
            runs
        )?,
    );

    // One UNet training step at batch 8: forward, MSE loss, backward, Adam update.
    let ad = device.clone().autodiff();
    let mut model = un.init(&ad)?;
    let mut optim = AdamConfig::new().init();
    let b = 8;
    for step in 0..steps {
        let x = Tensor::<4>::random(
            [b, latent[0], latent[1], latent[2]],
            Distribution::Normal(0.0, 1.0),
            &ad,
        );
        let temb =
            Tensor::<2>::random([b, un.embedding_dim], Distribution::Uniform(-1.0, 1.0), &ad);
        let noise = Tensor::<4>::random(x.dims(), Distribution::Normal(0.0, 1.0), &ad);
        let start = Instant::now();
        let pred = model.forward(x, temb);
        let diff = pred - noise;
        let loss = (diff.clone() * diff).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        let value = loss.into_scalar::<f32>();
        println!(
            "train step {step} (batch {b}): {:.0} ms, loss {value:.4}",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
