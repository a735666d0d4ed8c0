#!/usr/bin/env bash
# Train the neural vocoder (issue 13; trainer/src/vocoder) on the corpus packages' audio, then
# export it to models/vocoder. Runs with --resume, so rerunning continues from the last
# checkpoint; raise STEPS to train longer (the cosine schedule stretches to the new total).
# With no checkpoint in OUT (a fresh clone, a lost cache) it continues the shipped network in
# models/vocoder (INIT_FROM; STEPS must then be past its step, 11 000 for the shipped one; set
# INIT_FROM= to train from random weights).
#
#   nohup setsid scripts/train-vocoder.sh > ~/.cache/refrain/vocoder/train.log 2>&1 &
#
# Env: OUT (checkpoint dir), STEPS, LR, BACKEND (cpu|cuda; cuda also builds with --features
# cuda), EXPORT (the directory to export to; empty = do not export), PHASE_INIT (pghi|random),
# PHASE_ITERS, PHASE_MOMENTUM (how the engine finds the phase; default: the engine's, which
# `cargo xtask bench vocoder` chose: random phases, 24 iterations, momentum 0.99), SYNTH_LOOPS (also learn from this
# many of the corpus's synthetic loops, default 0; the shipped network's third leg used 240),
# INVERSE_STEPS (NNLS steps of the DSP inversion the network corrects; default: the inversion's),
# INIT_FROM (the exported vocoder a run without a checkpoint starts from; default models/vocoder).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$HOME/.cache/refrain/vocoder/run}
STEPS=${STEPS:-2500}
LR=${LR:-1e-3}
BACKEND=${BACKEND:-cpu}
EXPORT=${EXPORT-models/vocoder}
INIT_FROM=${INIT_FROM-models/vocoder}
FEATURES=()
[ "$BACKEND" = cuda ] && FEATURES=(--features cuda)
mkdir -p "$OUT/bin"
# A private copy of the release binary: rebuilding the workspace while training runs never
# swaps the program under it.
cargo build -q --release -p refrain-trainer "${FEATURES[@]}"
cp target/release/refrain-trainer "$OUT/bin/refrain-trainer.tmp"
mv -f "$OUT/bin/refrain-trainer.tmp" "$OUT/bin/refrain-trainer"
# The export is read before training starts, so exporting over it at the end is safe; a copy
# keeps it whole if that export is killed halfway.
INIT=()
if [ -n "$INIT_FROM" ] && [ ! -e "$OUT/checkpoint/vocoder.json" ] && [ ! -e "$OUT/checkpoint.old/vocoder.json" ]; then
    rm -rf "$OUT/init" && cp -r "$INIT_FROM" "$OUT/init"
    INIT=(--init-from "$OUT/init")
fi
echo "== $(date -u +%FT%TZ) vocoder train to $STEPS steps"
RUST_LOG=${RUST_LOG:-warn,refrain_trainer=info} "$OUT/bin/refrain-trainer" vocoder train \
    --resume --out "$OUT" --steps "$STEPS" --lr "$LR" --backend "$BACKEND" \
    --eval-every 250 --checkpoint-every 200 --synth-loops "${SYNTH_LOOPS:-0}" \
    ${INVERSE_STEPS:+--inverse-steps "$INVERSE_STEPS"} "${INIT[@]}"
if [ -n "$EXPORT" ]; then
    PHASE=()
    [ -n "${PHASE_INIT:-}" ] && PHASE+=(--phase-init "$PHASE_INIT")
    [ -n "${PHASE_ITERS:-}" ] && PHASE+=(--phase-iters "$PHASE_ITERS")
    [ -n "${PHASE_MOMENTUM:-}" ] && PHASE+=(--phase-momentum "$PHASE_MOMENTUM")
    "$OUT/bin/refrain-trainer" vocoder export --checkpoint "$OUT" --to "$EXPORT" "${PHASE[@]}"
fi
