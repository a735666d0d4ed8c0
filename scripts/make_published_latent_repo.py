#!/usr/bin/env python3
"""Writes a diffusers AudioDiffusionPipeline repo with the published configs of
teticio/latent-audio-diffusion-256 and RANDOM weights (seeded), for timing Refrain against the
diffusers pipeline at the paper's model size without downloading the 754 MB of trained weights.
Never committed: `cargo xtask bench generate` builds it once into
~/.cache/refrain/bench-models/latent-256/repo and imports it with `refrain-trainer import`.

- UNet2DModel, 113.7 M parameters: block_out_channels (128, 128, 256, 256, 512, 512), down
  DownBlock2D x4 + AttnDownBlock2D + DownBlock2D, up UpBlock2D + AttnUpBlock2D + UpBlock2D x4,
  layers_per_block 2, attention_head_dim 8, norm_num_groups 32, sample_size 32, 1 -> 1 channels
- AutoencoderKL, 83.6 M parameters: block_out_channels (128, 256, 512, 512), DownEncoderBlock2D
  x4 / UpDecoderBlock2D x4, latent_channels 1, layers_per_block 2, scaling_factor 0.18215
- Mel(x_res=256, y_res=256) (22050 Hz, n_fft 2048, hop 512, 32 Griffin-Lim iterations)
- DDIMScheduler() (its defaults: linear 1e-4..0.02 over 1000 steps, clip_sample true)

Weights are saved as PyTorch .bin (`safe_serialization=False`), as the teticio repos ship them.
Prints `unet_params N` and `vae_params N` on stdout.

Usage: make_published_latent_repo.py OUT_DIR   (needs torch and diffusers: the venv
`cargo xtask bench-env` makes)
"""
import sys

import torch
from diffusers import AudioDiffusionPipeline, AutoencoderKL, DDIMScheduler, UNet2DModel
from diffusers.pipelines.deprecated.audio_diffusion import Mel

if len(sys.argv) != 2:
    sys.exit("usage: make_published_latent_repo.py OUT_DIR")

torch.manual_seed(0)
unet = UNet2DModel(
    sample_size=32, in_channels=1, out_channels=1, layers_per_block=2,
    block_out_channels=(128, 128, 256, 256, 512, 512),
    down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
    attention_head_dim=8, norm_num_groups=32)
vae = AutoencoderKL(
    in_channels=1, out_channels=1, latent_channels=1, sample_size=256, layers_per_block=2,
    block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32, scaling_factor=0.18215)
pipe = AudioDiffusionPipeline(vqvae=vae, unet=unet, mel=Mel(x_res=256, y_res=256),
                              scheduler=DDIMScheduler())
pipe.save_pretrained(sys.argv[1], safe_serialization=False)
print(f"unet_params {sum(p.numel() for p in unet.parameters())}")
print(f"vae_params {sum(p.numel() for p in vae.parameters())}")
