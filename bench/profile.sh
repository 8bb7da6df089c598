#!/bin/bash
# Samples BM_GlutWeek/<BOOK> with perf (cpu-clock: these VMs expose no
# hardware counters) over the timed loop only, and prints the flat profile.
#
#   bench/profile.sh [BUILD_DIR] [BOOK] [COMMANDS]
#   defaults:         build-bench  1000000  1000000
#
# Then: perf report -i /tmp/duijie-perf.<BOOK>.data   (call graphs: -g)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
BOOK=${2:-1000000}
COMMANDS=${3:-1000000}
DATA=/tmp/duijie-perf.$BOOK.data
FIFO=$(mktemp -u /tmp/duijie-perf-ctl.XXXXXX)
mkfifo "$FIFO"
trap 'rm -f "$FIFO"' EXIT
DUIJIE_PERF_CTL="$FIFO" DUIJIE_BENCH_COMMANDS=$COMMANDS \
  perf record -e cpu-clock -F 4000 -g --delay=-1 --control="fifo:$FIFO" \
  -o "$DATA" "$BUILD/bench/duijie_engine_bench" \
  --benchmark_filter="^BM_GlutWeek/$BOOK\$" --benchmark_min_time=0.01
perf report -i "$DATA" --no-children --sort symbol --stdio -g none 2>/dev/null |
  grep -v '^#' | grep '%' | head -40
