#!/usr/bin/env bash
# Pretrain the base model on this machine (docs/ARCHITECTURE.md §6): the autoencoder first, then the UNet on
# the frozen autoencoder's cached latents. Both stages run with --resume, so rerunning this
# script continues where the last run stopped; raise AE_STEPS / UNET_STEPS to train longer
# (a UNet resumed on a newer autoencoder re-encodes the corpus and keeps going, with a warning).
#
#   nohup setsid scripts/pretrain.sh > ~/.cache/refrain/train/pretrain.log 2>&1 &
#
# Env: CORPUS, TRAIN (checkpoint root), AE_STEPS, AE_LR, UNET_STEPS, BACKEND (cpu|cuda; cuda also
# builds with --features cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-$HOME/.cache/refrain/corpus}
TRAIN=${TRAIN:-$HOME/.cache/refrain/train}
AE_STEPS=${AE_STEPS:-600}
AE_LR=${AE_LR:-4e-4}
UNET_STEPS=${UNET_STEPS:-20000}
BACKEND=${BACKEND:-cpu}
FEATURES=()
[ "$BACKEND" = cuda ] && FEATURES=(--features cuda)
mkdir -p "$TRAIN/bin"

# Each stage runs a private copy of the freshly built binary, so rebuilding the workspace while
# training runs never swaps the program under it; a failed build (someone mid-edit) keeps the
# previous copy.
stage() {
    if cargo build -q -p refrain-trainer "${FEATURES[@]}"; then
        cp target/debug/refrain-trainer "$TRAIN/bin/refrain-trainer.tmp"
        mv -f "$TRAIN/bin/refrain-trainer.tmp" "$TRAIN/bin/refrain-trainer"
    else
        echo "build failed: using the previous $TRAIN/bin/refrain-trainer"
    fi
    echo "== $(date -u +%FT%TZ) pretrain $*"
    "$TRAIN/bin/refrain-trainer" pretrain --resume --corpus "$CORPUS" --backend "$BACKEND" "$@"
}

# Autoencoder: batches of 4 random 128-frame crops (fully convolutional, so crops train the same
# weights at half the cost of whole windows: more steps per CPU hour), with the detail term
# (L1 on frame-to-frame and band-to-band changes) that keeps onsets from smearing.
stage --stage autoencoder --out "$TRAIN/autoencoder" --steps "$AE_STEPS" --batch 4 --crop 128 --lr "$AE_LR" --detail-weight 1
stage --stage unet --out "$TRAIN/unet" --steps "$UNET_STEPS" --batch 16
echo "== $(date -u +%FT%TZ) done"
