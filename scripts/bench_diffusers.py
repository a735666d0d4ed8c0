#!/usr/bin/env python3
"""The torch side of engine/benches/generate.rs: a diffusers UNet2DModel of about the same
parameter count as Refrain's default UNet (~5 M) on the same latent shape, running the same
number of DDIM steps with diffusers' DDIMScheduler. Prints the median seconds for the loop,
or a one-line reason on stderr and exit 1 when torch/diffusers are not importable.

Usage: bench_diffusers.py C,H,W STEPS
"""
import sys
import time

try:
    import torch
    from diffusers import DDIMScheduler, UNet2DModel
except Exception as e:  # noqa: BLE001 - any import failure means "cannot compare"
    print(f"torch/diffusers not importable ({e.__class__.__name__}: {e})", file=sys.stderr)
    sys.exit(1)

c, h, w = (int(v) for v in sys.argv[1].split(","))
steps = int(sys.argv[2])
torch.manual_seed(0)
# Widths chosen so the parameter count lands near 5 M, like Refrain's default UNet.
unet = UNet2DModel(sample_size=(h, w), in_channels=c, out_channels=c, layers_per_block=1,
                   block_out_channels=(64, 128, 192),
                   down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                   up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D")).eval()
params = sum(p.numel() for p in unet.parameters())
print(f"diffusers UNet2DModel: {params / 1e6:.2f} M parameters", file=sys.stderr)
scheduler = DDIMScheduler(num_train_timesteps=1000)
scheduler.set_timesteps(steps)
torch.set_num_threads(2)


def loop():
    x = torch.randn(1, c, h, w)
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x).prev_sample
    return x


loop()
times = []
for _ in range(3):
    start = time.perf_counter()
    loop()
    times.append(time.perf_counter() - start)
times.sort()
print(times[1])
