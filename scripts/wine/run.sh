#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu: runs a Windows binary under 64-bit Wine with
# ONNX Runtime's win_amd64 DLLs (`cargo xtask ort --target windows`) and, for Wine 8, which
# lacks it, a bcryptprimitives.dll shim (scripts/wine/bcryptprimitives.c, built here once) on
# Wine's DLL search path. A prefix of its own under the target dir keeps the user's ~/.wine
# out of it. Usage: run.sh PROGRAM.exe [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
ort="$target/onnxruntime/windows-cpu"
shim_dir="$target/wine-shim"
if [ ! -f "$ort/onnxruntime.dll" ]; then
    echo "run.sh: $ort/onnxruntime.dll is missing: run \`cargo xtask ort --target windows\`" >&2
    exit 127
fi
if [ ! -f "$shim_dir/bcryptprimitives.dll" ] || [ "$here/bcryptprimitives.c" -nt "$shim_dir/bcryptprimitives.dll" ]; then
    mkdir -p "$shim_dir"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$shim_dir/bcryptprimitives.dll" "$here/bcryptprimitives.c" -lbcrypt
fi
wine=$(command -v wine64 || true)
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
[ -x "$wine" ] || { echo "run.sh: 64-bit Wine not found (apt-get install wine64)" >&2; exit 127; }
export WINEPREFIX="${WINEPREFIX:-$target/wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
# Wine's DLL search path, in Windows form (Z: is the Unix root). REFRAIN_WINE_ORT=bundle leaves
# ONNX Runtime to the program's own search (beside the plugin DLL, as in an installed bundle).
if [ "${REFRAIN_WINE_ORT:-}" = bundle ]; then
    export WINEPATH="Z:${shim_dir//\//\\}"
    export REFRAIN_ORT_DYLIB=""
else
    export WINEPATH="Z:${ort//\//\\};Z:${shim_dir//\//\\}"
    export REFRAIN_ORT_DYLIB="Z:${ort//\//\\}\\onnxruntime.dll"
fi
# Wine's null display driver: nothing run here draws, and nice-plug's VST3 wrapper makes a
# hidden window for its main-thread tasks, which Wine's X11 driver cannot create without an X
# display (CreateWindowExA fails and the plugin panics in createInstance). Set once per prefix;
# the prefix's processes are then stopped, because its desktop process picks the driver when
# it starts (on a new prefix, before this key exists).
server=$(command -v wineserver || true)
[ -n "$server" ] || server=/usr/lib/wine/wineserver64
marker="$WINEPREFIX/.refrain-null-graphics"
if [ ! -f "$marker" ]; then
    "$wine" reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f >/dev/null
    if [ -x "$server" ]; then "$server" -k 2>/dev/null || true; fi
    touch "$marker"
fi
# Keep one wineserver alive across the many short runs cargo makes (a test binary each):
# otherwise each run's server exits 3 s after its last client, and a run starting just then
# loses its connection ("wine client error: recvmsg: Connection reset by peer"). It still
# exits on its own 60 s after the last run; a server already running is left as it is.
if [ -x "$server" ]; then
    "$server" -p60 2>/dev/null || true
fi
exec "$wine" "$@"
