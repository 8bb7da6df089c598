#!/usr/bin/env bash
# bench/durability_bench.sh: the durability figures of docs/PERFORMANCE.md in
# one run, on one workload. Uses binaries already built (it builds nothing).
# For each of three server configurations -- in memory (no --data_dir),
# journal with --fsync=false, journal with fsync and group commit -- and each
# of two client modes -- unary with 64 calls in flight (64 concurrent
# clients) and Submit batches of 100 with 8 in flight -- it starts a fresh
# duijie-server on a free loopback port, replays the workload with
# duijie-loadgen for --seconds, and reads the journal's counters from
# `duijie admin state-hash`. Then it kills (-9) a server whose journal holds
# the largest run, restarts it and reads how long recovery took.
#
# Usage: bench/durability_bench.sh --server=BIN --loadgen=BIN --cli=BIN
#          --workload=FILE [--seconds=S] [--out=DIR]
# Snapshots are off during the runs (--snapshot_every=0), so that recovery
# replays the whole journal.
set -euo pipefail

server='' loadgen='' cli='' workload='' seconds=20 out=''
for arg in "$@"; do
  case "$arg" in
    --server=*) server=${arg#*=} ;;
    --loadgen=*) loadgen=${arg#*=} ;;
    --cli=*) cli=${arg#*=} ;;
    --workload=*) workload=${arg#*=} ;;
    --seconds=*) seconds=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "durability_bench.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
for bin in "$server" "$loadgen" "$cli"; do
  [[ -x "$bin" ]] || { echo "durability_bench.sh: '$bin' is not built" >&2; exit 2; }
done
[[ -f "$workload" ]] || { echo "durability_bench.sh: no --workload" >&2; exit 2; }
command -v jq >/dev/null || { echo "durability_bench.sh: needs jq" >&2; exit 2; }
out=${out:-$(mktemp -d /tmp/duijie-dur-bench.XXXXXX)}
mkdir -p "$out"

server_pid=''
cleanup() { [[ -n "$server_pid" ]] && kill -9 "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# start LOG [ARGS...]: starts the server, waits for its address.
start() {
  local log=$1
  shift
  # Without keys: this measures the journal (api_bench.sh measures auth).
  # No minimum lead: the prefill holds offers with minutes left.
  "$server" --listen=127.0.0.1:0 --snapshot_every=0 --snapshot_interval=0 \
    --insecure_no_auth --max_open_orders=0 --min_offer_lead=0 "$@" \
    >"$log" 2>"$log.err" &
  server_pid=$!
  addr=''
  for _ in $(seq 600); do
    addr=$(sed -n 's/.* listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n1)
    [[ -n "$addr" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "durability_bench.sh: the server did not start:" >&2
  cat "$log.err" >&2
  exit 1
}

printf '%-8s %-18s %12s %10s %12s %10s\n' config mode commands/s p99_us \
  commands/fsync fsyncs
for config in memory nosync fsync; do
  for mode in unary submit; do
    name=$config-$mode
    dir=$out/$name-data
    rm -rf "$dir"
    case $config in
      memory) args=() ;;
      nosync) args=("--data_dir=$dir" --fsync=false) ;;
      fsync) args=("--data_dir=$dir") ;;
    esac
    start "$out/$name.log" "${args[@]}"
    if [[ $mode == unary ]]; then
      lg=(--mode=unary --inflight=64)
    else
      lg=(--mode=submit --inflight=8 --batch=100)
    fi
    "$loadgen" --server="$addr" --workload="$workload" "${lg[@]}" \
      --seconds="$seconds" --server_pid="$server_pid" --json >"$out/$name.json"
    "$cli" --server "$addr" --json admin state-hash >"$out/$name.admin.json"
    rate=$(jq -r '.commands_per_second' "$out/$name.json")
    p99=$(jq -r '.latency_us.p99' "$out/$name.json")
    records=$(jq -r '.journal.records // 0' "$out/$name.admin.json")
    syncs=$(jq -r '.journal.syncs // 0' "$out/$name.admin.json")
    per_sync='-'
    if [[ $syncs != 0 ]]; then
      per_sync=$(awk -v r="$records" -v s="$syncs" 'BEGIN{printf "%.1f", r/s}')
    fi
    printf '%-8s %-18s %12.0f %10.0f %12s %10s\n' "$config" "${lg[*]}" \
      "$rate" "$p99" "$per_sync" "$syncs"
    if [[ $config == nosync && $mode == submit ]]; then
      kill -9 "$server_pid"
      wait "$server_pid" 2>/dev/null || true
    else
      kill "$server_pid"
      wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=''
  done
done

# Recovery: the --fsync=false Submit run's journal, killed, not snapshotted.
dir=$out/nosync-submit-data
bytes=$(du -sb "$dir" | cut -f1)
start "$out/recovery.log" "--data_dir=$dir"
line=$(grep 'recovered .* journal records' "$out/recovery.log.err" || true)
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=''
echo "recovery: $line"
echo "recovery: journal of $bytes bytes"
echo "results in $out"
