#!/usr/bin/env bash
# bench/api_bench.sh: the API benchmark in one run. Uses binaries already
# built (it builds nothing): generates the standard workload, then for each
# configuration starts a fresh duijie-server (or duijie-echo-server) on a free
# loopback port, replays the workload with duijie-loadgen, stops the server,
# and prints a table of duijie against the echo baseline measured in the same
# run:
#   unary  K=64, K=256      vs echo-unary  (same K)
#   submit B=100, B=1000    vs echo-stream (same batches, same window)
# The echo runs send requests of the real requests' serialized sizes and get
# replies of the sizes the real server's responses had in the run before.
#
# Usage: bench/api_bench.sh [--build=DIR] [--book=N] [--commands=M]
#          [--seed=S] [--workload=FILE] [--repeat=R] [--window=W]
#          [--seconds=S] [--out=DIR] [--perf] [--journal] [--server-arg=ARG]
#   --build     build directory holding api/duijie-server,
#               bench/duijie-workload, bench/echo/duijie-echo-server and
#               tools/loadgen/duijie-loadgen (default: build)
#   --server, --echo, --loadgen, --generator: each binary's path instead
#   --book, --commands, --seed: the workload (default 100000, 200000, 1)
#   --workload  use this workload file instead of generating one
#   --repeat    runs of each configuration, interleaved; the table shows the
#               median (default 1)
#   --window    Submit batches in flight (default 8)
#   --seconds   time bound of each measured run (default 60)
#   --out       keep the workload, JSON results and logs here (default: a
#               temporary directory, removed at exit)
#   --journal   run duijie-server with a write-ahead journal (--data_dir, a
#               fresh directory under --out for each run; fsync on)
#   --server-arg=ARG  pass ARG to duijie-server (repeatable)
#   --perf      record a perf profile of the server during the unary K=64 and
#               submit B=1000 runs (perf-*.txt in --out)
#   --auth-cost also run unary K=64 against a server with --insecure_no_auth,
#               to show what authenticating every call costs
# duijie-server runs with an admin key (every call authenticated) and no
# per-key rate or open-order limit: the load generator is one key posting
# for every party, and the figures are the server's, not a limit's.
# Every run is bounded (timeout) and every server is killed at exit (trap).
set -euo pipefail

build=build
server='' echo_server='' loadgen='' generator=''
book=100000 commands=200000 seed=1 workload=''
repeat=1 window=8 seconds=60 out='' perf=0 journal=0 auth_cost=0
server_args=()
for arg in "$@"; do
  case "$arg" in
    --build=*) build=${arg#*=} ;;
    --server=*) server=${arg#*=} ;;
    --echo=*) echo_server=${arg#*=} ;;
    --loadgen=*) loadgen=${arg#*=} ;;
    --generator=*) generator=${arg#*=} ;;
    --book=*) book=${arg#*=} ;;
    --commands=*) commands=${arg#*=} ;;
    --seed=*) seed=${arg#*=} ;;
    --workload=*) workload=${arg#*=} ;;
    --repeat=*) repeat=${arg#*=} ;;
    --window=*) window=${arg#*=} ;;
    --seconds=*) seconds=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --perf) perf=1 ;;
    --journal) journal=1 ;;
    --auth-cost) auth_cost=1 ;;
    --server-arg=*) server_args+=("${arg#*=}") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "api_bench.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
server=${server:-$build/api/duijie-server}
echo_server=${echo_server:-$build/bench/echo/duijie-echo-server}
loadgen=${loadgen:-$build/tools/loadgen/duijie-loadgen}
generator=${generator:-$build/bench/duijie-workload}
for bin in "$server" "$echo_server" "$loadgen"; do
  [[ -x "$bin" ]] || { echo "api_bench.sh: $bin is not built" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "api_bench.sh: needs jq" >&2; exit 2; }

if [[ -z "$out" ]]; then
  out=$(mktemp -d /tmp/duijie-api-bench.XXXXXX)
  keep_out=0
else
  mkdir -p "$out"
  keep_out=1
fi

# The server of the current run and anything else started; killed on exit.
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $keep_out == 0 ]]; then rm -rf "$out"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bootstrap admin key of every real server, and the loadgen's key.
key_file=$out/admin.key
(umask 077 && echo "dj_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$key_file")

# start_server BIN LOG [ARGS...]: starts BIN --listen=127.0.0.1:0 ARGS, waits
# (at most 10 s) for its "listening on 127.0.0.1:PORT" line, sets server_pid
# and server_addr.
start_server() {
  local bin=$1 log=$2
  shift 2
  "$bin" --listen=127.0.0.1:0 "$@" >"$log" 2>"$log.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_addr=
  for _ in $(seq 100); do
    server_addr=$(sed -n 's/.* listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' \
      "$log" 2>/dev/null | head -n1)
    [[ -n "$server_addr" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "api_bench.sh: $bin did not start; see $log.err" >&2
  cat "$log.err" >&2 || true
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

generated=''
if [[ -z "$workload" ]]; then
  generated=1
  [[ -x "$generator" ]] || { echo "api_bench.sh: $generator is not built" >&2; exit 2; }
  workload=$out/workload-$book-$commands-$seed.wl
  echo "==> generating the workload: book $book, commands $commands, seed $seed"
  timeout 600 "$generator" --book="$book" --commands="$commands" \
    --seed="$seed" --out="$workload" >"$out/workload.txt"
  cat "$out/workload.txt"
fi

# run NAME KIND MODE INFLIGHT BATCH [EXTRA...]: one measured run against a
# fresh server of KIND (real or echo); the JSON goes to $out/NAME.json.
run() {
  local name=$1 kind=$2 mode=$3 inflight=$4 batch=$5
  shift 5
  local bin=$server
  local args=("${server_args[@]}")
  local key_args=("--key_file=$key_file")
  if [[ $kind == echo ]]; then
    bin=$echo_server
    args=()
    key_args=()
  elif [[ $kind == noauth ]]; then
    args+=(--insecure_no_auth --max_open_orders=0)
    key_args=()
  else
    args+=("--admin_key_file=$key_file" --rate_per_key=0 --max_open_orders=0)
  fi
  # The workload's prefill is a steady-state book: some offers have minutes
  # left, under the server's default minimum lead. Take them all, as the
  # engine benchmark does.
  if [[ $kind != echo ]]; then
    args+=(--min_offer_lead=0)
  fi
  if [[ $kind != echo && $journal == 1 ]]; then
    args+=("--data_dir=$out/data-$name")
  fi
  # The machine may be shared: note its load before each run.
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  start_server "$bin" "$out/$name.server.log" "${args[@]}"
  local perf_pid=
  if [[ $perf == 1 && ( $name == unary-64.* || $name == submit-1000.* ) ]]; then
    perf record -F 499 -g -o "$out/${name%.*}.perf.data" -p "$server_pid" \
      >/dev/null 2>&1 &
    perf_pid=$!
    pids+=("$perf_pid")
  fi
  # The prefill and the load are bounded as well as the measured phase.
  if ! timeout --kill-after=5 $((seconds + 300)) "$loadgen" \
      --server="$server_addr" --workload="$workload" --mode="$mode" \
      --inflight="$inflight" --batch="$batch" --seconds="$seconds" \
      --server_pid="$server_pid" --json "${key_args[@]}" "$@" \
      >"$out/$name.json" 2>"$out/$name.log"; then
    echo "api_bench.sh: $name failed; see $out/$name.log" >&2
    cat "$out/$name.log" >&2
  fi
  if [[ -n "$perf_pid" ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    # Flat profiles (the Debian libraries have no frame pointers, so call
    # graphs are not reliable): by library, then by function.
    {
      perf report -i "$out/${name%.*}.perf.data" --no-children --sort dso \
        -g none --percent-limit 0.5 --stdio 2>/dev/null | grep '%'
      echo
      perf report -i "$out/${name%.*}.perf.data" --no-children --sort symbol \
        -g none --percent-limit 0.3 --stdio 2>/dev/null | grep '%'
    } >"$out/perf-${name%.*}.txt" || true
  fi
  stop_server
  jq -r --arg load "$load" '"    \(.mode) K=\(.inflight) B=\(.batch): \(.commands) commands, \(.commands_per_second|floor) commands/s, p99 \(.latency_us.p99) us, server \(.server_cpu_us_per_command) us/command, cores used \((.server_cpu_seconds + .client_cpu_seconds) / .seconds * 100 | floor / 100) (load average before: \($load))"' \
    "$out/$name.json" 2>/dev/null || true
}

echo "==> machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
echo "==> runs (results in $out)"
for ((r = 1; r <= repeat; r++)); do
  for k in 64 256; do
    run "unary-$k.$r" real unary "$k" 1 \
      --save_response_sizes="$out/sizes-unary-$k.$r.txt"
    run "echo-unary-$k.$r" echo echo-unary "$k" 1 \
      --response_sizes="$out/sizes-unary-$k.$r.txt"
  done
  if [[ $auth_cost == 1 ]]; then
    run "noauth-unary-64.$r" noauth unary 64 1
  fi
  for b in 100 1000; do
    run "submit-$b.$r" real submit "$window" "$b" \
      --save_response_sizes="$out/sizes-submit-$b.$r.txt"
    # The echo server keeps no state, so the echo stream replays the batches
    # several times to run long enough to measure.
    run "echo-stream-$b.$r" echo echo-stream "$window" "$b" --repeat=10 \
      --response_sizes="$out/sizes-submit-$b.$r.txt"
  done
done

# median NAME FIELD: the median of FIELD over the repeats of NAME.
median() {
  local name=$1 field=$2
  for ((r = 1; r <= repeat; r++)); do
    jq -r "$field // empty" "$out/$name.$r.json" 2>/dev/null || true
  done | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "nan") print "-"; else printf "%.*f", d, v }'; }

# row LABEL NAME [ECHO_NAME]: one line of the table for the runs NAME.
row() {
  local label=$1 name=$2 echo_name=${3:-}
  local rate echo_rate='' ratio_text='' cpu_ratio=''
  local cpu='(.server_cpu_us_per_command + .client_cpu_us_per_command)'
  rate=$(median "$name" .commands_per_second)
  if [[ -n "$echo_name" ]]; then
    echo_rate=$(median "$echo_name" .commands_per_second)
    ratio_text=$(ratio "$rate" "$echo_rate")
    echo_rate=$(fmt "$echo_rate")
    cpu_ratio=$(ratio "$(median "$echo_name" "$cpu")" "$(median "$name" "$cpu")")
  fi
  printf '%-20s %10s %10s %5s %8s %8s %8s %7s %7s %5s %5s\n' "$label" \
    "$(fmt "$rate")" "$echo_rate" "$ratio_text" \
    "$(fmt "$(median "$name" .latency_us.p50)" 1)" \
    "$(fmt "$(median "$name" .latency_us.p99)" 1)" \
    "$(fmt "$(median "$name" .latency_us.p999)" 1)" \
    "$(fmt "$(median "$name" .server_cpu_us_per_command)" 2)" \
    "$(fmt "$(median "$name" .client_cpu_us_per_command)" 2)" \
    "$(fmt "$(median "$name" '(.server_cpu_seconds + .client_cpu_seconds) / .seconds')" 2)" \
    "$cpu_ratio"
}

echo
journal_text="no journal"
[[ $journal == 1 ]] && journal_text="journal with fsync"
workload_text="book $book, commands $commands, seed $seed"
[[ -z "$generated" ]] && workload_text=$workload
echo "API figures (median of $repeat; workload: $workload_text; $journal_text; $(nproc) cores)"
printf '%-20s %10s %10s %5s %8s %8s %8s %7s %7s %5s %5s\n' \
  run "cmd/s" "echo cmd/s" ratio "p50 us" "p99 us" "p99.9 us" "srv us" "cli us" cores "cpu r"
for k in 64 256; do
  row "unary K=$k" "unary-$k" "echo-unary-$k"
  row "  echo-unary K=$k" "echo-unary-$k"
done
if [[ $auth_cost == 1 ]]; then
  # The "echo" columns hold the unauthenticated run: ratio = auth / no auth.
  row "  vs no auth, K=64" "unary-64" "noauth-unary-64"
fi
for b in 100 1000; do
  row "submit B=$b W=$window" "submit-$b" "echo-stream-$b"
  row "  echo-stream B=$b" "echo-stream-$b"
done
cat <<EOF
latency: per RPC (unary) or per batch (streams). srv us, cli us: server and
load generator CPU per command. cores: their CPU over wall time, of $(nproc).
ratio: commands/s against the echo run; cpu r: the echo run's CPU per command
over this run's, the ratio a machine with both cores free would show.
Goals: unary >= 80% of echo at the same K; submit >= 1,000,000 commands/s.
EOF
