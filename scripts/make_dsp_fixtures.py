#!/usr/bin/env python3
"""Writes the librosa reference fixtures that engine/tests/spectrogram.rs checks against.

Run from the repository root:  python3 scripts/make_dsp_fixtures.py
Needs: pip install librosa==0.11.0 numpy
The Rust tests read only the files written here; they never run Python.

Two configurations are covered: the model default (docs/ARCHITECTURE.md §5) and a small one with
win_length < n_fft, fmin > 0 and fmax < sr/2, so the code cannot pass by hard-wiring defaults.
Signals are synthesised here from a fixed seed and stored as int16, so Rust and librosa read the
exact same samples (x / 32768).
"""
import json
import os

import librosa
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "dsp")

CONFIGS = {
    "default": dict(sample_rate=22050, n_fft=2048, hop_length=512, win_length=2048, n_mels=256,
                    frames=256, fmin=0.0, fmax=11025.0, top_db=80.0),
    "small": dict(sample_rate=16000, n_fft=512, hop_length=128, win_length=400, n_mels=64,
                  frames=64, fmin=50.0, fmax=7000.0, top_db=80.0),
}


def signal(cfg, seed):
    """A chord with vibrato, a rising chirp, decaying noise bursts and a quiet tail."""
    sr = cfg["sample_rate"]
    n = cfg["frames"] * cfg["hop_length"] - 1
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for f in (220.0, 277.18, 329.63, 440.0):
        y += 0.12 * np.sin(2 * np.pi * f * t + 0.8 * np.sin(2 * np.pi * 5.0 * t))
    y += 0.1 * librosa.chirp(fmin=80, fmax=sr / 2.5, sr=sr, length=n)
    burst_every = n // 8
    for k in range(8):
        start = k * burst_every
        env = np.exp(-np.arange(n - start) / (0.03 * sr))
        y[start:] += 0.25 * rng.standard_normal(n - start) * env
    y[int(0.85 * n):] *= 0.001  # a near-silent tail exercises the top_db floor
    y /= np.max(np.abs(y)) * 1.05
    return np.round(y * 32767).astype(np.int16)


def mel_db(y, cfg):
    S = librosa.feature.melspectrogram(
        y=y, sr=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
        win_length=cfg["win_length"], window="hann", center=True, pad_mode="constant", power=2.0,
        n_mels=cfg["n_mels"], fmin=cfg["fmin"], fmax=cfg["fmax"], htk=False, norm="slaney")
    return S, librosa.power_to_db(S, ref=np.max, top_db=cfg["top_db"])


def spectral_convergence(reference_mag, y, cfg):
    mag = np.abs(librosa.stft(y, n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
                              win_length=cfg["win_length"], center=True, pad_mode="constant"))
    return float(np.linalg.norm(mag - reference_mag) / np.linalg.norm(reference_mag))


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"librosa": librosa.__version__, "configs": CONFIGS, "griffin_lim": {}}
    for seed, (name, cfg) in enumerate(CONFIGS.items()):
        y16 = signal(cfg, seed)
        y = y16.astype(np.float64) / 32768.0
        fb = librosa.filters.mel(sr=cfg["sample_rate"], n_fft=cfg["n_fft"], n_mels=cfg["n_mels"],
                                 fmin=cfg["fmin"], fmax=cfg["fmax"], htk=False, norm="slaney",
                                 dtype=np.float64)
        S, db = mel_db(y, cfg)
        np.save(os.path.join(OUT, f"{name}_audio_i16.npy"), y16)
        np.save(os.path.join(OUT, f"{name}_filterbank.npy"), fb.astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_mel_db.npy"), db.astype(np.float32))
        if name == "default":
            n_iter = 32
            mag = np.abs(librosa.stft(y, n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
                                      win_length=cfg["win_length"], center=True,
                                      pad_mode="constant"))
            gl = {}
            for label, momentum in (("classic", 0.0), ("fast", 0.99)):
                rec = librosa.griffinlim(mag, n_iter=n_iter, hop_length=cfg["hop_length"],
                                         win_length=cfg["win_length"], n_fft=cfg["n_fft"],
                                         center=True, pad_mode="constant", momentum=momentum,
                                         init="random", random_state=0, length=len(y))
                gl[f"stft_{label}"] = spectral_convergence(mag, rec, cfg)
            rec = librosa.feature.inverse.mel_to_audio(
                S, sr=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
                win_length=cfg["win_length"], center=True, pad_mode="constant", power=2.0,
                n_iter=n_iter, fmin=cfg["fmin"], fmax=cfg["fmax"], length=len(y))
            gl["mel_to_audio"] = spectral_convergence(mag, rec, cfg)
            meta["griffin_lim"] = {"n_iter": n_iter, "spectral_convergence": gl}
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(meta["griffin_lim"], indent=2))


if __name__ == "__main__":
    main()
