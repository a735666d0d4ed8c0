#!/usr/bin/env bash
# Runs free-audio's clap-validator against the Refrain CLAP bundle a few times and prints a
# per-test table (passed / failed / skipped / warnings for each test, summed over the runs).
#
# Usage:
#   tests/hosts/clap-validator.sh [path/to/clap-validator]
#   CLAP_VALIDATOR=/path/to/clap-validator tests/hosts/clap-validator.sh
#
# Environment (all optional):
#   CLAP_VALIDATOR      the validator binary (the first argument wins; else `clap-validator` on PATH)
#   RUNS                how many validator runs (default 3: the fuzz / random-parameter tests draw new
#                       values each run, so one clean run proves less than three)
#   REFRAIN_CLAP        the bundle to validate (default target/bundled/Refrain.clap)
#   REFRAIN_BASE_MODEL  default models/base in this checkout
#   REFRAIN_ORT_DYLIB   default target/onnxruntime/cpu/libonnxruntime.so when present (the bundle
#                       also carries its own copy next to Refrain.clap)
#   CV_ARGS             extra arguments for `clap-validator validate` (e.g. "-x scan-time")
#   KEEP=1              keep the temporary directory (JSON reports, logs) and print its path
#
# What it needs:
#   * the bundle: `REFRAIN_ORT_DYLIB=$PWD/target/onnxruntime/cpu/libonnxruntime.so
#     cargo xtask bundle refrain-plugin` (a debug build is preferable: debug builds abort on any
#     allocation on the audio thread, so the validator's process tests double as an
#     allocation check);
#   * python3 (only the standard library) to read the validator's JSON and print the table;
#   * clap-validator itself. It is not vendored and never committed here; build it from a
#     fetched snapshot OUTSIDE the repository, e.g.
#         git clone https://github.com/free-audio/clap-validator /tmp/clap-validator-src
#         cd /tmp/clap-validator-src && git checkout 0.4.1        # newest tag of the 0.3/0.4 line
#         CARGO_TARGET_DIR=/tmp/clap-validator-target cargo build --release
#         # -> /tmp/clap-validator-target/release/clap-validator
#     0.4.x's workspace also lists two test plugins (tests/clack-synth, tests/clack-effect) that
#     depend on a git revision of `clack` on GitHub; where only crates.io is reachable, drop those
#     two entries from `[workspace] members` in the validator's own Cargo.toml (the validator
#     binary does not depend on them) and build again.
#
# Exit status: 0 when every test passed or was skipped in every run (warnings are reported but
# do not fail), 1 when any test failed or crashed in any run, 2 on a setup error (bundle missing,
# validator output unreadable). A missing validator prints "SKIPPED: ..." and exits 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# --- Locate the validator; its absence is a skip, not a failure (it is an optional tool). -----
VALIDATOR="${1:-${CLAP_VALIDATOR:-}}"
if [[ -z "$VALIDATOR" ]]; then
    VALIDATOR="$(command -v clap-validator || true)"
fi
if [[ -z "$VALIDATOR" || ! -x "$VALIDATOR" ]]; then
    echo "SKIPPED: clap-validator not found (pass its path as the first argument or set CLAP_VALIDATOR;" \
        "see the header of $0 for how to build it)"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIPPED: python3 is needed to read the validator's JSON report"
    exit 0
fi

# --- The bundle: a missing one is a setup error (the validator is there, so the user meant to run).
CLAP="${REFRAIN_CLAP:-$ROOT/target/bundled/Refrain.clap}"
if [[ ! -f "$CLAP" ]]; then
    echo "ERROR: $CLAP not found; build it first:" >&2
    echo "  REFRAIN_ORT_DYLIB=$ROOT/target/onnxruntime/cpu/libonnxruntime.so cargo xtask bundle refrain-plugin" >&2
    exit 2
fi

# --- Environment the plugin reads. REFRAIN_HOME is a fresh temporary directory so the runs
# neither read nor pollute the user's data directory, and start from the same (empty) state.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/refrain-clap-validator.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
    trap 'echo "kept: $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
# shellcheck source=tests/hosts/plugin-env.sh
source "$ROOT/tests/hosts/plugin-env.sh"

RUNS="${RUNS:-3}"
read -r -a EXTRA <<<"${CV_ARGS:-}"

echo "validator: $("$VALIDATOR" --version 2>/dev/null || echo "$VALIDATOR (version unknown)")"
echo "plugin:    $CLAP"
echo "model:     $REFRAIN_BASE_MODEL"
echo "ort:       ${REFRAIN_ORT_DYLIB:-(bundled copy next to the plugin)}"
echo "runs:      $RUNS"
echo

# --- Run it RUNS times. `--json` gives one machine-readable report per run on stdout; the plugin's
# own log lines and the validator's progress go to stderr, kept per run for the failure details.
# Out-of-process mode (the default) runs each test in a fresh process, so a crash in one test is
# recorded as CRASHED instead of ending the run.
for ((i = 1; i <= RUNS; i++)); do
    rc=0
    "$VALIDATOR" validate --json "${EXTRA[@]}" "$CLAP" >"$WORK/run$i.json" 2>"$WORK/run$i.log" || rc=$?
    echo "run $i: exit status $rc ($(wc -c <"$WORK/run$i.json") bytes of JSON, log $(wc -l <"$WORK/run$i.log") lines)"
done
echo

# --- Table. Each report is {"results": [{"test": {"plugin-library"|"plugin-instance": {"test":
# name, ...}}, "status": {"code": success|failed|crashed|skipped|warning, "details": ...}}, ...]}.
python3 - "$WORK" "$RUNS" <<'PY'
import json, sys, collections

work, runs = sys.argv[1], int(sys.argv[2])

def load(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # A plugin that prints to stdout would interleave with the report: take the report from
        # its opening brace on.
        start = text.find('{\n  "results"')
        if start < 0:
            raise
        return json.loads(text[start:])

order = []                      # first-seen order of test names
counts = collections.defaultdict(collections.Counter)
details = collections.defaultdict(dict)  # test -> {status: first detail text}
bad_runs = 0
for i in range(1, runs + 1):
    try:
        report = load(f"{work}/run{i}.json")
    except Exception as e:      # noqa: BLE001 - report any unreadable run and carry on
        print(f"run {i}: no readable JSON report ({e}); its log tail:")
        print("".join(open(f"{work}/run{i}.log", errors="replace").readlines()[-20:]))
        bad_runs += 1
        continue
    for r in report["results"]:
        kind, body = next(iter(r["test"].items()))
        name = body["test"]
        if name not in counts:
            order.append(name)
        code = r["status"]["code"]
        counts[name][code] += 1
        d = r["status"].get("details")
        if d and code != "success":
            details[name].setdefault(code, d)

cols = [("passed", "success"), ("failed", "failed"), ("crashed", "crashed"),
        ("skipped", "skipped"), ("warnings", "warning")]
w = max([len(n) for n in order] + [4])
print(f"{'test':<{w}}  " + "  ".join(f"{c:>8}" for c, _ in cols))
print("-" * (w + 2 + 10 * len(cols)))
for n in order:
    print(f"{n:<{w}}  " + "  ".join(f"{counts[n][k]:>8}" for _, k in cols))
print("-" * (w + 2 + 10 * len(cols)))
tot = collections.Counter()
for n in order:
    tot.update(counts[n])
print(f"{'total':<{w}}  " + "  ".join(f"{tot[k]:>8}" for _, k in cols))
print(f"({len(order)} tests x {runs - bad_runs} readable runs)")

# Details: every non-passing outcome once per test and status (skips are usually "the plugin
# does not implement extension X"; failures carry the validator's explanation).
for status in ("crashed", "failed", "warning", "skipped"):
    items = [(n, details[n][status]) for n in order if status in details[n]]
    if not items:
        continue
    print(f"\n{status.upper()}:")
    for n, d in items:
        lines = d.strip().splitlines()
        more = f"\n      ... ({len(lines) - 12} more lines)" if len(lines) > 12 else ""
        print(f"  {n}: " + "\n      ".join(lines[:12]) + more)

failed = tot["failed"] + tot["crashed"]
print()
if bad_runs:
    print(f"RESULT: ERROR ({bad_runs} run(s) without a readable report)")
    sys.exit(2)
if failed:
    print(f"RESULT: FAIL ({failed} failed/crashed test outcomes over {runs} runs)")
    sys.exit(1)
print(f"RESULT: PASS ({tot['warning']} warnings, {tot['skipped']} skips over {runs} runs)")
PY
