#!/usr/bin/env python3
"""The torch side of engine/benches/generate.rs: the same image-to-image DDIM loop as Refrain's
(diffusers' img2img timesteps for STEPS and STRENGTH, eta 0, batch 1) with diffusers'
DDIMScheduler and a UNet2DModel sized like Refrain's default UNet, timed with the same protocol
(one warm-up, median of RUNS).

Prints `key value` lines on stdout (params, calls, first_t, threads, torch, diffusers,
seconds), or a one-line reason on stderr and exit 1 when torch/diffusers are not importable.
`cargo xtask bench-env` makes a virtualenv where they are.

Usage: bench_diffusers.py C,H,W STEPS STRENGTH THREADS [RUNS]
"""
import sys
import time

try:
    import torch
    import diffusers
    from diffusers import DDIMScheduler, UNet2DModel
except Exception as e:  # noqa: BLE001 - any import failure means "cannot compare"
    print(f"torch/diffusers not importable by {sys.executable} ({e.__class__.__name__}: {e})",
          file=sys.stderr)
    sys.exit(1)

c, h, w = (int(v) for v in sys.argv[1].split(","))
steps = int(sys.argv[2])
strength = float(sys.argv[3])
threads = int(sys.argv[4])
runs = int(sys.argv[5]) if len(sys.argv) > 5 else 5

# The Rust side passes the ONNX Runtime intra-op thread count, so both loops get the same cores.
torch.set_num_threads(threads)
torch.manual_seed(0)

# Refrain's default UNet: stages 64/128/192, one res block each, single-head self-attention in
# the middle only, 4.91 M parameters, ≈ 1.8 GFLOP per call. diffusers' up blocks carry one more
# res block than ours (layers_per_block + 1), so the same widths would give 6.8 M parameters;
# 48/128/160 with 16 norm groups and a 128-wide time embedding lands at 4.96 M and ≈ 1.8 GFLOP
# (torch's FlopCounterMode), i.e. the same size in parameters and in work.
widths = (48, 128, 160)
unet = UNet2DModel(sample_size=(h, w), in_channels=c, out_channels=c, layers_per_block=1,
                   block_out_channels=widths, norm_num_groups=16, time_embedding_dim=128,
                   attention_head_dim=widths[-1],
                   down_block_types=("DownBlock2D",) * len(widths),
                   up_block_types=("UpBlock2D",) * len(widths)).eval()
params = sum(p.numel() for p in unet.parameters())

# The manifest's schedule (linear 1e-4..0.02 over 1000 steps, epsilon); eta 0 below.
scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                          beta_schedule="linear", clip_sample=False)
scheduler.set_timesteps(steps)
# diffusers' img2img get_timesteps, which refrain_engine::ddim::Ddim::start_index mirrors.
init_steps = min(int(steps * strength), steps)
timesteps = scheduler.timesteps[max(steps - init_steps, 0) * scheduler.order:]
latent = torch.randn(1, c, h, w)


def loop():
    noise = torch.randn(1, c, h, w)
    x = scheduler.add_noise(latent, noise, timesteps[:1])
    with torch.inference_mode():
        for t in timesteps:
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
    return x


loop()  # warm-up, like the Rust side's first run
times = []
for _ in range(runs):
    start = time.perf_counter()
    loop()
    times.append(time.perf_counter() - start)
times.sort()
print(f"params {params}")
print(f"calls {len(timesteps)}")
print(f"first_t {int(timesteps[0])}")
print(f"threads {torch.get_num_threads()}")
print(f"torch {torch.__version__}")
print(f"diffusers {diffusers.__version__}")
print(f"seconds {times[len(times) // 2]}")
