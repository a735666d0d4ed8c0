#!/usr/bin/env python3
"""Times librosa on the same three DSP jobs as engine/benches/dsp.rs and prints one JSON line.

Called by the Rust benchmark in the same run, so the Rust/librosa ratios compare like with like.
Signals are synthesised here with the same recipe as the Rust side (a chord plus noise); DSP cost
does not depend on the content.
"""
import json
import sys
import time

import numpy as np
import librosa

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
SR, N_FFT, HOP, N_MELS, TOP_DB, ITERS = 22050, 2048, 512, 256, 80.0, 32


def signal(n, sr, channels=1):
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    y = y + 0.05 * rng.standard_normal(n)
    return np.stack([y] * channels).astype(np.float32) if channels > 1 else y.astype(np.float32)


def median_time(fn):
    """Same protocol as the Rust side: 3 warm-ups, then until 1.5 s or 200 runs (>= REPEATS)."""
    for _ in range(3):
        fn()  # warm-up: numba JIT and FFT plans
    times = []
    started = time.perf_counter()
    while len(times) < REPEATS or (time.perf_counter() - started < 1.5 and len(times) < 200):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    window = signal(256 * HOP - 1, SR)

    def mel():
        S = librosa.feature.melspectrogram(y=window, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                           n_mels=N_MELS, pad_mode="constant")
        return librosa.power_to_db(S, ref=np.max, top_db=TOP_DB)

    S = librosa.feature.melspectrogram(y=window, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                       n_mels=N_MELS, pad_mode="constant")

    def mel_to_audio():
        return librosa.feature.inverse.mel_to_audio(S, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                                    n_iter=ITERS, pad_mode="constant")

    stereo = signal(6 * 48000, 48000, channels=2)

    def resample():
        return librosa.resample(stereo, orig_sr=48000, target_sr=SR)

    result = {
        "librosa": librosa.__version__,
        "mel_s": median_time(mel),
        "mel_to_audio_s": median_time(mel_to_audio),
        "resample_s": median_time(resample),
        "resample_res_type": "soxr_hq",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
