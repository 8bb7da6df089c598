#!/bin/bash
# Writes the glut-week scenarios into bench/scenarios/ (or
# $DUIJIE_SCENARIOS): glut-week-s<seed>.wl for seeds 1-5, each about
# $ORDERS (default 10000) offers and pledges. The files are deterministic:
# the digest printed for each is the same on every machine. See
# bench/glut_week.h for what a week holds and docs/ALLOCATION.md for the
# runs.
#
#   bench/make_scenarios.sh [BUILD_DIR]    (default build-sim, as
#                                           tools/simulate)
# duijie-workload is built (Release, when BUILD_DIR is not configured yet)
# or brought up to date in BUILD_DIR first.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-sim}
DIR=${DUIJIE_SCENARIOS:-bench/scenarios}
ORDERS=${ORDERS:-10000}
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDUIJIE_TESTS=OFF >&2
fi
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" \
  --target duijie-workload >&2
mkdir -p "$DIR"
for seed in 1 2 3 4 5; do
  "$BUILD/bench/duijie-workload" --scenario=glut-week --orders="$ORDERS" \
    --seed="$seed" --out="$DIR/glut-week-s$seed.wl"
done
ls -l "$DIR"
