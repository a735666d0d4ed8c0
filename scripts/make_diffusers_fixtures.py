#!/usr/bin/env python3
"""Writes tiny random-weight diffusers checkpoints of the teticio/audio-diffusion family, and
reference outputs computed by diffusers itself, for Rust tests of Refrain's diffusers import.

Run from the repository root, with the venv that `cargo xtask bench-env` builds plus librosa:
    cargo xtask bench-env
    ~/.cache/refrain/bench-venv/bin/pip install librosa safetensors
    ~/.cache/refrain/bench-venv/bin/python scripts/make_diffusers_fixtures.py
Written with torch 2.15.0, diffusers 0.42.1, librosa 0.11.0, numpy 2.4 (meta.json records them).
The Rust tests read only the files written here; they never run Python.

What it writes under tests/fixtures/diffusers/:
  latent-tiny/         an AudioDiffusionPipeline repo exactly as `save_pretrained` lays it out:
                       model_index.json, unet/ and vqvae/ (config.json + PyTorch-pickle
                       diffusion_pytorch_model.bin, as the teticio repos ship), mel/mel_config.json,
                       scheduler/scheduler_config.json (DDIM)
  latent-tiny-legacy/  the same repo and weights, but the attention parameters in the .bin files
                       carry the pre-0.14 diffusers names (query/key/value/proj_attn instead of
                       to_q/to_k/to_v/to_out.0), as checkpoints saved in 2022 do; diffusers renames
                       them on load (ModelMixin._fix_state_dict_keys_on_load), checked below
  pixel-tiny/          a pixel repo (no vqvae): unet/ with .safetensors weights, DDPM scheduler
  reference/           float32 .npy references, keys.txt (state-dict names and shapes), meta.json
                       (shapes, seeds, versions and how each file was computed)

The networks use the published block types and layout (the published configs: docs/ARCHITECTURE.md and the hub repos' config.json files)
at small widths. All parameters are drawn from numpy's default_rng (not torch's initialisers), so the
weights do not depend on torch's init code: conv/linear weights N(0, 1/fan_in), biases N(0, 0.1^2),
GroupNorm weights 1 + N(0, 0.2^2) and biases N(0, 0.2^2) (not 1/0, so a loader that drops or swaps
them fails). Inputs are float32 numpy draws from fixed seeds, saved next to the outputs; the only
torch random numbers are the pipeline's own (the VAE posterior sample), and those are saved too.
torch runs single-threaded with deterministic algorithms, so a re-run on the same machine writes
byte-identical files (the script's last step checks the .npy files against a second computation).
"""
import collections
import hashlib
import json
import os
import shutil
import sys
import warnings

import numpy as np
import torch

import diffusers
import librosa
from diffusers import (AudioDiffusionPipeline, AutoencoderKL, DDIMScheduler, DDPMScheduler,
                       UNet2DModel)
from diffusers.pipelines.deprecated.audio_diffusion import Mel
from diffusers.utils.torch_utils import randn_tensor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "diffusers")
REF = os.path.join(ROOT, "reference")

# The family's mel format at a 64x64 resolution (the real models use 256x256).
MEL = dict(x_res=64, y_res=64, sample_rate=22050, n_fft=2048, hop_length=512, top_db=80, n_iter=32)

# UNet: the published block pattern (down: plain ... Attn, plain; up: plain, Attn, plain ...) on
# three levels; the attention level is the second-to-last going down and its mirror going up,
# exactly as in teticio's six-level (128,128,256,256,512,512) UNet.
UNET_COMMON = dict(
    layers_per_block=2,
    block_out_channels=(16, 16, 32),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    mid_block_type="UNetMidBlock2D",
    attention_head_dim=8,
    norm_num_groups=4,
    norm_eps=1e-5,
    act_fn="silu",
    center_input_sample=False,
    downsample_padding=1,
    flip_sin_to_cos=True,
    freq_shift=0,
    mid_block_scale_factor=1,
    time_embedding_type="positional",
)

# VAE: four DownEncoderBlock2D / UpDecoderBlock2D like teticio's (128, 256, 512, 512) AutoencoderKL,
# so the latent is 1/8 of the image side: 64x64 -> 8x8 (the real one: 256x256 -> 32x32).
VAE = dict(
    in_channels=1,
    out_channels=1,
    latent_channels=1,
    sample_size=MEL["x_res"],
    layers_per_block=2,
    block_out_channels=(8, 16, 16, 16),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    act_fn="silu",
    norm_num_groups=4,
    scaling_factor=0.18215,
)
LATENT = MEL["x_res"] // 2 ** (len(VAE["block_out_channels"]) - 1)

# Schedulers as teticio's train_unet.py builds them: DDIMScheduler(num_train_timesteps=1000) /
# DDPMScheduler(num_train_timesteps=1000), i.e. the diffusers defaults (linear betas 1e-4..0.02,
# clip_sample=True, set_alpha_to_one=True, steps_offset=0, epsilon, "leading" spacing).
DDIM = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
            clip_sample=True, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon")
DDPM = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
            clip_sample=True, variance_type="fixed_small", prediction_type="epsilon")

SEEDS = dict(latent_unet_weights=1, vae_weights=2, pixel_unet_weights=3, audio=10,
             unet_input_latent=11, unet_input_pixel=12, vae_decode_input=13, img2img_noise=14,
             posterior_generator=15)
UNET_TIMESTEPS = [999, 500, 10]
IMG2IMG = dict(steps=10, start_step=5, eta=0.0)

LEGACY_ATTN = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def randomize(model, seed):
    """Overwrites every parameter from numpy's default_rng(seed), in state_dict order."""
    rng = np.random.default_rng(seed)
    norms = {name for name, m in model.named_modules()
             if isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm))}
    state = model.state_dict()
    new = {}
    for key, value in state.items():
        module, _, kind = key.rpartition(".")
        shape = tuple(value.shape)
        if module in norms:
            base = 1.0 if kind == "weight" else 0.0
            arr = base + 0.2 * rng.standard_normal(shape)
        elif kind == "weight":
            fan_in = int(np.prod(shape[1:]))
            arr = rng.standard_normal(shape) / np.sqrt(fan_in)
        else:
            arr = 0.1 * rng.standard_normal(shape)
        new[key] = torch.from_numpy(arr.astype(np.float32))
    model.load_state_dict(new, strict=True)
    return model.eval()


def signal(seed, n, sr):
    """A chord with vibrato, a rising sweep and decaying noise bursts; float32 in [-0.95, 0.95]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for f in (220.0, 277.18, 329.63, 440.0, 1760.0):
        y += 0.12 * np.sin(2 * np.pi * f * t + 0.8 * np.sin(2 * np.pi * 5.0 * t))
    y += 0.1 * np.sin(2 * np.pi * (100.0 * t + 0.5 * 3000.0 * t * t / t[-1]))
    for k in range(4):
        start = k * n // 4
        env = np.exp(-np.arange(n - start) / (0.02 * sr))
        y[start:] += 0.3 * rng.standard_normal(n - start) * env
    y /= np.max(np.abs(y)) / 0.95
    return y.astype(np.float32)


def randn(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class Writer:
    """Saves float32 .npy files under reference/ and records how each was made."""

    def __init__(self):
        self.files = {}

    def save(self, name, array, how):
        array = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
        if not np.all(np.isfinite(array)):
            raise SystemExit(f"{name}: non-finite values")
        np.save(os.path.join(REF, name + ".npy"), array)
        self.files[name + ".npy"] = dict(shape=list(array.shape), how=how,
                                         min=float(array.min()), max=float(array.max()),
                                         std=float(array.std()))
        return array


def t_tensor(t):
    # What the pipeline passes: one element of scheduler.timesteps, a 0-d int64 tensor.
    return torch.tensor(t, dtype=torch.int64)


def unet_references(w, unet, prefix, x, what):
    w.save(f"{prefix}_input", x, f"the fixed input of {what}: numpy default_rng randn")
    xt = torch.from_numpy(x)
    for t in UNET_TIMESTEPS:
        proj = unet.time_proj(t_tensor(t)[None])
        emb = unet.time_embedding(proj)
        out = unet(xt, t_tensor(t)).sample
        w.save(f"{prefix}_time_proj_t{t}", proj,
               f"{what}.time_proj(tensor([{t}])): get_timestep_embedding(dim={unet.config.block_out_channels[0]}, "
               "flip_sin_to_cos=True, downscale_freq_shift=0, scale=1, max_period=10000) -> [cos | sin]")
        w.save(f"{prefix}_time_emb_t{t}", emb,
               f"{what}.time_embedding(time_proj): linear_1 -> SiLU -> linear_2")
        w.save(f"{prefix}_eps_t{t}", out, f"{what}({prefix}_input, tensor({t}, int64)).sample")


def block_outputs(model, names, run):
    """Runs `run()` with forward hooks on the named submodules; returns name -> first output."""
    outs, hooks = {}, []
    for name in names:
        module = model.get_submodule(name)

        def hook(_m, _inp, out, name=name):
            outs[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()

        hooks.append(module.register_forward_hook(hook))
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return outs


def legacy_state_dict(model):
    """The model's state dict with pre-0.14 attention names (what 2022 checkpoints contain)."""
    paths = []

    def find(name, module):
        if getattr(module, "_from_deprecated_attn_block", False):
            paths.append(name)
        for sub, child in module.named_children():
            find(sub if name == "" else f"{name}.{sub}", child)

    find("", model)
    out = collections.OrderedDict()  # what torch.save(model.state_dict()) pickles
    for key, value in model.state_dict().items():
        for path in paths:
            for new, old in LEGACY_ATTN.items():
                if key.startswith(f"{path}.{new}."):
                    key = f"{path}.{old}." + key[len(f"{path}.{new}."):]
        out[key] = value
    return out


def compute(w):
    """Builds the repos and computes every reference. Returns the meta dict."""
    torch.manual_seed(0)
    meta = {}

    # ---- networks -----------------------------------------------------------------------------
    latent_unet = randomize(UNet2DModel(sample_size=LATENT, in_channels=VAE["latent_channels"],
                                        out_channels=VAE["latent_channels"], **UNET_COMMON),
                            SEEDS["latent_unet_weights"])
    vae = randomize(AutoencoderKL(**VAE), SEEDS["vae_weights"])
    pixel_unet = randomize(UNet2DModel(sample_size=MEL["x_res"], in_channels=1, out_channels=1,
                                       **UNET_COMMON), SEEDS["pixel_unet_weights"])
    mel = Mel(**MEL)
    latent_pipe = AudioDiffusionPipeline(vqvae=vae, unet=latent_unet, mel=mel,
                                         scheduler=DDIMScheduler(**DDIM))
    pixel_pipe = AudioDiffusionPipeline(vqvae=None, unet=pixel_unet, mel=Mel(**MEL),
                                        scheduler=DDPMScheduler(**DDPM))

    latent_dir = os.path.join(ROOT, "latent-tiny")
    pixel_dir = os.path.join(ROOT, "pixel-tiny")
    legacy_dir = os.path.join(ROOT, "latent-tiny-legacy")
    for d in (latent_dir, pixel_dir, legacy_dir):
        shutil.rmtree(d, ignore_errors=True)
    latent_pipe.save_pretrained(latent_dir, safe_serialization=False)
    pixel_pipe.save_pretrained(pixel_dir, safe_serialization=True)
    # The legacy copy: same files, attention tensors renamed inside the two .bin files.
    shutil.copytree(latent_dir, legacy_dir)
    for sub, model in (("unet", latent_unet), ("vqvae", vae)):
        torch.save(legacy_state_dict(model), os.path.join(legacy_dir, sub, "diffusion_pytorch_model.bin"))

    # Load back what was written: the references come from the models as diffusers loads them.
    latent_pipe = AudioDiffusionPipeline.from_pretrained(latent_dir, use_safetensors=False)
    pixel_pipe = AudioDiffusionPipeline.from_pretrained(pixel_dir, use_safetensors=True)
    legacy_pipe = AudioDiffusionPipeline.from_pretrained(legacy_dir, use_safetensors=False)
    latent_pipe.set_progress_bar_config(disable=True)
    latent_unet, vae, pixel_unet = latent_pipe.unet.eval(), latent_pipe.vqvae.eval(), pixel_pipe.unet.eval()
    for a, b in ((latent_unet, legacy_pipe.unet), (vae, legacy_pipe.vqvae)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), "legacy load"
    assert pixel_pipe.vqvae is None

    params = {
        "latent-tiny/unet": sum(p.numel() for p in latent_unet.parameters()),
        "latent-tiny/vqvae": sum(p.numel() for p in vae.parameters()),
        "pixel-tiny/unet": sum(p.numel() for p in pixel_unet.parameters()),
    }
    meta["parameter_counts"] = params

    # ---- keys.txt -------------------------------------------------------------------------------
    lines = ["# state_dict names and shapes, in state_dict order, as diffusers 0.42.1 saves them.",
             "# Written by scripts/make_diffusers_fixtures.py. The latent-tiny-legacy .bin files hold",
             "# the same tensors with the attention names of pre-0.14 diffusers (listed at the end).",
             "# All weights float32; conv weights [out, in, kh, kw]; linear weights [out, in]."]
    for label, model in (("latent-tiny/unet", latent_unet), ("latent-tiny/vqvae", vae),
                         ("pixel-tiny/unet", pixel_unet)):
        sd = model.state_dict()
        lines.append(f"\n[{label}] {len(sd)} tensors, {params[label]} parameters")
        lines += [f"{k} {list(v.shape)}" for k, v in sd.items()]
    for label, model in (("latent-tiny-legacy/unet", latent_unet), ("latent-tiny-legacy/vqvae", vae)):
        renamed = [(old, new) for old, new in zip(legacy_state_dict(model), model.state_dict()) if old != new]
        lines.append(f"\n[{label}] renamed tensors (legacy name -> current name), all others as above")
        lines += [f"{old} -> {new}" for old, new in renamed]
    with open(os.path.join(REF, "keys.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    with torch.no_grad():
        # ---- mel image of a fixed audio ---------------------------------------------------------
        n = MEL["x_res"] * MEL["hop_length"]
        audio = signal(SEEDS["audio"], n, MEL["sample_rate"])
        w.save("audio", audio, f"float32 audio, {n} samples at {MEL['sample_rate']} Hz: chord with vibrato, "
               "sweep, decaying noise bursts (seeded); fed as raw_audio to Mel.load_audio / the pipeline")
        m = latent_pipe.mel
        m.load_audio(raw_audio=audio)
        assert m.slice_size == n - 1 and len(m.get_audio_slice(0)) == n - 1
        S = librosa.feature.melspectrogram(y=m.get_audio_slice(0), sr=m.sr, n_fft=m.n_fft,
                                           hop_length=m.hop_length, n_mels=m.n_mels)
        log_s = librosa.power_to_db(S, ref=np.max, top_db=m.top_db)
        w.save("mel_db", log_s, "librosa.power_to_db(melspectrogram(audio[:x_res*hop-1]), ref=np.max, "
               "top_db=80), as Mel.audio_slice_to_image computes it before quantising (row 0 = lowest mel)")
        image = m.audio_slice_to_image(0)
        img_u8 = np.frombuffer(image.tobytes(), dtype="uint8").reshape((image.height, image.width))
        assert np.array_equal(img_u8, (((log_s + 80) * 255 / 80).clip(0, 255) + 0.5).astype(np.uint8))
        w.save("mel_image_u8", img_u8, "Mel.audio_slice_to_image(0) as 0..255 values: "
               "uint8(clip((db + top_db) * 255 / top_db, 0, 255) + 0.5) (row 0 = lowest mel, no flip)")
        img_pm1 = (img_u8 / 255) * 2 - 1  # float64 in numpy, exactly as the pipeline
        img_pm1 = w.save("mel_image", img_pm1, "the pipeline's mapping of mel_image_u8: (u8 / 255) * 2 - 1 "
                         "in float64, then float32 (torch.tensor(..., dtype=float)); the VAE/UNet input")
        img_t = torch.tensor(img_pm1[np.newaxis, np.newaxis], dtype=torch.float)

        # ---- UNets ----------------------------------------------------------------------------
        unet_references(w, latent_unet, "latent_unet", randn(SEEDS["unet_input_latent"], (1, 1, LATENT, LATENT)),
                        "latent-tiny/unet")
        unet_references(w, pixel_unet, "pixel_unet",
                        randn(SEEDS["unet_input_pixel"], (1, 1, MEL["y_res"], MEL["x_res"])), "pixel-tiny/unet")
        names = ["conv_in", "down_blocks.0", "down_blocks.1", "down_blocks.2", "mid_block",
                 "up_blocks.0", "up_blocks.1", "up_blocks.2", "conv_norm_out"]
        x = torch.from_numpy(np.load(os.path.join(REF, "latent_unet_input.npy")))
        outs = block_outputs(latent_unet, names, lambda: latent_unet(x, t_tensor(500)))
        for name in names:
            w.save(f"latent_unet_t500_{name}", outs[name],
                   f"output of latent-tiny/unet.{name} (first element if a tuple) in the t=500 forward "
                   "of latent_unet_input")

        # ---- VAE ------------------------------------------------------------------------------
        post = vae.encode(img_t).latent_dist
        w.save("vae_encode_mean", post.mean, "vqvae.encode(mel_image).latent_dist.mean (before scaling_factor)")
        w.save("vae_encode_logvar", post.logvar,
               "vqvae.encode(mel_image).latent_dist.logvar (clamped to [-30, 20]); std = exp(0.5 * logvar)")
        z = randn(SEEDS["vae_decode_input"], (1, VAE["latent_channels"], LATENT, LATENT))
        w.save("vae_decode_input", z, "fixed latent for decode: numpy default_rng randn (unscaled latent space)")
        # Intermediates at 64x64 with many channels are left out to keep the folder small.
        dec_names = ["post_quant_conv", "decoder.conv_in", "decoder.mid_block", "decoder.up_blocks.0",
                     "decoder.up_blocks.1"]
        holder = {}
        outs = block_outputs(vae, dec_names, lambda: holder.update(d=vae.decode(torch.from_numpy(z)).sample))
        w.save("vae_decode", holder["d"], "vqvae.decode(vae_decode_input).sample (post_quant_conv -> decoder)")
        for name in dec_names:
            w.save(f"vae_decode_{name}", outs[name], f"output of vqvae.{name} during vae_decode")
        enc_names = ["encoder.down_blocks.0", "encoder.down_blocks.1", "encoder.down_blocks.2",
                     "encoder.down_blocks.3", "encoder.mid_block", "encoder.conv_out", "quant_conv"]
        outs = block_outputs(vae, enc_names, lambda: vae.encode(img_t))
        for name in enc_names:
            w.save(f"vae_encode_{name}", outs[name], f"output of vqvae.{name} during vae_encode_mean")

        # ---- DDIM image-to-image, exactly as AudioDiffusionPipeline.__call__ -----------------------
        steps, start, eta = IMG2IMG["steps"], IMG2IMG["start_step"], IMG2IMG["eta"]
        noise = randn(SEEDS["img2img_noise"], (1, 1, LATENT, LATENT))
        w.save("img2img_noise", noise, "the pipeline's `noise` argument: numpy default_rng randn")
        sched = latent_pipe.scheduler
        sched.set_timesteps(steps)
        timesteps = [int(t) for t in sched.timesteps]
        noise_t = timesteps[start - 1]
        loop = timesteps[start:]

        # (1) the pipeline itself. It writes into `noise` in place, hence the clone.
        gen = torch.Generator().manual_seed(SEEDS["posterior_generator"])
        seen = {}
        hook = vae.post_quant_conv.register_forward_pre_hook(lambda _m, a: seen.setdefault("z", a[0].clone()))
        np.random.seed(0)  # the pipeline ends with Griffin-Lim (discarded here)
        images, _ = latent_pipe(raw_audio=audio, start_step=start, steps=steps, noise=torch.from_numpy(noise).clone(),
                                generator=gen, eta=eta, return_dict=False)
        hook.remove()
        pipe_u8 = np.frombuffer(images[0].tobytes(), dtype="uint8").reshape((images[0].height, images[0].width))

        # (2) the same by hand, saving the intermediates.
        gen = torch.Generator().manual_seed(SEEDS["posterior_generator"])
        post = vae.encode(img_t).latent_dist
        post_eps = randn_tensor(post.mean.shape, generator=gen, dtype=post.mean.dtype)
        sample = (post.mean + post.std * post_eps)[0]
        assert torch.equal(sample, post.sample(torch.Generator().manual_seed(SEEDS["posterior_generator"]))[0])
        w.save("img2img_posterior_noise", post_eps,
               "torch.randn drawn by latent_dist.sample(generator=torch.Generator().manual_seed("
               f"{SEEDS['posterior_generator']})): latent = mean + exp(0.5*logvar) * this")
        latent0 = VAE["scaling_factor"] * sample
        w.save("img2img_latent0", latent0[None], "scaling_factor * (mean + std * posterior_noise): the clean "
               "scaled latent of mel_image")
        runs = {}
        for label, clip in (("", True), ("_noclip", False)):
            s = DDIMScheduler(**{**DDIM, "clip_sample": clip})
            s.set_timesteps(steps)
            x = torch.from_numpy(noise).clone()
            x[0, 0] = s.add_noise(latent0, torch.from_numpy(noise), s.timesteps[start - 1])
            if label == "":
                w.save("img2img_noised", x, f"scheduler.add_noise(img2img_latent0, img2img_noise, t={noise_t}): "
                       f"timesteps[start_step - 1] as the pipeline does (sqrt(acp)*x0 + sqrt(1-acp)*noise)")
            xs = []
            for t in s.timesteps[start:]:
                eps = latent_unet(x, t).sample
                x = s.step(model_output=eps, timestep=t, sample=x, eta=eta).prev_sample
                xs.append(x[0].clone())
            w.save(f"img2img_steps{label}", torch.stack(xs), f"x after each DDIM step (clip_sample={clip}), "
                   f"timesteps {loop}; shape [len(loop), 1, h, w]")
            w.save(f"img2img_latent_final{label}", x, f"final latent (clip_sample={clip}), before / scaling_factor")
            z = 1 / VAE["scaling_factor"] * x  # the pipeline's order of operations
            if clip:
                assert torch.equal(z, seen["z"]), "final latent differs from AudioDiffusionPipeline's"
            decoded = vae.decode(z).sample
            w.save(f"img2img_decoded{label}", decoded, f"vqvae.decode((1 / scaling_factor) * final).sample, "
                   f"clip_sample={clip}, before the pipeline's (x/2+0.5).clamp(0,1)")
            u8 = ((decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")[0, :, :, 0]
            w.save(f"img2img_image_u8{label}", u8, "the pipeline's output image as 0..255: "
                   f"round(clamp(decoded / 2 + 0.5, 0, 1) * 255), clip_sample={clip}")
            runs[clip] = u8
        assert np.array_equal(runs[True], pipe_u8), "hand-written loop differs from AudioDiffusionPipeline"
        acp = sched.alphas_cumprod
        meta["img2img"] = dict(
            repo="latent-tiny", steps=steps, start_step=start, eta=eta,
            all_timesteps=timesteps, noise_timestep=noise_t, loop_timesteps=loop,
            alphas_cumprod={str(t): float(acp[t]) for t in timesteps},
            final_alpha_cumprod=float(sched.final_alpha_cumprod),
            posterior_generator_seed=SEEDS["posterior_generator"],
            pipeline_call=(f"AudioDiffusionPipeline.__call__(raw_audio=audio, start_step={start}, steps={steps}, "
                           f"noise=img2img_noise, generator=torch.Generator().manual_seed("
                           f"{SEEDS['posterior_generator']}), eta={eta}); the latent it decodes equals "
                           "(1 / 0.18215) * img2img_latent_final and its image equals img2img_image_u8, "
                           "bit for bit (asserted)"),
            recipe=["mel_image = (Mel.audio_slice_to_image(0) / 255) * 2 - 1",
                    "latent0 = 0.18215 * (posterior.mean + posterior.std * img2img_posterior_noise)  "
                    "# latent_dist.sample(generator), not the mean",
                    f"x = add_noise(latent0, noise, timesteps[start_step - 1] = {noise_t})  "
                    "# NB: one step earlier than the first loop timestep",
                    f"for t in timesteps[start_step:] = {loop}: x = DDIM.step(unet(x, t), t, x, eta=0)",
                    "decoded = vqvae.decode((1 / 0.18215) * x)  # a product, as in the pipeline, not x / 0.18215; image = round(clamp(decoded/2 + 0.5, 0, 1) * 255)"],
            clip_sample_note=("the repo's scheduler has clip_sample=True (teticio's DDIMScheduler() defaults): "
                              "step() clamps pred_original_sample to [-1, 1]. The *_noclip files are the same run "
                              "with clip_sample=False."),
        )
    return meta


def main():
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message="To copy construct from a tensor")
    os.makedirs(REF, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for name in os.listdir(REF):
        os.remove(os.path.join(REF, name))

    w = Writer()
    meta = compute(w)
    first = {n: open(os.path.join(REF, n), "rb").read() for n in w.files}
    # Determinism check: compute everything again and compare bytes.
    w2 = Writer()
    compute(w2)
    changed = [n for n in w.files if open(os.path.join(REF, n), "rb").read() != first[n]]
    if changed:
        raise SystemExit(f"not deterministic: {changed}")

    meta.update(
        generator="scripts/make_diffusers_fixtures.py",
        versions=dict(python=sys.version.split()[0], torch=torch.__version__, diffusers=diffusers.__version__,
                      librosa=librosa.__version__, numpy=np.__version__),
        torch_threads=1,
        seeds=SEEDS,
        weights_init=("numpy default_rng(seed) per model, in state_dict order: conv/linear weight "
                      "N(0,1)/sqrt(fan_in); other biases N(0,0.1^2); GroupNorm weight 1+N(0,0.2^2), bias N(0,0.2^2)"),
        mel=MEL,
        unet=dict(UNET_COMMON, latent_sample_size=LATENT, pixel_sample_size=MEL["x_res"],
                  time_embed_dim=UNET_COMMON["block_out_channels"][0] * 4,
                  attention_heads={
                      "down_blocks.1 / up_blocks.1": UNET_COMMON["block_out_channels"][1] // UNET_COMMON["attention_head_dim"],
                      "mid_block": UNET_COMMON["block_out_channels"][-1] // UNET_COMMON["attention_head_dim"]}),
        vqvae=dict(VAE, latent_size=LATENT, norm_eps=1e-6, mid_block_attention_heads=1),
        schedulers={"latent-tiny": dict(DDIM, _class_name="DDIMScheduler"),
                    "pixel-tiny": dict(DDPM, _class_name="DDPMScheduler")},
        unet_timesteps=UNET_TIMESTEPS,
        timestep_input="scheduler timesteps are int64; UNet2DModel casts them to float32 inside get_timestep_embedding",
        files=w.files,
    )
    with open(os.path.join(REF, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")

    print(json.dumps(meta["parameter_counts"], indent=1))
    for name, info in sorted(w.files.items()):
        print(f"{name:45s} {str(info['shape']):18s} std {info['std']:.4g}  [{info['min']:.4g}, {info['max']:.4g}]")
    digest = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(ROOT)):
        for f in sorted(files):
            digest.update(open(os.path.join(dirpath, f), "rb").read())
    print(f"sha256 of all fixture files: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
