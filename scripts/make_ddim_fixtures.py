#!/usr/bin/env python3
"""Writes the DDIM reference fixtures that engine/tests/ddim.rs checks against.

Run from the repository root:  python3 scripts/make_ddim_fixtures.py
Needs: numpy only. The Rust tests read the JSON written here; they never run Python.

Why numpy and not diffusers: diffusers' schedulers import torch, and torch from PyPI is far too
heavy for this machine. Instead every function below is a line-by-line transcription of
diffusers 0.42.1 (`schedulers/scheduling_ddim.py`: `betas_for_alpha_bar`, `DDIMScheduler.__init__`,
`set_timesteps` with timestep_spacing="leading", `step`, `add_noise`; `models/embeddings.py`:
`get_timestep_embedding`; `pipelines/stable_diffusion/pipeline_stable_diffusion_img2img.py`:
`get_timesteps`), with the settings engine::ddim documents: steps_offset=0, set_alpha_to_one=True,
clip_sample=False, prediction_type="epsilon".

diffusers keeps betas and alphas_cumprod in float32; the schedule here is float64 (the exact
formulas, which the Rust code also uses). The float32 variant is computed too and the largest
relative gap between them is recorded in meta, to show the difference is far below the test
tolerance. The timestep embedding is computed in float32 op by op, as torch does, because that
is the network input.
"""
import json
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "ddim")

T = 1000
SCHEDULES = {
    "linear": dict(beta_start=1e-4, beta_end=0.02),
    "scaled_linear": dict(beta_start=0.00085, beta_end=0.012),
    "squaredcos_cap_v2": dict(beta_start=1e-4, beta_end=0.02),
}
INDICES = [0, 1, 2, 10, 100, 250, 499, 500, 750, 900, 980, 998, 999]


def betas_for_alpha_bar(n, max_beta=0.999):
    def alpha_bar_fn(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return np.array(
        [min(1 - alpha_bar_fn((i + 1) / n) / alpha_bar_fn(i / n), max_beta) for i in range(n)],
        dtype=np.float64,
    )


def betas(kind, beta_start, beta_end, dtype=np.float64):
    if kind == "linear":
        return np.linspace(beta_start, beta_end, T, dtype=np.float64).astype(dtype)
    if kind == "scaled_linear":
        return (np.linspace(beta_start**0.5, beta_end**0.5, T, dtype=np.float64) ** 2).astype(dtype)
    if kind == "squaredcos_cap_v2":
        return betas_for_alpha_bar(T).astype(dtype)
    raise ValueError(kind)


def alphas_cumprod(kind, dtype=np.float64):
    b = betas(kind, **SCHEDULES[kind], dtype=dtype)
    return np.cumprod((dtype(1.0) - b).astype(dtype), dtype=dtype)


def leading_timesteps(steps):
    step_ratio = T // steps
    return (np.arange(0, steps) * step_ratio).round()[::-1].copy().astype(np.int64)


def img2img_timesteps(steps, strength):
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    return leading_timesteps(steps)[t_start:]


def ddim_step(ac, steps, eps, t, x, eta, variance_noise):
    prev_t = t - T // steps
    a_t = ac[t]
    a_prev = ac[prev_t] if prev_t >= 0 else 1.0  # set_alpha_to_one=True
    b_t = 1 - a_t
    x0 = (x - b_t**0.5 * eps) / a_t**0.5
    b_prev = 1 - a_prev
    variance = (b_prev / b_t) * (1 - a_t / a_prev)
    std = eta * variance**0.5
    direction = (1 - a_prev - std**2) ** 0.5 * eps
    prev = a_prev**0.5 * x0 + direction
    if eta > 0:
        prev = prev + std * variance_noise
    return prev


def add_noise(ac, x0, noise, t):
    return ac[t] ** 0.5 * x0 + (1 - ac[t]) ** 0.5 * noise


def timestep_embedding(t, dim, correctly_rounded=True):
    """get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0), float32 like torch.

    Multiplications and divisions are IEEE float32 as in torch. exp/cos/sin are evaluated in
    float64 on the float32 argument and rounded to float32 (the correctly rounded float32 result),
    which is what engine::ddim computes on every platform; numpy's (and torch's) native float32
    exp is only accurate to about 1 ulp, and at t near 1000 one ulp of a frequency moves cos by
    a few 1e-5 (meta records the gap for numpy).
    """
    half = dim // 2
    exponent = np.float32(-math.log(10000)) * np.arange(half, dtype=np.float32)
    exponent = exponent / np.float32(half)
    if correctly_rounded:
        freqs = np.exp(exponent.astype(np.float64)).astype(np.float32)
    else:
        freqs = np.exp(exponent).astype(np.float32)
    emb = np.float32(t) * freqs
    if correctly_rounded:
        wide = emb.astype(np.float64)
        out = np.concatenate([np.cos(wide), np.sin(wide)]).astype(np.float32)
    else:
        out = np.concatenate([np.cos(emb), np.sin(emb)]).astype(np.float32)
    if dim % 2 == 1:
        out = np.concatenate([out, np.zeros(1, np.float32)])
    return out


def trajectory(ac, steps, strength, eta, x0, noise, step_noises):
    """img2img from x0 with the fake denoiser eps = 0.1 * x; records x after every step."""
    ts = img2img_timesteps(steps, strength)
    x = add_noise(ac, x0, noise, ts[0])
    xs = [x.tolist()]
    for i, t in enumerate(ts):
        eps = 0.1 * x
        x = ddim_step(ac, steps, eps, int(t), x, eta, step_noises[i])
        xs.append(x.tolist())
    return dict(timesteps=ts.tolist(), xs=xs)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261101)

    schedules = {}
    max_gap = 0.0
    for kind, cfg in SCHEDULES.items():
        ac = alphas_cumprod(kind)
        ac32 = alphas_cumprod(kind, np.float32).astype(np.float64)
        max_gap = max(max_gap, float(np.max(np.abs(ac32 - ac) / ac)))
        schedules[kind] = dict(
            num_train_timesteps=T,
            **cfg,
            indices=INDICES,
            betas=[float(betas(kind, **cfg)[i]) for i in INDICES],
            alphas_cumprod=[float(ac[i]) for i in INDICES],
        )

    timesteps = []
    for steps, strength in [(50, 1.0), (50, 0.5), (50, 0.3), (50, 0.7), (50, 0.29), (50, 0.01),
                            (100, 0.29), (7, 0.6), (1000, 0.25), (3, 1.0)]:
        timesteps.append(dict(steps=steps, strength=strength,
                              timesteps=img2img_timesteps(steps, strength).tolist()))

    embeddings = []
    emb_gap = 0.0
    for t, dim in [(0.0, 8), (1.0, 8), (999.0, 32), (500.0, 128), (37.5, 7), (980.0, 64)]:
        emb = timestep_embedding(t, dim)
        native = timestep_embedding(t, dim, correctly_rounded=False)
        emb_gap = max(emb_gap, float(np.max(np.abs(emb - native))))
        embeddings.append(dict(t=t, dim=dim, embedding=emb.tolist()))

    ac = alphas_cumprod("linear")
    x0 = rng.standard_normal(8)
    noise = rng.standard_normal(8)
    step_noises = rng.standard_normal((50, 8))
    q = [dict(t=t, x_t=add_noise(ac, x0, noise, t).tolist()) for t in (0, 1, 500, 999)]
    trajectories = []
    for strength in (1.0, 0.5):
        for eta in (0.0, 1.0):
            tr = trajectory(ac, 50, strength, eta, x0, noise, step_noises)
            trajectories.append(dict(schedule="linear", steps=50, strength=strength, eta=eta, **tr))

    doc = dict(
        meta=dict(
            generator="scripts/make_ddim_fixtures.py",
            reference="numpy transcription of diffusers 0.42.1 (see the script's docstring)",
            settings=dict(timestep_spacing="leading", steps_offset=0, set_alpha_to_one=True,
                          clip_sample=False, prediction_type="epsilon"),
            float32_vs_float64_alphas_cumprod_max_rel_gap=max_gap,
            numpy_native_float32_vs_correctly_rounded_embedding_max_abs_gap=emb_gap,
            fake_denoiser="eps = 0.1 * x",
        ),
        schedules=schedules,
        timesteps=timesteps,
        embeddings=embeddings,
        x0=x0.tolist(),
        noise=noise.tolist(),
        step_noises=step_noises.tolist(),
        q_sample=q,
        trajectories=trajectories,
    )
    path = os.path.join(OUT, "ddim.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes); f32/f64 alphas_cumprod gap {max_gap:.2e}; "
          f"native f32 embedding gap {emb_gap:.2e}")


if __name__ == "__main__":
    main()
