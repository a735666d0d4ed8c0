#!/usr/bin/env python3
"""Small WAV helper for tests/hosts/ardour.sh (standard library only: no numpy on purpose).

  wavtool.py info FILE                       -> "rate channels frames encoding"
  wavtool.py extract IN CHANNEL FRAMES OUT   -> OUT = one channel of IN as 32-bit float mono WAV,
                                                cut or zero-padded to FRAMES frames
  wavtool.py compare REF TEST [REF2]         -> max |TEST - REF| per channel; REF may be given as
                                                one mono file per channel (REF REF2 ...)

Integer PCM is scaled to [-1, 1) the way Ardour and libsndfile read it (x / 2^(bits-1)), so a
16-bit file and its float conversion compare as equal. `compare` exits 0 when TEST equals REF
sample for sample (bit-exact), 1 when it differs, 2 on unreadable input.
"""
import array
import struct
import sys


def read_wav(path):
    """Returns (rate, [channel arrays of float]), encoding description."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate = struct.unpack("<HHI", fmt[:8])
    bits = struct.unpack("<H", fmt[14:16])[0]
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag starts the GUID
        tag = struct.unpack("<H", fmt[24:26])[0]
    width = bits // 8
    usable = len(pcm) - len(pcm) % (width * channels)
    pcm = pcm[:usable]
    if tag == 3 and bits == 32:
        samples, enc = array.array("f", pcm), "float32"
    elif tag == 3 and bits == 64:
        samples, enc = array.array("d", pcm), "float64"
    elif tag == 1 and bits == 16:
        samples, enc = [v / 32768.0 for v in array.array("h", pcm)], "int16"
    elif tag == 1 and bits == 32:
        samples, enc = [v / 2147483648.0 for v in array.array("i", pcm)], "int32"
    elif tag == 1 and bits == 24:
        samples = [int.from_bytes(pcm[i:i + 3], "little", signed=True) / 8388608.0
                   for i in range(0, len(pcm), 3)]
        enc = "int24"
    else:
        raise ValueError(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits)")
    if sys.byteorder != "little" and isinstance(samples, array.array):
        samples.byteswap()
    chans = [samples[c::channels] for c in range(channels)]
    return rate, chans, enc


def write_float_mono(path, rate, samples):
    payload = array.array("f", samples)
    if sys.byteorder != "little":
        payload.byteswap()
    raw = payload.tobytes()
    fmt = struct.pack("<HHIIHHH", 3, 1, rate, rate * 4, 4, 32, 0)  # IEEE float, cbSize 0
    fact = struct.pack("<I", len(samples))
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(raw)) + raw)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def first_nonzero(xs, threshold=1e-6):
    for i, v in enumerate(xs):
        if abs(v) > threshold:
            return i
    return None


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "info":
        rate, chans, enc = read_wav(argv[2])
        print(rate, len(chans), len(chans[0]) if chans else 0, enc)
        return 0
    if cmd == "extract":
        src, channel, frames, out = argv[2], int(argv[3]), int(argv[4]), argv[5]
        rate, chans, _ = read_wav(src)
        ch = list(chans[min(channel, len(chans) - 1)][:frames])
        ch += [0.0] * (frames - len(ch))
        write_float_mono(out, rate, ch)
        return 0
    if cmd == "compare":
        ref_paths, test_path = argv[2:3] + argv[4:], argv[3]
        ref = []
        for p in ref_paths:
            ref += read_wav(p)[1]
        _, test, _ = read_wav(test_path)
        if len(ref) != len(test):
            print(f"channel count differs: ref {len(ref)}, test {len(test)}")
            return 1
        exact, report = True, []
        for c, (a, b) in enumerate(zip(ref, test)):
            n = min(len(a), len(b))
            diffs = [abs(b[i] - a[i]) for i in range(n)]
            max_diff = max(diffs) if diffs else 0.0
            n_diff = sum(1 for d in diffs if d != 0.0)
            peak_ref = max((abs(v) for v in a), default=0.0)
            peak_test = max((abs(v) for v in b), default=0.0)
            same = n_diff == 0 and len(a) == len(b)
            exact &= same
            line = (f"ch{c}: max_abs_diff={max_diff:.9g} differing_samples={n_diff}/{n} "
                    f"peak_ref={peak_ref:.6f} peak_test={peak_test:.6f}")
            if len(a) != len(b):
                line += f" LENGTH ref={len(a)} test={len(b)}"
            if not same:
                on_a, on_b = first_nonzero(a), first_nonzero(b)
                line += f" onset_ref={on_a} onset_test={on_b}"
            if peak_ref == 0.0:
                line += " (reference is silent: comparison proves little)"
            report.append(line)
        print(("BIT-EXACT  " if exact else "DIFFERS    ") + " | ".join(report))
        return 0 if exact else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError) as e:
        print(f"wavtool: {e}", file=sys.stderr)
        sys.exit(2)
