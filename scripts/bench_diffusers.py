#!/usr/bin/env python3
"""The torch side of engine/benches/generate.rs, timed with the same protocol as the Rust side
(one warm-up, median of RUNS):

1. The UNet loop: the same image-to-image DDIM loop as Refrain's (diffusers' img2img timesteps
   for STEPS and STRENGTH, eta 0, batch 1) with diffusers' DDIMScheduler and
   - without --repo: a UNet2DModel sized like Refrain's default UNet (below);
   - with --repo DIR: that diffusers repo's own UNet and scheduler (the model Refrain imported).
2. With --audio FILE (the window Refrain used: f32 little-endian samples at 22050 Hz), the whole
   variation end to end, mel and Griffin-Lim included:
   - with --repo: the repo's AudioDiffusionPipeline, `pipe(raw_audio=window,
     start_step=STEPS - int(STEPS * STRENGTH), steps=STEPS, eta=0)` (its strength equivalent);
   - without: the same pipeline's steps written out (its `__call__` assigns the start latent to
     channel 0 only, so it cannot take the 4-channel latent of Refrain's base) with diffusers
     parts of the base's sizes: the UNet of 1., an AutoencoderKL encoder and decoder of about the
     base's parameters and FLOPs each, and the pipeline's Mel (librosa mel_to_audio, 32
     Griffin-Lim iterations).
   Stage times come from wrappers around the pipeline's parts (mel, VAE encode, UNet forward,
   VAE decode, Griffin-Lim); "other" is the rest (scheduler steps, PIL/uint8 conversions).

Prints `key value` lines on stdout, or a one-line reason on stderr and exit 1 when
torch/diffusers are not importable. `cargo xtask bench-env` makes a virtualenv where they are.

Usage: bench_diffusers.py C,H,W STEPS STRENGTH THREADS [RUNS] [--repo DIR] [--audio FILE]
"""
import argparse
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("shape")
parser.add_argument("steps", type=int)
parser.add_argument("strength", type=float)
parser.add_argument("threads", type=int)
parser.add_argument("runs", type=int, nargs="?", default=5)
parser.add_argument("--repo", help="diffusers AudioDiffusionPipeline repo (local folder)")
parser.add_argument("--audio", help="f32 LE samples at 22050 Hz: time the whole pipeline on them")
args = parser.parse_args()
threads = args.threads
# numpy's BLAS (librosa's inverse mel) gets the same thread count as torch and ONNX Runtime.
for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(threads))

try:
    import numpy as np
    import torch
    import diffusers
    from diffusers import AudioDiffusionPipeline, AutoencoderKL, DDIMScheduler, UNet2DModel
    from diffusers.pipelines.deprecated.audio_diffusion import Mel
    from PIL import Image
    from torch.utils.flop_counter import FlopCounterMode
except Exception as e:  # noqa: BLE001 - any import failure means "cannot compare"
    print(f"torch/diffusers not importable by {sys.executable} ({e.__class__.__name__}: {e})",
          file=sys.stderr)
    sys.exit(1)

c, h, w = (int(v) for v in args.shape.split(","))
steps, strength, runs = args.steps, args.strength, args.runs

# The Rust side passes the ONNX Runtime intra-op thread count, so both sides get the same cores.
torch.set_num_threads(threads)
torch.manual_seed(0)
out = {}


def gflop(fn):
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def median_run(fn):
    """One warm-up, then `runs` timed calls; returns (median seconds, that call's result)."""
    fn()
    results = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        results.append((time.perf_counter() - start, result))
    results.sort(key=lambda r: r[0])
    return results[len(results) // 2]


pipe = None
if args.repo:
    pipe = AudioDiffusionPipeline.from_pretrained(args.repo)
    pipe.set_progress_bar_config(disable=True)
    unet = pipe.unet.eval()
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
else:
    # Refrain's default UNet: stages 64/128/192, one res block each, single-head self-attention
    # in the middle only, 4.91 M parameters, ≈ 1.8 GFLOP per call. diffusers' up blocks carry
    # one more res block than ours (layers_per_block + 1), so the same widths would give 6.8 M
    # parameters; 48/128/160 with 16 norm groups and a 128-wide time embedding lands at 4.96 M
    # and ≈ 1.8 GFLOP (torch's FlopCounterMode), i.e. the same size in parameters and in work.
    widths = (48, 128, 160)
    unet = UNet2DModel(sample_size=(h, w), in_channels=c, out_channels=c, layers_per_block=1,
                       block_out_channels=widths, norm_num_groups=16, time_embedding_dim=128,
                       attention_head_dim=widths[-1],
                       down_block_types=("DownBlock2D",) * len(widths),
                       up_block_types=("UpBlock2D",) * len(widths)).eval()
    # The manifest's schedule (linear 1e-4..0.02 over 1000 steps, epsilon); eta 0 below.
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                              beta_schedule="linear", clip_sample=False)
out["params"] = sum(p.numel() for p in unet.parameters())

scheduler.set_timesteps(steps)
# diffusers' img2img get_timesteps, which refrain_engine::ddim::Ddim::start_index mirrors.
init_steps = min(int(steps * strength), steps)
start_step = max(steps - init_steps, 0)
timesteps = scheduler.timesteps[start_step * scheduler.order:]
latent = torch.randn(1, c, h, w)


def loop():
    noise = torch.randn(1, c, h, w)
    x = scheduler.add_noise(latent, noise, timesteps[:1])
    with torch.inference_mode():
        for t in timesteps:
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
    return x


seconds, _ = median_run(loop)
out.update(calls=len(timesteps), first_t=int(timesteps[0]), seconds=seconds)
out["unet_gflop"] = gflop(lambda: unet(latent, timesteps[0]))


class Stages:
    """Wall time per pipeline part, accumulated by wrappers around the parts' methods."""

    def __init__(self):
        self.t = {}

    def wrap(self, obj, method, stage):
        inner = getattr(obj, method)

        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                self.t[stage] = self.t.get(stage, 0.0) + time.perf_counter() - start

        setattr(obj, method, timed)  # an instance attribute: nn.Module.__call__ finds it too


def audio_pipeline_4ch(mel, encoder_vae, decoder_vae, unet, scheduler, raw_audio, start_step,
                       steps, generator):
    """AudioDiffusionPipeline.__call__ (diffusers 0.42.1) for raw_audio, batch 1, eta 0, no
    mask, written out for a multi-channel latent (the original writes `images[0, 0]`)."""
    scheduler.set_timesteps(steps)
    size = unet.config.sample_size
    images = torch.randn((1, unet.config.in_channels, *size), generator=generator)
    noise = images.clone()
    mel.load_audio(raw_audio=raw_audio)
    image = mel.audio_slice_to_image(0)
    image = np.frombuffer(image.tobytes(), dtype="uint8").reshape((image.height, image.width))
    image = torch.tensor((image / 255) * 2 - 1, dtype=torch.float)[None, None]
    encoded = encoder_vae.encode(image).latent_dist.sample(generator=generator)
    encoded = encoder_vae.config.scaling_factor * encoded
    if start_step > 0:
        images = scheduler.add_noise(encoded, noise, scheduler.timesteps[start_step - 1])
    for t in scheduler.timesteps[start_step:]:
        eps = unet(images, t)["sample"]
        images = scheduler.step(model_output=eps, timestep=t, sample=images, eta=0.0,
                                generator=generator)["prev_sample"]
    images = decoder_vae.decode(images / decoder_vae.config.scaling_factor)["sample"]
    images = (images / 2 + 0.5).clamp(0, 1)
    images = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    return mel.image_to_audio(Image.fromarray(images[0, :, :, 0]))


def base_vae(block_out_channels):
    n = len(block_out_channels)
    # No mid-block attention (the base's autoencoder has none); one res block per stage.
    return AutoencoderKL(in_channels=1, out_channels=1, latent_channels=c, sample_size=256,
                         layers_per_block=1, block_out_channels=block_out_channels,
                         down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, norm_num_groups=8,
                         mid_block_add_attention=False, scaling_factor=0.8601).eval()


if args.audio:
    window = np.fromfile(args.audio, dtype="<f4").astype(np.float64)
    stages = Stages()
    if pipe is not None:
        encoder_vae = decoder_vae = pipe.vqvae.eval()
        mel = pipe.mel
        out["pipeline"] = "AudioDiffusionPipeline"

        def run_pipeline():
            generator = torch.Generator().manual_seed(0)
            return pipe(raw_audio=window, start_step=start_step, steps=steps, eta=0.0,
                        generator=generator, return_dict=False)
    else:
        # The base's encoder is 0.56 M parameters / 2.5 GFLOP and its decoder 0.54 M / 4.3
        # GFLOP (MODEL_CARD.md; FLOPs counted from its layers). diffusers' blocks put res
        # blocks at full resolution and give the decoder one more per stage, so one config
        # cannot match both: the encoder comes from (16, 32, 48, 96) (0.56 M, 2.5 GFLOP), the
        # decoder from (16, 16, 40, 72) (0.54 M, 4.2 GFLOP), both with latent 4x32x32.
        encoder_vae = base_vae((16, 32, 48, 96))
        decoder_vae = base_vae((16, 16, 40, 72))
        mel = Mel(x_res=256, y_res=256)
        pipe_scheduler = DDIMScheduler.from_config(scheduler.config)
        out["pipeline"] = "AudioDiffusionPipeline-steps-4ch"

        def run_pipeline():
            generator = torch.Generator().manual_seed(0)
            with torch.no_grad():
                return audio_pipeline_4ch(mel, encoder_vae, decoder_vae, unet, pipe_scheduler,
                                          window, start_step, steps, generator)
    out["vae_encoder_params"] = sum(p.numel() for p in encoder_vae.encoder.parameters()) + sum(
        p.numel() for p in encoder_vae.quant_conv.parameters())
    out["vae_decoder_params"] = sum(p.numel() for p in decoder_vae.decoder.parameters()) + sum(
        p.numel() for p in decoder_vae.post_quant_conv.parameters())
    mel_in = torch.zeros(1, 1, 256, 256)
    out["vae_encoder_gflop"] = gflop(lambda: encoder_vae.encode(mel_in))
    out["vae_decoder_gflop"] = gflop(lambda: decoder_vae.decode(torch.zeros(1, c, h, w)))
    stages.wrap(mel, "audio_slice_to_image", "mel")
    stages.wrap(encoder_vae, "encode", "encode")
    stages.wrap(unet, "forward", "unet")
    stages.wrap(decoder_vae, "decode", "decode")
    stages.wrap(mel, "image_to_audio", "vocoder")

    def timed_pipeline():
        stages.t = {}
        run_pipeline()
        return dict(stages.t)

    seconds, parts = median_run(timed_pipeline)
    out["pipeline_seconds"] = seconds
    for stage in ("mel", "encode", "unet", "decode", "vocoder"):
        out[f"pipeline_{stage}"] = parts.get(stage, 0.0)
    out["pipeline_other"] = seconds - sum(parts.values())
    out["pipeline_calls"] = steps - start_step
    out["pipeline_first_t"] = int(scheduler.timesteps[start_step])
    out["griffin_lim_iters"] = mel.n_iter

out["threads"] = torch.get_num_threads()
out["torch"] = torch.__version__
out["diffusers"] = diffusers.__version__
for key, value in out.items():
    print(f"{key} {value}")
