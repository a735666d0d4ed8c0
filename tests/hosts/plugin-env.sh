# shellcheck shell=bash
# Sourced by the host scripts (needs ROOT = the checkout, WORK = the run's temporary folder):
# the plugin's data dir inside WORK, and the checkout's shipped base and provisioned ONNX
# Runtime unless the caller named others.
export REFRAIN_HOME="$WORK/refrain-home"
mkdir -p "$REFRAIN_HOME"
export REFRAIN_BASE_MODEL="${REFRAIN_BASE_MODEL:-$ROOT/models/base}"
if [[ -z "${REFRAIN_ORT_DYLIB:-}" && -f "$ROOT/target/onnxruntime/cpu/libonnxruntime.so" ]]; then
    export REFRAIN_ORT_DYLIB="$ROOT/target/onnxruntime/cpu/libonnxruntime.so"
fi
