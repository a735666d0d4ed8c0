#!/usr/bin/env bash
# Renders the Refrain editor (standalone, dummy audio backend) under Xvfb and saves a screenshot
# to tests/artifacts/refrain-editor.png. The test hook in "unconditional" mode generates one clip
# with the tiny test model, previews it and rates it, so the clip list is not empty.
# Needs: apt-get install xvfb libegl1 libegl-mesa0 libgl1-mesa-dri imagemagick x11-apps
#        libasound2-dev libjack-jackd2-dev pkg-config (the last three to build the standalone).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p refrain-plugin --features standalone --bin refrain-standalone
target="${CARGO_TARGET_DIR:-target}"
home="$(mktemp -d)"
Xvfb :97 -screen 0 1024x768x24 >/dev/null 2>&1 &
xvfb=$!
sleep 2
# Xvfb has no GPU: Mesa's software GL renders egui.
DISPLAY=:97 LIBGL_ALWAYS_SOFTWARE=1 REFRAIN_HOME="$home" \
    REFRAIN_MODEL_DIR="$PWD/tests/fixtures/tiny_model" REFRAIN_TEST_HOOK=unconditional \
    "$target/debug/refrain-standalone" --backend dummy &
app=$!
sleep 15
window="$(DISPLAY=:97 xwininfo -root -tree | awk '/"Refrain"/ {print $1; exit}')"
mkdir -p tests/artifacts
DISPLAY=:97 xwd -id "$window" -silent | convert xwd:- tests/artifacts/refrain-editor.png
kill "$app" "$xvfb"
echo "wrote tests/artifacts/refrain-editor.png"
