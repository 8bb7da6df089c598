#!/bin/bash
# Instructions per command of BM_GlutWeek, counted by callgrind over the
# timed loop only (engine_bench.cc toggles collection around it). Stable on
# noisy shared machines where timings are not; record it to see regressions.
#
#   bench/instructions.sh [BUILD_DIR] [BOOK] [COMMANDS]
#   defaults:              build-bench  10000  20000
#
# Prints the instruction count, the commands and their ratio, and leaves the
# callgrind profile for callgrind_annotate. The first COMMANDS commands of a
# workload do not depend on its total length, so the figure is for the
# standard workload's first COMMANDS commands at that book size. It includes
# the benchmark loop's own per-command work (two rdtscp, a histogram add:
# about 30 instructions).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
BOOK=${2:-10000}
COMMANDS=${3:-20000}
BIN="$BUILD/bench/duijie_engine_bench"
OUT=${OUT:-/tmp/duijie-callgrind.$BOOK}
[[ -x "$BIN" ]] || { echo "build $BIN first (see docs/PERFORMANCE.md)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

DUIJIE_BENCH_COMMANDS=$COMMANDS valgrind --tool=callgrind --collect-atstart=no \
  --callgrind-out-file="$OUT.out" "$BIN" \
  --benchmark_filter="^BM_GlutWeek/$BOOK\$" --benchmark_min_time=0.01 \
  --benchmark_format=json >"$OUT.json" 2>"$OUT.log"

IR=$(awk '/^(summary|totals):/ {print $2; exit}' "$OUT.out")
CMDS=$(python3 -c 'import json,sys
b=json.load(open(sys.argv[1]))["benchmarks"][0]
print(int(b["commands"]))' "$OUT.json")
echo "book $BOOK: $IR instructions over $CMDS commands"
awk -v ir="$IR" -v n="$CMDS" 'BEGIN {printf "instructions per command: %.0f\n", ir / n}'
echo "profile: callgrind_annotate $OUT.out | head -60"
