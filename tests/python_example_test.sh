#!/usr/bin/env bash
# Runs the Python client of docs/examples/python against a real
# duijie-server with the demo data, as its README section says to:
# messages generated from proto/ by protoc, Debian's python3-grpcio.
#
#   bash tests/python_example_test.sh <duijie-server> <protoc> <source dir>
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 <duijie-server> <protoc> <source dir>" >&2
  exit 2
fi
SERVER=$1
PROTOC=$2
SRC=$3
# Debian's interpreter: its python3-grpcio and python3-protobuf are what
# the example is written for (a python3 earlier on PATH may lack them).
PYTHON=/usr/bin/python3
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- server log (last 20 lines):" >&2
  tail -n 20 "$WORK/server.log" >&2 || true
  exit 1
}

mkdir -p "$WORK/gen"
"$PROTOC" -I"$SRC/proto" --python_out="$WORK/gen" "$SRC"/proto/duijie/v1/*.proto

"$SERVER" --listen=127.0.0.1:0 --demo --admin_key_file="$WORK/admin.key" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(sed -n \
    's/.*duijie-server listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p;T;q' \
    "$WORK/server.log") || true
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "duijie-server exited at start"
  sleep 0.1
done
[[ -n "$PORT" ]] || fail "no 'duijie-server listening on' line within 10 s"

run_example() {
  PYTHONPATH="$WORK/gen" timeout 60 "$PYTHON" \
    "$SRC/docs/examples/python/follow_matches.py" \
    --server "127.0.0.1:$PORT" "$@" >"$WORK/out" 2>"$WORK/err"
}

# Without a key the server refuses, and the example says so.
if run_example; then
  fail "the example ran without a key"
fi
grep -q "UNAUTHENTICATED" "$WORK/err" || {
  cat "$WORK/err" >&2
  fail "no UNAUTHENTICATED error without a key"
}

# With the admin key: two matches, one seen live, one after the reconnect,
# each once, and the final line.
run_example --key_file "$WORK/admin.key" || {
  cat "$WORK/out" "$WORK/err" >&2
  fail "the example failed"
}
cat "$WORK/out"
[[ $(grep -c '^match [0-9]*: [0-9]* kg of vegetable.lily' "$WORK/out") -eq 2 ]] ||
  fail "expected two matches printed"
grep -q '^resumed after event [0-9]*: no match lost or repeated$' "$WORK/out" ||
  fail "no resume line"
echo "PASS"
