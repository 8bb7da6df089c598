#!/bin/bash
# Writes the standard workloads into bench/workloads/ (or $DUIJIE_WORKLOADS):
# glut-<book>-<commands>-s<seed>.wl for books of 10k, 100k and 1M resting
# orders (and 10M with --10m: about 1.3 GB), each followed by 1,000,000
# measured commands, seed 1. The files are deterministic: the digest printed
# for each is the one BM_GlutWeek reports in its label.
#
#   bench/make_workloads.sh [--10m] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="10000 100000 1000000"
if [[ "${1:-}" == "--10m" ]]; then
  SIZES="$SIZES 10000000"
  shift
fi
BUILD=${1:-build-bench}
DIR=${DUIJIE_WORKLOADS:-bench/workloads}
COMMANDS=${COMMANDS:-1000000}
mkdir -p "$DIR"
for book in $SIZES; do
  "$BUILD/bench/duijie-workload" --book="$book" --commands="$COMMANDS" \
    --seed=1 --out="$DIR/glut-$book-$COMMANDS-s1.wl"
done
ls -l "$DIR"
