#!/usr/bin/env bash
# Regenerates the tiny compressed-audio fixtures that engine/tests/audio.rs decodes.
#
# Run once by hand (needs sox with MP3/Vorbis/FLAC support and lame:
# `apt-get install sox libsox-fmt-all lame`);
# the outputs are committed, so neither tests nor CI need sox. Each file is 0.5 s of a 440 Hz
# sine at -6 dBFS (amplitude 0.5), 44.1 kHz, so the tests can check rate, length and pitch.
# sox writes no LAME/Xing gapless header, so the MP3 decodes ~2100 frames (encoder delay and
# padding) longer than 0.5 s; the test allows for that. lame writes that header, so
# sine440_lame.mp3 must decode to exactly the 0.5 s that went in.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/engine/tests/fixtures/audio"
mkdir -p "$out"
tone=(synth 0.5 sine 440 vol 0.5)
sox -n -r 44100 -c 1 -b 16 "$out/sine440.flac" "${tone[@]}"
sox -n -r 44100 -c 2 "$out/sine440.ogg" "${tone[@]}"
sox -n -r 44100 -c 1 -C 128 "$out/sine440.mp3" "${tone[@]}"
wav="$(mktemp --suffix .wav)"
sox -n -r 44100 -c 1 -b 16 "$wav" "${tone[@]}"
lame --quiet -b 128 "$wav" "$out/sine440_lame.mp3"
rm -f "$wav"
ls -l "$out"
