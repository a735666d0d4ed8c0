#!/usr/bin/env bash
# Runs the Refrain VST3 in a real, headless Ardour (7.x; Debian 12's `ardour` package) and checks
# that, with default settings and nothing previewing, it passes audio through bit-exactly.
#
# Usage: tests/hosts/ardour.sh            (prints "SKIPPED: ..." and exits 0 without Ardour)
#
# Steps, and why:
#   1. Ardour 7 has no CLAP host, so the VST3 bundle (target/bundled/Refrain.vst3) is linked into
#      ~/.vst3 of a temporary HOME: Ardour's default VST3 search path, and a HOME of its own keeps
#      the user's Ardour config, plugin cache and blacklist out of the test.
#   2. Scan: Ardour's own out-of-process scanner (ardour-vst3-scanner, what the GUI runs on
#      "Plugin Manager > Rescan") loads the bundle and writes the scan cache; the headless session
#      then lists plugins from that cache only (headless Ardour never scans by itself).
#   3. ardour-render.lua `setup` (ardour7-lua, Dummy backend, no sound card): a new session at the
#      test file's rate with a mono and a stereo track (strict I/O on, as the GUI creates them) and
#      a second mono track with strict I/O off ("mono-flex", where the 2-out plugin widens the
#      track to stereo), each with one region of the file's length and no region fades.
#      Ardour 7's Lua has no file import, so the regions come from bouncing the silent tracks, and
#      this script then overwrites their source files with the test audio (examples/loop.wav:
#      its left channel on the mono track, both channels on the stereo one) in the same format.
#   4. ardour-render.lua `render`: per track, a session export of the master bus (other tracks
#      muted) and a bounce of the track, first without the plugin, then with Refrain inserted
#      first in every track's chain.
#   5. Compare (wavtool.py): with-plugin exports against without-plugin exports, and bounces
#      against the audio written in step 3; report max abs difference and bit-exactness.
#      Negative control: the session is loaded once more with REFRAIN_TEST_ALLOC_IN_PROCESS=1
#      (Refrain's hook that makes process() allocate); a debug build must abort Ardour.
#   6. Report Ardour's warnings and errors, and every log line that mentions the plugin.
#
# Needs: ardour (ardour7-lua + /usr/lib/ardour7/ardour-vst3-scanner), python3 (standard library),
# the bundle (`REFRAIN_ORT_DYLIB=$PWD/target/onnxruntime/cpu/libonnxruntime.so cargo xtask bundle
# refrain-plugin`; a debug build is preferable: it aborts on any allocation on the audio thread).
# Environment (optional): REFRAIN_VST3 (bundle), REFRAIN_TEST_WAV (default examples/loop.wav),
# REFRAIN_BASE_MODEL (default models/base), REFRAIN_ORT_DYLIB (default
# target/onnxruntime/cpu/libonnxruntime.so when present), ARDOUR_LUA (the interpreter),
# KEEP=1 (keep the temporary session, renders and logs, and print where).
# Exit status: 0 all renders bit-exact, 1 a check failed, 2 setup error; 0 with SKIPPED when
# Ardour is not installed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

# --- Find Ardour: the Lua session interpreter is named after the major version. ---------------
LUA="${ARDOUR_LUA:-}"
if [[ -z "$LUA" ]]; then
    for v in 7 8 9; do
        if command -v "ardour$v-lua" >/dev/null; then LUA="$(command -v "ardour$v-lua")"; fi
    done
fi
if [[ -z "$LUA" || ! -x "$LUA" ]]; then
    echo "SKIPPED: Ardour's Lua session interpreter (ardour7-lua) not found${LUA:+ at $LUA}; install it with 'apt-get install ardour'"
    exit 0
fi
MAJOR="$(basename "$LUA" | sed -n 's/^ardour\([0-9]*\)-lua$/\1/p')"
MAJOR="${MAJOR:-7}"
LIBDIR="/usr/lib/ardour$MAJOR"
SCANNER="$LIBDIR/ardour-vst3-scanner"
if [[ ! -x "$SCANNER" ]]; then
    echo "SKIPPED: $SCANNER not found (Ardour built without VST3 support?)"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIPPED: python3 is needed to compare the renders"
    exit 0
fi

VST3="${REFRAIN_VST3:-$ROOT/target/bundled/Refrain.vst3}"
WAV="${REFRAIN_TEST_WAV:-$ROOT/examples/loop.wav}"
if [[ ! -d "$VST3" ]]; then
    echo "ERROR: $VST3 not found; build it first:" >&2
    echo "  REFRAIN_ORT_DYLIB=$ROOT/target/onnxruntime/cpu/libonnxruntime.so cargo xtask bundle refrain-plugin" >&2
    exit 2
fi
[[ -f "$WAV" ]] || { echo "ERROR: test audio $WAV not found" >&2; exit 2; }

# --- Temporary world: HOME (Ardour config + caches + ~/.vst3), REFRAIN_HOME, session, renders. --
WORK="$(mktemp -d "${TMPDIR:-/tmp}/refrain-ardour.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
    trap 'echo "kept: $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache" XDG_DATA_HOME="$HOME/.local/share"
mkdir -p "$HOME/.vst3" "$WORK/out" "$WORK/logs"
ln -s "$VST3" "$HOME/.vst3/Refrain.vst3"
# shellcheck source=tests/hosts/plugin-env.sh
source "$ROOT/tests/hosts/plugin-env.sh"

# Export preset: 32-bit float WAV at session rate, no dither, no normalisation (Ardour's stock
# "BWAV 32float Export" format), so that exports can be compared sample for sample. Ardour reads
# user presets from its config dir; the id is handed to the Lua script.
PRESET_ID="5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
mkdir -p "$HOME/.config/ardour$MAJOR/export"
cat >"$HOME/.config/ardour$MAJOR/export/refrain-host-test.preset" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="$PRESET_ID" name="Refrain host test (32-bit float WAV)">
  <ExportFormat id="20b4ab09-6452-4cb3-bd66-b921cdbd2942"/>
  <ExportFilename>
    <Folder relative="true" path="/export"/>
    <Field name="label" enabled="false"/>
    <Field name="session" enabled="false"/>
    <Field name="revision" enabled="false"/>
    <Field name="time" enabled="false" value="T_None"/>
    <Field name="date" enabled="false" value="D_None"/>
  </ExportFilename>
</ExportPreset>
EOF
export REFRAIN_ARDOUR_PRESET="$PRESET_ID"

echo "ardour:  $("$LUA" --version 2>&1 | head -n1)"
echo "plugin:  $VST3"
echo "audio:   $WAV ($(python3 "$HERE/wavtool.py" info "$WAV"))"
echo

# Lines "RESULT key=value" from a log: the facts the Lua script reports.
get() { sed -n "s/^RESULT $2=//p" "$1" | tail -n1; }
status=0

# --- 2. Scan with Ardour's scanner. ---------------------------------------------------------
scan_rc=0
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 120 \
    "$SCANNER" -f -v "$HOME/.vst3/Refrain.vst3" >"$WORK/logs/scan.log" 2>&1 || scan_rc=$?
if [[ $scan_rc == 0 ]] && grep -q "Found Plugin" "$WORK/logs/scan.log"; then
    echo "scan:    ardour-vst3-scanner found it ($(grep -o 'Found Plugin: .*' "$WORK/logs/scan.log" | head -n1))"
    grep -E "VST3: (media|- bus)" "$WORK/logs/scan.log" | sed 's/^/         /'
else
    echo "scan:    FAILED (exit $scan_rc); scanner output:"
    sed 's/^/         /' "$WORK/logs/scan.log"
    status=1
fi

# --- 3. Session with placeholder regions, then the test audio into their sources. ------------
read -r RATE _CH FRAMES _ENC < <(python3 "$HERE/wavtool.py" info "$WAV")
SESSION="$WORK/session"
timeout 300 "$LUA" "$HERE/ardour-render.lua" setup "$SESSION" refrain-host-test "$RATE" "$FRAMES" \
    >"$WORK/logs/setup.log" 2>&1 || true
if [[ "$(get "$WORK/logs/setup.log" setup)" != ok ]]; then
    echo "ERROR: session setup failed; log:" >&2
    cat "$WORK/logs/setup.log" >&2
    exit 2
fi
declare -A SRC
while IFS='=' read -r key path; do
    key="${key#RESULT source.}"          # mono.0, stereo.0, stereo.1, mono-flex.0
    chan="${key##*.}"
    # Mono tracks get the file's first channel; the stereo track channel by channel.
    python3 "$HERE/wavtool.py" extract "$WAV" "$chan" "$FRAMES" "$path"
    SRC[$key]="$path"
done < <(grep '^RESULT source\.' "$WORK/logs/setup.log")
echo "session: $SESSION (rate $RATE, $FRAMES frames; sources: ${!SRC[*]})"

# --- 4. Render without and with the plugin. --------------------------------------------------
render_rc=0
timeout 600 "$LUA" "$HERE/ardour-render.lua" render "$SESSION" refrain-host-test "$WORK/out" "$FRAMES" Refrain \
    >"$WORK/logs/render.log" 2>&1 || render_rc=$?
R="$WORK/logs/render.log"
echo "scanned: $(get "$R" scanned) (Ardour's plugin list, from the scan cache)"
[[ "$(get "$R" scanned)" == yes ]] || status=1
for t in mono stereo mono-flex; do
    echo "load:    $t track: $(get "$R" "load.$t")"
    [[ "$(get "$R" "load.$t")" == yes ]] || status=1
    [[ -n "$(get "$R" "io.$t")" ]] && echo "         I/O: $(get "$R" "io.$t")"
    [[ -n "$(get "$R" "latency.$t")" ]] && echo "         reported latency: $(get "$R" "latency.$t") samples"
done
if [[ "$(get "$R" render)" != ok ]]; then
    echo "render:  INCOMPLETE (interpreter exit $render_rc; $(get "$R" error)); log tail:"
    tail -n 40 "$R" | sed 's/^/         /'
    status=1
fi

# --- 5. Compare. -------------------------------------------------------------------------------
echo
echo "comparisons (max abs difference per channel; BIT-EXACT = identical samples):"
compare() { # [--info] label reference-file(s)... test-file (last); --info: report, never fail
    local info=0
    if [[ "$1" == --info ]]; then info=1; shift; fi
    local label="$1"; shift
    local files=("$@") ref test out rc=0
    test="${files[-1]}"; unset 'files[-1]'
    for f in "${files[@]}" "$test"; do
        if [[ -z "$f" || ! -f "$f" ]]; then
            printf '  %-44s MISSING (%s)\n' "$label" "${f:-no file reported}"; status=1; return
        fi
    done
    ref="${files[0]}"
    out="$(python3 "$HERE/wavtool.py" compare "$ref" "$test" "${files[@]:1}")" || rc=$?
    printf '  %-44s %s\n' "$label" "$out"
    if [[ $rc != 0 && $info == 0 ]]; then status=1; fi
}
for t in mono stereo mono-flex; do
    if [[ $t == mono-flex ]]; then
        # Strict I/O off: the plugin's two outputs become the track's channels and the panner
        # changes, so the with-plugin export must equal the source on both channels, and the
        # without-plugin export (mono panner, -3 dB) is shown for information only.
        compare "$t export: plugin vs source on L and R" "${SRC[$t.0]}" "${SRC[$t.0]}" "$(get "$R" "export.$t-wet")"
        compare --info "$t export: with vs without (info: pan law)" "$(get "$R" "export.$t-dry")" "$(get "$R" "export.$t-wet")"
    else
        compare "$t export: with vs without plugin" "$(get "$R" "export.$t-dry")" "$(get "$R" "export.$t-wet")"
    fi
    # Bounces are one file per track channel; each must equal the source channel it came from
    # (on mono-flex both plugin outputs must equal the one mono source).
    for c in 0 1; do
        src="${SRC[$t.$c]:-${SRC[$t.0]}}"
        if [[ -n "$(get "$R" "bounce.$t-dry.$c")" ]]; then
            compare "$t bounce ch$c: no plugin vs source" "$src" "$(get "$R" "bounce.$t-dry.$c")"
        fi
        if [[ -n "$(get "$R" "bounce.$t-wet.$c")" ]]; then
            compare "$t bounce ch$c: plugin vs source" "$src" "$(get "$R" "bounce.$t-wet.$c")"
        fi
    done
done

# Dry/Wet = 1 ("preview only") with nothing previewing: for information (Refrain applies the
# dry/wet gains only while a clip plays, so this is expected to equal the dry export).
dw="$(get "$R" export.stereo-drywet1)"
if [[ -n "$dw" && -f "$dw" ]]; then
    out="$(python3 "$HERE/wavtool.py" compare "$(get "$R" export.stereo-dry)" "$dw")" || true
    printf '  %-44s %s\n' "info: stereo Dry/Wet=1 vs no plugin" "$out"
fi
echo "plugin parameters (stereo track, Ardour's control-input index = default value):"
grep '^RESULT param\.' "$R" | sed 's/^RESULT param\./  /' || true

# --- 5b. Negative control: make Refrain's process() allocate (its REFRAIN_TEST_ALLOC_IN_PROCESS
# hook) and load the session again. A debug build must abort Ardour: proof that Ardour called
# process() on its own threads and that the allocation check during the renders above was armed.
echo
ctl_rc=0
# (In a subshell whose stderr is dropped, so bash's "Aborted" job notice goes there too; the
# explicit `exit` keeps the subshell from exec'ing `timeout`, which re-raises the child's signal.)
(REFRAIN_TEST_ALLOC_IN_PROCESS=1 timeout 300 "$LUA" "$HERE/ardour-render.lua" control "$SESSION" refrain-host-test \
    "$WORK/out" "$FRAMES" >"$WORK/logs/control.log" 2>&1; exit $?) 2>/dev/null || ctl_rc=$?
if [[ "$(get "$WORK/logs/control.log" control)" == survived ]]; then
    echo "alloc control: NOT TRIGGERED (Ardour survived an allocating process(); release build of the plugin?)"
    echo "               the renders above were not checked for audio-thread allocations"
elif [[ $ctl_rc == 124 ]]; then
    echo "alloc control: TIMEOUT (see $WORK/logs/control.log)"; status=1
else
    echo "alloc control: OK, Ardour stopped as expected (exit $ctl_rc): $(grep -iE 'alloc|abort|panick' "$WORK/logs/control.log" | head -n 2 | tr '\n' ' ')"
fi

# --- 6. What Ardour (and the plugin) said. --------------------------------------------------------
echo
echo "Ardour warnings/errors (all phases):"
grep -hE '\[(WARNING|ERROR)\]|^Error:|^ERROR' "$WORK/logs/setup.log" "$R" | sort | uniq -c | sed 's/^/  /' || echo "  (none)"
echo "log lines mentioning the plugin (refrain/vst3/nice-plug/onnx, any case):"
grep -hiE 'refrain|vst3|nice.?plug|onnx|panick|abort' "$R" | grep -v '^RESULT ' | sort | uniq -c | head -n 40 | sed 's/^/  /' \
    || echo "  (none)"

echo
if [[ $status == 0 ]]; then
    echo "RESULT: PASS (scanned, loaded on every track, every render bit-exact)"
else
    echo "RESULT: FAIL (see above)"
fi
exit $status
