#!/usr/bin/env bash
# Renders the Refrain editor (standalone, dummy audio backend) under Xvfb and saves two
# screenshots: tests/artifacts/refrain-editor.png (after one clip was generated, previewed and
# rated) and tests/artifacts/refrain-editor-versions.png (the Model menu open).
# The data dir is a temporary one holding the tiny test model as the shipped base and the
# diffusers fixture imported with `refrain-trainer import`, so the menu lists a real import.
# The test hook in "unconditional" mode generates one clip, previews it and rates it.
# Needs: apt-get install xvfb xdotool libegl1 libegl-mesa0 libgl1-mesa-dri imagemagick x11-apps
#        libasound2-dev libjack-jackd2-dev pkg-config (the last three to build the standalone).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p refrain-plugin --features standalone --bin refrain-standalone
cargo build -p refrain-trainer --bin refrain-trainer
target="${CARGO_TARGET_DIR:-target}"
home="$(mktemp -d)"
REFRAIN_HOME="$home" "$target/debug/refrain-trainer" import \
    tests/fixtures/diffusers/latent-tiny --name audio-diffusion-tiny
Xvfb :97 -screen 0 1024x768x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT
sleep 2
# Xvfb has no GPU: Mesa's software GL renders egui.
DISPLAY=:97 LIBGL_ALWAYS_SOFTWARE=1 REFRAIN_HOME="$home" \
    REFRAIN_BASE_MODEL="$PWD/tests/fixtures/tiny_model" REFRAIN_TEST_HOOK=unconditional \
    "$target/debug/refrain-standalone" --backend dummy &
app=$!
sleep 15
window="$(DISPLAY=:97 xwininfo -root -tree | awk '/"Refrain"/ {print $1; exit}')"
mkdir -p tests/artifacts
DISPLAY=:97 xwd -id "$window" -silent | convert xwd:- tests/artifacts/refrain-editor.png
# Open the Model menu (its button sits at these logical pixels, see editor/versions.rs).
DISPLAY=:97 xdotool mousemove --window "$window" "${MENU_X:-270}" "${MENU_Y:-22}" click 1
sleep 2
DISPLAY=:97 xwd -id "$window" -silent | convert xwd:- tests/artifacts/refrain-editor-versions.png
kill "$app"
echo "wrote tests/artifacts/refrain-editor.png and refrain-editor-versions.png"
