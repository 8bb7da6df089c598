#!/usr/bin/env bash
# End-to-end test of the duijie CLI against a real duijie-server.
#
#   bash tests/cli_test.sh <duijie-server> <duijie>
#
# Starts the server on a free loopback port (it prints "duijie-server
# listening on 127.0.0.1:PORT"), drives it through the CLI as a user would,
# and checks tables, --json output and exit codes: 0 ok, 1 refused by the
# server, 2 usage error, 3 server unreachable. Needs only bash, grep and sed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <duijie-server> <duijie>" >&2
  exit 2
fi
SERVER=$1
CLI=$2
WORK=$(mktemp -d)
# Times show in Asia/Shanghai unless $TZ or --utc say otherwise: the checks
# below expect the default, and set TZ where they test it. No config file
# of the user's is read.
unset TZ DUIJIE_SERVER DUIJIE_KEY
export XDG_CONFIG_HOME="$WORK/config"
LOG=$WORK/server.log
OUT=$WORK/stdout
ERR=$WORK/stderr
SERVER_PID=""

cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

LAST_CMD=""
RC=0
fail() {
  echo "FAIL: $*" >&2
  if [[ -n "$LAST_CMD" ]]; then
    echo "--- command: duijie $LAST_CMD (exit $RC)" >&2
    echo "--- stdout:" >&2
    cat "$OUT" >&2 || true
    echo "--- stderr:" >&2
    cat "$ERR" >&2 || true
  fi
  echo "--- server log (last 20 lines):" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
}

# Runs the CLI against the test server; sets RC, output in $OUT and $ERR.
run() {
  LAST_CMD="$*"
  set +e
  "$CLI" --server "127.0.0.1:$PORT" "$@" >"$OUT" 2>"$ERR"
  RC=$?
  set -e
}
# Runs the CLI and requires exit status $1.
expect_rc() {
  local want=$1
  shift
  run "$@"
  [[ "$RC" -eq "$want" ]] || fail "expected exit $want"
}
ok() { expect_rc 0 "$@"; }
# Requires a fixed string in the last stdout / stderr.
out_has() { grep -qF -- "$1" "$OUT" || fail "stdout lacks: $1"; }
out_lacks() { ! grep -qF -- "$1" "$OUT" || fail "stdout has: $1"; }
err_lacks() { ! grep -qF -- "$1" "$ERR" || fail "stderr has: $1"; }
err_has() { grep -qF -- "$1" "$ERR" || fail "stderr lacks: $1"; }
# Requires "name": value in the last (pretty-printed) JSON output. int64 and
# uint64 fields are strings in protobuf JSON; pass the value as JSON text.
json_has() { out_has "\"$1\": $2"; }
# Prints the first value of a JSON field in the last output (quotes removed).
json_get() {
  sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p;T;q" "$OUT"
}

# --- start the server on a free port ----------------------------------------
# Starts "$SERVER" with the given flags in the background and sets
# SERVER_PID and PORT once it listens.
start_server() {
  : >"$LOG"  # exists before the background server opens it
  "$SERVER" --listen=127.0.0.1:0 "$@" >"$LOG" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(sed -n \
      's/.*duijie-server listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p;T;q' \
      "$LOG") || true
    [[ -n "$PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "duijie-server exited at start"
    sleep 0.05
  done
  [[ -n "$PORT" ]] || fail "no 'duijie-server listening on' line within 10 s"
  echo "duijie-server on 127.0.0.1:$PORT"
}

# In memory, a server needs a key file (or --insecure_no_auth) to start.
set +e
"$SERVER" --listen=127.0.0.1:0 >"$OUT" 2>"$ERR"
RC=$?
set -e
[[ "$RC" -eq 1 ]] || fail "a server with no key file and no data dir started"
err_has "--admin_key_file"

# The bootstrap admin key is made with mode 0600, and the log names the
# file but never the secret.
# Heartbeats every 100 ms: the watches below, open for seconds, get many,
# and must print none of them.
start_server --admin_key_file="$WORK/admin.key" --watch_heartbeat=100ms
[[ "$(stat -c %a "$WORK/admin.key")" == 600 ]] || fail "admin.key is not 0600"
ADMIN_KEY=$(head -n 1 "$WORK/admin.key")
[[ "$ADMIN_KEY" == dj_* && ${#ADMIN_KEY} -eq 67 ]] || fail "odd admin key"
grep -qF "$WORK/admin.key" "$LOG" || fail "the log does not name the key file"
! grep -qF "$ADMIN_KEY" "$LOG" || fail "the log shows the admin secret"
# Every command below runs as the admin, unless it says otherwise.
export DUIJIE_KEY="$ADMIN_KEY"

# --- help and usage errors (exit 0 / 2) -------------------------------------
ok help
out_has "offer post"
out_has "Exit status"
ok offer --help
out_has "--floor-fen"
out_has "--expires-in"
expect_rc 2 offer post --supplier s --region 621202
err_has "missing required flag"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade superb --kg 10 --floor-fen 100
err_has "--grade"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg ten --floor-fen 100
err_has "--kg"
expect_rc 2 nonsense
expect_rc 2 offer get not-a-number
# Typos get the nearest command, subcommand or flag.
expect_rc 2 ofer list
err_has "unknown command 'ofer'; did you mean 'offer'?"
expect_rc 2 offer lsit
err_has "unknown command 'offer lsit'; did you mean 'offer list'?"
expect_rc 2 match list
err_has "unknown command 'match list'; did you mean 'matches list'?"
expect_rc 2 help ofer
err_has "no command 'ofer'; did you mean 'offer'?"
expect_rc 2 offer list --status opne
err_has "did you mean 'open'?"
expect_rc 2 offer list --suplier x
err_has "unknown flag '--suplier' for 'offer list'; did you mean --supplier?"
expect_rc 2 --jsno book
err_has "did you mean --json?"
# The CLI's version, and the server's (GetServerInfo).
ok --version
out_has "duijie 0."
out_has "duijie-server 0."
out_has "; gRPC 1."
# An unreachable server: the CLI's version still, and why not the server's.
ok --server 127.0.0.1:1 --version
out_has "duijie 0."
out_has "server version: unknown (127.0.0.1:1: UNAVAILABLE"
# --timeout and streams: the help says how they go together.
ok matches watch --help
out_has "--once"
out_has "--timeout bounds only its start"
ok help
out_has "'matches watch' and 'alerts watch'"
out_has "stream without one"
# The server lists its own flags.
"$SERVER" --help >"$OUT" 2>&1 || true
grep -qF -- "--max_open_orders" "$OUT" || fail "duijie-server --help lacks its flags"
! grep -qF "No flags matched" "$OUT" || fail "duijie-server --help matched no flags"
# Money and weight as users write them, read exactly; mistakes explained.
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-fen 68.00
err_has "68.00 for --floor-fen: did you mean --floor-yuan 68.00? (--floor-fen takes whole fen: 6800)"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-yuan 68.123
err_has "--floor-yuan: '68.123' is not an amount in yuan"
err_has "at most 2 decimals"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-fen 6800 --floor-yuan 68
err_has "give --floor-fen or --floor-yuan, not both"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --t 0.01 --floor-yuan 68
err_has "give --kg or --t, not both"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --floor-yuan 68
err_has "missing required flag --kg KG (or --t TONNES)"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 50t --floor-yuan 68
err_has "50t for --kg: did you mean --t 50?"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --t 1.0005 --floor-yuan 68
err_has "at most 3 decimals"
expect_rc 2 pledge post --buyer b --city 370200 --kind school --product x \
  --kg 1 --max-yuan 1 --budget-yuan 1,20
err_has "commas group thousands"
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-yuan 68 --expires tomorrow
err_has "--expires: 'tomorrow' is not a time"

# --- reference data ---------------------------------------------------------
ok regions upsert --code 620000 --name 甘肃省
out_has "620000"
ok regions upsert --code 621200 --name 陇南市
ok regions upsert --code 621202 --name 武都区 --key-assisted
ok regions upsert --code 370000 --name 山东省
ok regions upsert --code 370200 --name 青岛市
ok regions upsert --code 440100 --name 广州市
ok regions list
out_has "陇南市"
out_has "370200"
ok regions list --prefix 62
out_has "621202"
out_lacks "370200"
ok --json regions list --prefix 6212
json_has code '"621202"'
json_has key_assisted true
# -o json is --json; -o csv prints list tables as CSV, the count on stderr.
ok -o json regions list --prefix 6212
json_has code '"621202"'
ok -o csv regions list --prefix 62
[[ "$(head -n 1 "$OUT")" == $'CODE,NAME,KEY ASSISTED,RELOCATION SITE\r' ]] ||
  fail "-o csv: no CSV header"
out_has "621202,武都区,yes,"
err_has "3 regions, no more"
expect_rc 2 -o yaml regions list
err_has "-o: 'yaml' is not table, json or csv"
# Singular and plural; how many were shown and whether more exist.
ok regions list --prefix 621202
out_has "1 region, no more"
ok regions list --page-size 2
out_has "2 of 6 regions shown, more exist: add --all, or --page-token"

ok pairings add --east 370200 --west 621200 --note "青岛-陇南 东西部协作"
ok pairings list
out_has "370200"
out_has "621200"
out_has "青岛-陇南"
# Pairings, buyers and keys count what passes the filters on all pages.
ok pairings list --prefix 6212
out_has "1 of 1 pairing, no more"
ok pairings list --prefix 44
out_has "0 of 0 pairings, no more"
# Upserting what exists says "replaced" and what changed; a flag left out
# keeps its value, --clear-FLAG unsets it.
ok pairings add --east 370200 --west 621200
out_has 'unchanged: it was already so'
ok pairings list
out_has "青岛-陇南"
ok regions upsert --code 621202 --relocation-site
out_has "621202 武都区 replaced: relocation site no -> yes"
ok regions list --prefix 621202
out_has "621202  武都区  yes           yes"
ok regions upsert --code 621202 --name "武都区 Wudu" --clear-relocation-site
out_has "replaced: name 武都区 -> 武都区 Wudu, relocation site yes -> no"
ok regions upsert --code 440300 --name 深圳市
out_has "440300 深圳市 created"
expect_rc 2 regions upsert --code 440400
err_has "--name is required: region 440400 does not exist yet"
expect_rc 2 regions upsert --code 621202 --key-assisted --clear-key-assisted
err_has "contradict"
# Names count characters, not bytes: 22 Chinese characters are 66 bytes.
ok regions upsert --code 622927 --name 临夏回族自治州积石山保安族东乡族撒拉族自治县
expect_rc 1 regions upsert --code 622927 --name "$(printf '县%.0s' $(seq 65))"
err_has "65 characters; at most 64 allowed"
# A pairing joins two different regions, neither within the other.
expect_rc 1 pairings add --east 620000 --west 621200
err_has '--west: "621200" lies within the east side "620000"'
expect_rc 1 pairings add --east 621200 --west 621200
err_has "is the east side too"
# Regions by name, Chinese or pinyin; flags take a unique name.
ok regions list --name 深圳
out_has "440300"
out_has "1 of 1 region, no more"
ok regions list --name wudu
out_has "621202"
ok regions list --name 区
out_has "of 1 region"
ok regions upsert --code 440100 --name "广州市 Guangzhou"
ok regions upsert --code 440106 --name "天河区 Tianhe, Guangzhou"
ok pairings add --east 广州 --west 武都 --note n
out_has "pairing 440100 (east) - 621202 (west) created"
# A region's own word ranks before its parent's: Guangzhou is 广州市, not
# 天河区 Tianhe, Guangzhou.
ok pairings add --east guangzhou --west 武都 --note n
out_has "pairing 440100 (east) - 621202 (west)"
expect_rc 2 pairings add --east 区 --west 武都
err_has "--east 区 could be "
err_has "; give the code"
expect_rc 2 pairings add --east 杭州 --west 武都
err_has "--east 杭州: no region's code or name matches it"
ok pairings delete --east 广州 --west 621202

# --- an offer rests, a partner pledge matches it ----------------------------
ok --json offer post --supplier longnan-pepper-coop --region 621202 \
  --product spice.sichuan_pepper --grade premium --kg 2000 --floor-fen 6800 \
  --certified --households 320 --expires-in 30d
json_has status '"OPEN"'
json_has remaining_kg '"2000"'
PEPPER=$(json_get offer_id)
[[ -n "$PEPPER" ]] || fail "no offer_id in the offer post reply"
# List filters take a region's name too, as the prefix of all under it.
ok offer list --region 武都
out_has "621202"
ok -o csv matches list --region 武都
out_has "MATCH,OFFER,PLEDGE"
expect_rc 2 offer list --region 杭州
err_has "--region 杭州: no region's code or name matches it"
# Grades go by name (English or Chinese), never by an ambiguous number.
expect_rc 2 offer post --supplier s --region 621202 --product spice.pepper \
  --grade 1 --kg 10 --floor-fen 100
err_has "a number is ambiguous"

ok offer post --supplier dingxi-potato-coop --region 620000 \
  --product vegetable.potato --grade first --kg 10000 --floor-fen 120 \
  --expires 2099-01-01T00:00:00Z
out_has "10,000 kg"
out_has "1.20 yuan/kg"
ok --json offer list --product vegetable.potato
POTATO=$(json_get offer_id)
[[ -n "$POTATO" ]] || fail "no offer_id in offer list --json"

ok --json pledge post --buyer qingdao-coop-office --city 370200 \
  --kind government_unit --product spice --min-grade first --kg 800 \
  --max-fen 7500 --scope partners --expires-in 72h
json_has status '"FILLED"'
json_has quantity_kg '"800"'
json_has price_fen_per_kg '"6800"'
json_has amount_fen '"5440000"'
json_has partner true
PLEDGE=$(json_get pledge_id)
[[ -n "$PLEDGE" ]] || fail "no pledge_id in the pledge post reply"

ok --json matches list
json_has offer_id "\"$PEPPER\""
json_has pledge_id "\"$PLEDGE\""
json_has supplier_id '"longnan-pepper-coop"'
json_has buyer_id '"qingdao-coop-office"'
json_has region_code '"621202"'
json_has buyer_city_code '"370200"'
json_has quantity_kg '"800"'
json_has amount_fen '"5440000"'
json_has partner true
MATCH=$(json_get match_id)
[[ -n "$MATCH" ]] || fail "no match_id in matches list --json"

ok matches list --buyer qingdao-coop-office
out_has "54,400.00"
out_has "68.00"
out_has "1 of 1 match, 800 kg, 54,400.00 yuan, no more"
out_has "MATCHED (Asia/Shanghai)"
ok -o csv matches list --buyer qingdao-coop-office
out_has "MATCH,OFFER,PLEDGE,SUPPLIER,BUYER"
out_has ",800,68.00,54400.00,yes,"
err_has "1 of 1 match, 800 kg, 54,400.00 yuan, no more"
# The server counts the whole list, filtered or not: "N of TOTAL".
ok matches list --page-size 1
out_has "1 of 1 match, 800 kg, 54,400.00 yuan, no more"
ok offer list --page-size 1
out_lacks ", no more"
grep -qE '^1 of [0-9,]+ offers shown, more exist' "$OUT" ||
  fail "offer list --page-size 1: $(tail -n 1 "$OUT")"

ok offer get "$PEPPER"
out_has "1,200 kg left"
ok pledge get "$PLEDGE"
out_has "filled"
out_has "54,400.00 yuan"

ok book
out_has "spice.sichuan_pepper"
out_has "vegetable.potato"
out_has "1,200"
ok --json book --product spice
json_has product_code '"spice.sichuan_pepper"'
json_has open_offer_kg '"1200"'
out_lacks "vegetable.potato"
# One page at a time, with the way to the next; --all fetches every page.
ok book --page-size 1
out_has "spice.sichuan_pepper"
out_lacks "vegetable.potato"
out_has "1 product with open orders shown, more exist: add --all, or --page-token spice.sichuan_pepper"
ok book --page-size 1 --all
out_has "vegetable.potato"
out_has "2 products with open orders, no more"
out_lacks "more exist"

# Batch clearing for a category: the book shows its next clearing; an
# interval of 0 removes the prefix's own policy.
ok clearing list
out_has "every product matches continuously"
ok clearing set --prefix vegetable --interval 1h
out_has "vegetable: batch clearing every 1h, next at"
ok book --all
out_has "NEXT CLEARING"
out_has "continuous"
ok pledge post --buyer held-canteen --city 370200 --kind canteen \
  --product vegetable.potato --kg 10 --max-fen 100 --expires-in 3d
out_has "waits for the clearing at"
expect_rc 2 clearing set --interval 2x
err_has "not 0 or a duration"
ok clearing set --prefix vegetable --interval 0
out_has "vegetable: no clearing policy of its own"
ok clearing list
out_has "every product matches continuously"

# The stream replays history first: after 0 it must show our match.
set +e
timeout 3 "$CLI" --server "127.0.0.1:$PORT" --json matches watch --after 0 \
  >"$OUT" 2>"$ERR"
RC=$?
set -e
LAST_CMD="--json matches watch --after 0 (stopped after 3 s)"
[[ "$RC" -eq 124 ]] || fail "matches watch ended by itself (exit $RC)"
out_has "\"match_id\":\"$MATCH\""

# --- after the match: shipped short, accepted short; kg go back to the pledge
ok match ship "$MATCH" --kg 600 --note "waybill SF123"
out_has "shipped: shipped, 600 kg shipped, 200 kg back to pledge $PLEDGE"
out_has "the kg given back matched again"  # the pledge reopened: 200 kg more
ok --json matches list --status shipped
json_has shipped_kg '"600"'
json_has note '"waybill SF123"'
expect_rc 1 match ship "$MATCH"
err_has "error: FAILED_PRECONDITION"
err_has "SHIPPED"
ok match accept "$MATCH" --kg 550
out_has "delivered, 600 kg shipped, 550 kg accepted, 250 kg back to pledge"
ok matches list --status delivered
out_has "1 match,"
expect_rc 1 match decline "$MATCH" --reason late
err_has "DELIVERED"
expect_rc 2 match decline "$MATCH"
err_has "--reason"
ok offer get "$PEPPER"
out_has "950 kg left"  # 1,200 - 200 - 50 taken by the reopened pledge
# The watch streams events in the order they happened: the shipment, the
# match the 200 kg given back made, the delivery, the match of the 50 kg.
NEXT1=$((MATCH + 1))
NEXT2=$((MATCH + 2))
set +e
timeout 3 "$CLI" --server "127.0.0.1:$PORT" matches watch --after-event 1 \
  >"$OUT" 2>"$ERR"
RC=$?
set -e
LAST_CMD="matches watch --after-event 1 (stopped after 3 s)"
[[ "$RC" -eq 124 ]] || fail "matches watch ended by itself (exit $RC)"
out_has "EVENT   KIND   MATCH   STATUS"
ROWS=$(awk 'NR > 1 { print $1, $2, $3, $4 }' "$OUT" | paste -sd ';')
[[ "$ROWS" == "2 status #$MATCH shipped;3 new #$NEXT1 matched;4 status #$MATCH delivered;5 new #$NEXT2 matched" ]] ||
  fail "matches watch --after-event 1 printed: $ROWS"
set +e
timeout 3 "$CLI" --server "127.0.0.1:$PORT" --json matches watch --after 1 \
  >"$OUT" 2>"$ERR"
RC=$?
set -e
LAST_CMD="--json matches watch --after 1 (stopped after 3 s)"
[[ "$RC" -eq 124 ]] || fail "matches watch ended by itself (exit $RC)"
# From the event that made match 2 on, the delivery of match 1 included.
[[ $(wc -l <"$OUT") -eq 3 ]] || fail "matches watch --after 1: $(cat "$OUT")"
out_lacks "HEARTBEAT"
out_lacks "CAUGHT_UP"
out_has '{"event_id":"3","match":{"match_id":"2"'
out_has '"event_id":"4"'
out_has '"kind":"STATUS_CHANGED"'
out_has '"accepted_kg":"550"'
expect_rc 1 matches watch --after-event 99
err_has "--after-event: 99 is beyond the last match event, 5 (field after_event_id)"
expect_rc 1 matches watch --after 1 --after-event 2
err_has "set at most one"
# --once prints the history and exits, without waiting for live events.
ok matches watch --once --after-event 1
ROWS=$(awk 'NR > 1 && $2 ~ /^(new|status)$/ { print $1 }' "$OUT" | paste -sd ' ')
[[ "$ROWS" == "2 3 4 5" ]] || fail "matches watch --once printed events $ROWS"
out_has "4 events, up to event 5"
out_has "AT (Asia/Shanghai)"
ok --json matches watch --once
[[ $(wc -l <"$OUT") -eq 5 ]] || fail "--json matches watch --once: $(cat "$OUT")"
ok matches watch --once --after-event 5
out_has "0 events, up to event 5"
# A filter that hides every event: it stops where the stream caught up.
ok matches watch --once --offer 999999
out_has "0 events, up to event 5"
# --- the buyer registry and progress against the annual target -------------
ok buyer upsert --id qingdao-coop-office --name 青岛市东西部协作办 \
  --city 370200 --kind government_unit --target-fen 10000000 \
  --alliance shandong
out_has "registered buyer qingdao-coop-office"
out_has "100,000.00 yuan"
ok --json buyer upsert --id qingdao-coop-office --name 青岛市东西部协作办 \
  --city 370200 --kind government_unit --target-yuan 100,000 \
  --alliance shandong
json_has annual_target_fen '"10000000"' 
ok --json buyer upsert --id qingdao-coop-office --name 青岛市东西部协作办 \
  --city 370200 --kind government_unit --target-fen 10000000 \
  --alliance shandong
json_has created false
json_has annual_target_fen '"10000000"'
expect_rc 1 buyer upsert --id x --name x --city 370200 --kind school \
  --target-fen -1
err_has "error: INVALID_ARGUMENT"
err_has "buyer.annual_target_fen"
expect_rc 1 buyer upsert --id x --name x --city 999999 --kind school
err_has "error: NOT_FOUND"
expect_rc 2 buyer upsert --id x --name x --city 370200 --kind nonsense
ok buyer get qingdao-coop-office
out_has "青岛市东西部协作办"
out_has "government_unit"
out_has "shandong"
expect_rc 1 buyer get nobody
err_has "error: NOT_FOUND"
ok buyer list --city 37
out_has "qingdao-coop-office"
out_has "100,000.00"
out_has "1 of 1 buyer, no more"
ok buyer list --kind school
out_has "0 buyers, no more"
ok --json buyer list --alliance shandong
json_has buyer_id '"qingdao-coop-office"'
# The 800 kg at 68.00 above, in this year and month as Shanghai counts them.
YEAR=$(date -u -d '+8 hours' +%Y)
MONTH=$(date -u -d '+8 hours' +%-m)
ok buyer progress --id qingdao-coop-office --year "$YEAR"
out_has "54,400.00 yuan"
out_has "54.4% of the target"
ok --json buyer progress --alliance shandong --year "$YEAR"
json_has matched_fen '"5440000"'
json_has delivered_fen '"3740000"'  # 550 kg accepted at 68.00 above
json_has share_done_permille '"544"'
json_has month "$MONTH"
out_has "\"member_ids\""
expect_rc 2 buyer progress --year 2026
expect_rc 2 buyer progress --id a --alliance b --year 2026
# A registered buyer's pledge may leave city and kind to the registry.
ok --json pledge post --buyer qingdao-coop-office --product spice --kg 10 \
  --max-fen 100 --expires-in 1h
json_has buyer_city_code '"370200"'
json_has buyer_kind '"GOVERNMENT_UNIT"'
REGISTERED_PLEDGE=$(json_get pledge_id)
ok pledge cancel "$REGISTERED_PLEDGE"
expect_rc 1 pledge post --buyer qingdao-coop-office --city 440100 \
  --product spice --kg 10 --max-fen 100 --expires-in 1h
err_has "pledge.buyer_city_code"
expect_rc 1 pledge post --buyer unregistered --product spice --kg 10 \
  --max-fen 100 --expires-in 1h
err_has "error: INVALID_ARGUMENT"

# --- an alliance pledge split among its members ------------------------------
ok pledge post --help
out_has "[--member BUYER:PERMILLE]..."
out_has "(repeatable)"
for member in qd-canteen-a qd-canteen-b; do
  ok buyer upsert --id "$member" --name "$member" --city 370200 \
    --kind canteen --alliance qd-canteens
done
ok offer post --supplier jingning-apple-coop --region 620000 \
  --product fruit.kiwi --grade first --kg 7 --floor-fen 300 --expires-in 24h
# 7 kg at 50/50: 3.5 and 3.5 kg, so 3 each and the kg left over to the tie's
# lower buyer_id, qd-canteen-a: 4 kg (12.00 yuan) and 3 kg (9.00 yuan).
ok pledge post --buyer qd-canteens --city 370200 --kind canteen \
  --product fruit --kg 7 --max-fen 500 --expires-in 1h \
  --member qd-canteen-b:500 --member qd-canteen-a:500
out_has "qd-canteen-a 500‰, qd-canteen-b 500‰"
out_has "qd-canteen-a (qd-canteens)"
out_has "qd-canteen-b (qd-canteens)"
out_has "2 matches, 7 kg, 21.00 yuan"
ok buyer list --alliance qd-canteens --page-size 1
out_has "qd-canteen-a"
out_has "1 of 2 buyers shown, more exist"
ok buyer list --alliance qd-canteens --page-size 1 --all
out_has "2 of 2 buyers, no more"
ok --json buyer list --alliance qd-canteens --page-size 1
json_has total_count '"2"'
ok --json matches list --buyer qd-canteen-a
json_has member_buyer_id '"qd-canteen-a"'
json_has quantity_kg '"4"'
out_lacks "qd-canteen-b"
expect_rc 1 pledge post --buyer qd-canteens --city 370200 --kind canteen \
  --product fruit --kg 7 --max-fen 500 --expires-in 1h \
  --member qd-canteen-a:500 --member qd-canteen-b:400
err_has "error: INVALID_ARGUMENT"
err_has "error: INVALID_ARGUMENT: --member: shares sum to 900 permille"
err_has "(field pledge.members)"
expect_rc 2 pledge post --buyer qd-canteens --city 370200 --kind canteen \
  --product fruit --kg 7 --max-fen 500 --expires-in 1h --member qd-canteen-a
err_has "BUYER:PERMILLE"

# --- cancel, idempotent retries ---------------------------------------------
ok offer cancel "$POTATO"
out_has "cancelled"
out_has "10,000 kg unfilled"
expect_rc 1 offer cancel "$POTATO"
err_has "error: FAILED_PRECONDITION"

# --- amend in place: unset flags keep their value; a fit matches at once ----
ok --json pledge post --buyer guangzhou-canteen --city 440100 --kind canteen \
  --product spice --kg 300 --max-fen 6000 --expires-in 72h
json_has status '"OPEN"'
CANTEEN=$(json_get pledge_id)
ok offer amend "$PEPPER" --floor-fen 6000 --ship-within 72h
out_has "60.00 yuan/kg (6000 fen/kg)"
out_has "650 kg left"  # 2,000 - 1,050 earlier - 300 now
out_has "matched on amendment"
out_has "1 match, 300 kg, 18,000.00 yuan"
ok --json offer amend "$PEPPER" --kg 1500 --min-lot-kg 50
json_has quantity_kg '"1500"'
json_has remaining_kg '"150"'
json_has min_lot_kg '"50"'
json_has floor_price_fen_per_kg '"6000"'
expect_rc 1 offer amend "$PEPPER" --kg 1000
err_has "error: INVALID_ARGUMENT: --kg: 1000 is below the 1350 kg already matched (field quantity_kg)"
expect_rc 1 pledge amend "$CANTEEN" --max-fen 7000
err_has "error: FAILED_PRECONDITION"
err_has "is FILLED; only an OPEN pledge can be amended"
ok --json pledge post --buyer guangzhou-canteen --city 440100 --kind canteen \
  --product spice --kg 100 --max-fen 5000 --expires-in 72h
SECOND=$(json_get pledge_id)
ok pledge amend "$SECOND" --max-fen 6000 --scope listed --regions 620000 \
  --accept-within 48h
out_has "only 620000"
out_has "matched on amendment"
out_has "1 match, 100 kg, 6,000.00 yuan"
expect_rc 2 offer amend "$PEPPER" --kg many

# --- a standing pledge: refills each week until a date (through that day in
# Asia/Shanghai: the pledge ends at 16:00 UTC the day before the next) -----
ok --json pledge post --buyer wuhan-hospital --city 370200 --kind hospital \
  --product fruit.pear --kg 2000 --max-fen 500 --every week \
  --until 2099-06-30 --carry-over
json_has status '"OPEN"'
json_has period '"WEEKLY"'
json_has carry_over true
STANDING=$(json_get pledge_id)
ok pledge get "$STANDING"
out_has "2,000 kg weekly, unfilled kg carried over, until 2099-07-01 00:00:00 +08:00"
out_has "PERIOD START (Asia/Shanghai)"
ok --utc pledge get "$STANDING"
out_has "until 2099-06-30 16:00:00 UTC"
out_has "PERIOD START (UTC)"
expect_rc 2 pledge post --buyer x --city 370200 --kind school --product spice \
  --kg 1 --max-fen 1 --every fortnight --until 2099-01-01
err_has "--every: day, week or month, not 'fortnight'"
expect_rc 2 pledge post --buyer x --city 370200 --kind school --product spice \
  --kg 1 --max-fen 1 --every week
err_has "--every needs --until"
expect_rc 2 pledge post --buyer x --city 370200 --kind school --product spice \
  --kg 1 --max-fen 1 --until 2099-01-01
err_has "--until and --carry-over need --every"
ok pledge cancel "$STANDING"
out_has "cancelled"

ok --json offer post --request-id cli-test-retry-1 --supplier jingning-apple \
  --region 621200 --product fruit.apple.fuji --grade first --kg 500 \
  --floor-fen 450 --expires 2099-01-01T00:00:00Z
FIRST=$(json_get offer_id)
ok --json offer post --request-id cli-test-retry-1 --supplier jingning-apple \
  --region 621200 --product fruit.apple.fuji --grade first --kg 500 \
  --floor-fen 450 --expires 2099-01-01T00:00:00Z
[[ "$(json_get offer_id)" == "$FIRST" ]] || fail "retry made a new offer"
expect_rc 1 offer post --request-id cli-test-retry-1 --supplier jingning-apple \
  --region 621200 --product fruit.apple.fuji --grade first --kg 501 \
  --floor-fen 450 --expires 2099-01-01T00:00:00Z
err_has "error: ALREADY_EXISTS"

# A relative expiry is sent as a duration, so a retry a second later is
# still the same request.
ok --json pledge post --request-id cli-test-retry-2 --buyer qingdao-office \
  --city 370200 --kind school --product fruit --kg 10 --max-fen 100 \
  --expires-in 72h
FIRST=$(json_get pledge_id)
sleep 1.1
ok --json pledge post --request-id cli-test-retry-2 --buyer qingdao-office \
  --city 370200 --kind school --product fruit --kg 10 --max-fen 100 \
  --expires-in 72h
[[ "$(json_get pledge_id)" == "$FIRST" ]] || fail "relative-expiry retry made a new pledge"

# --- times, money and weight the users' way ---------------------------------
# A date is open through that day in Shanghai: the offer expires at the next
# Shanghai midnight, 16:00 UTC that day.
ok --json offer post --supplier date-coop --region 621202 \
  --product fruit.date --grade first --t 2.5 --floor-yuan 68.5 \
  --expires 2099-12-20
json_has quantity_kg '"2500"'
json_has floor_price_fen_per_kg '"6850"'
json_has expires_at '"2099-12-20T16:00:00Z"'
DATED=$(json_get offer_id)
ok offer get "$DATED"
out_has "expires      2099-12-21 00:00:00 +08:00"
out_has "68.50 yuan/kg (6850 fen/kg)"
ok --utc offer get "$DATED"
out_has "expires      2099-12-20 16:00:00 UTC"
TZ=UTC ok offer get "$DATED"
out_has "expires      2099-12-20 16:00:00 UTC"
TZ=Nowhere/Atlantis ok offer get "$DATED"
out_has "expires      2099-12-20 16:00:00 UTC"
err_has "warning: TZ=Nowhere/Atlantis is not a time zone known here; times are in UTC"
TZ=Europe/Berlin ok offer list --supplier date-coop
out_has "EXPIRES (Europe/Berlin)"
out_has "2099-12-20 17:00"
ok offer list --supplier date-coop
out_has "EXPIRES (Asia/Shanghai)"
out_has "2099-12-21 00:00"
out_has "1 of 1 offer, no more"
# A local time is read in Shanghai too; RFC 3339 keeps its offset.
ok --json offer amend "$DATED" --expires "2099-12-20 18:00"
json_has expires_at '"2099-12-20T10:00:00Z"'
ok --json offer amend "$DATED" --expires 2099-12-20T18:00:00-05:00
json_has expires_at '"2099-12-20T23:00:00Z"'
ok --utc --json offer amend "$DATED" --expires "2099-12-20 18:00"
json_has expires_at '"2099-12-20T18:00:00Z"'
# A duration goes to the server as one (a retry is the same request).
ok --json offer post --request-id cli-test-duration --supplier date-coop \
  --region 621202 --product fruit.date --grade first --kg 1,200 \
  --floor-yuan 1,000.5 --expires 72h
json_has quantity_kg '"1200"'
json_has floor_price_fen_per_kg '"100050"'
FIRST=$(json_get offer_id)
ok --json offer post --request-id cli-test-duration --supplier date-coop \
  --region 621202 --product fruit.date --grade first --kg 1,200 \
  --floor-yuan 1,000.5 --expires 72h
[[ "$(json_get offer_id)" == "$FIRST" ]] || fail "--expires 72h retry made a new offer"
# A filtered list is counted on its first page; --all keeps that count.
ok offer list --supplier date-coop --page-size 1
out_has "1 of 2 offers shown, more exist: add --all, or --page-token"
ok offer list --supplier date-coop --page-size 1 --all
out_has "2 of 2 offers, no more"
ok offer list --supplier date-coop --status filled
out_has "0 of 0 offers, no more"
# An offer that spoils within the hour could not be matched and shipped.
expect_rc 1 offer post --supplier date-coop --region 621202 \
  --product fruit.date --grade first --kg 10 --floor-fen 100 --expires 30m
err_has "is only 30m after now ("
err_has "an offer must stay open at least 1h, time to be matched and shipped before it spoils"
err_has "(field offer.expires_at)"
err_has "--expires: "
# The server resolves --expires-in to an expires_at: the message names the
# flag the user gave.
expect_rc 1 offer post --supplier date-coop --region 621202 \
  --product fruit.date --grade first --kg 10 --floor-fen 100 --expires-in 59m
err_has "--expires-in: "
err_has "is only 59m after now ("
ok offer post --supplier date-coop --region 621202 \
  --product fruit.date --grade first --kg 10 --floor-fen 100 --expires 61m
ok --json pledge post --buyer date-buyer --city 370200 --kind school \
  --product fruit.fig --t 1 --max-yuan 75.5 --budget-yuan 1,200,000 \
  --expires 3d
json_has quantity_kg '"1000"'
json_has max_price_fen_per_kg '"7550"'
json_has budget_fen '"120000000"'
# No message shows microseconds since the epoch.
expect_rc 1 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-yuan 1 --expires 2001-01-01
err_has "--expires: 2001-01-02 00:00:00 +08:00 is not after now ("
err_has "(field offer.expires_at)"
! grep -qE '[0-9]{13}' "$ERR" || fail "an error shows microseconds"
# A server's complaint about a request field names the CLI's flag.
expect_rc 1 pledge post --buyer b --city 370200 --kind school \
  --product vegetable --kg 10 --max-yuan 0
err_has "--max-yuan: "
err_has "(field pledge.max_price_fen_per_kg; amounts in fen, 100 fen = 1 yuan)"
expect_rc 1 pledge post --buyer b --city 370200 --kind school \
  --product vegetable --kg 10 --max-fen 0
err_has "--max-fen: "
# A budget that cannot buy one min lot at the max price could never trade.
expect_rc 1 pledge post --buyer b --city 370200 --kind school \
  --product vegetable --kg 1000 --max-fen 680 --min-lot-kg 100 \
  --budget-fen 50000 --expires-in 1h
err_has "--budget-fen: 50,000 cannot buy one min lot (100 kg at max price 680 fen/kg = 68,000 fen)"
err_has "(field pledge.budget_fen)"

# --- bad input is refused with the field named (exit 1) ---------------------
expect_rc 1 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 0 --floor-fen 100
err_has "error: INVALID_ARGUMENT"
err_has "quantity_kg"
# Every bad field at once, one line each, in the CLI's flags.
expect_rc 1 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 0 --floor-fen 0 --expires 2001-01-01
err_has "error: INVALID_ARGUMENT: --kg: 0 is out of range [1, 1099511627776] (field offer.quantity_kg)"
err_has "  and --floor-fen: 0 is out of range [1, 1073741824] (field offer.floor_price_fen_per_kg)"
err_has "  and --expires: 2001-01-02 00:00:00 +08:00 is not after now ("
[[ $(wc -l <"$ERR") -eq 3 ]] || fail "not one line per bad field"
! grep -qF "more:" "$ERR" || fail "the CLI repeats the server's list"
expect_rc 1 offer post --supplier s --region 621202 --product Spice.Pepper \
  --grade first --kg 10 --floor-fen 100
err_has "product_code"
expect_rc 1 offer post --supplier s --region 621202 --product spice.pepper \
  --grade first --kg 10 --floor-fen 100 --expires 2001-01-01T00:00:00Z
err_has "expires_at"
expect_rc 1 pledge post --buyer b --city 370200 --kind school \
  --product vegetable --kg 10 --max-fen 100 --scope listed
err_has "--regions is required with --scope listed"
err_has "region_codes"
expect_rc 1 offer get 999999
err_has "error: NOT_FOUND"
# Control characters in an id are refused, and the message shows them
# escaped: nothing reaches the terminal raw.
expect_rc 1 offer post --supplier $'coop\e[2J\nfake' --region 621202 \
  --product spice.pepper --grade first --kg 10 --floor-fen 100
err_has "error: INVALID_ARGUMENT"
err_has "offer.supplier_id"
err_has 'coop\x1B[2J\nfake'
! grep -q $'\e' "$ERR" || fail "a raw ESC reached stderr"
expect_rc 1 regions upsert --code 621203 --name $'Fake\x7f'
err_has "region.name"
# A string that is not UTF-8 is INVALID_ARGUMENT naming the field (not
# UNIMPLEMENTED), and however often it comes, the server logs protobuf's
# complaint about it at most 10 times a minute.
for _ in $(seq 1 25); do
  expect_rc 1 offer list --supplier $'coop\xff'
done
err_has "error: INVALID_ARGUMENT"
err_has "supplier_id"
err_has "not valid UTF-8"
LOGGED=$(grep -c "invalid UTF-8" "$LOG" || true)
[[ "$LOGGED" -ge 1 && "$LOGGED" -le 10 ]] ||
  fail "$LOGGED server log lines for 25 requests that are not UTF-8"

ok pairings delete --east 370200 --west 621200
ok pairings list
out_lacks "621200"

# --- keys: who may do what (exit 1 with a hint) -----------------------------
DUIJIE_KEY="" expect_rc 1 book
err_has "error: UNAUTHENTICATED"
err_has "--key_file"
DUIJIE_KEY="dj_not-a-key" expect_rc 1 book
err_has "unknown key"
ok admin key create --name 陇南花椒合作社 --role supplier \
  --supplier longnan-pepper-coop
SUPPLIER_KEY=$(head -n 1 "$OUT")
[[ "$SUPPLIER_KEY" == dj_* ]] || fail "no secret printed by key create"
err_has "shown only now"
ok admin key create --name 青岛协作办 --role buyer --buyer qingdao-coop-office
BUYER_KEY=$(head -n 1 "$OUT")
ok admin key create --name public --role observer
OBSERVER_KEY=$(head -n 1 "$OUT")
expect_rc 1 admin key create --name bad --role supplier
err_has "INVALID_ARGUMENT"
err_has "SUPPLIER needs exactly one supplier_id"
ok admin key list
out_has "陇南花椒合作社"
out_has "supplier:longnan-pepper-coop"
out_lacks "$SUPPLIER_KEY"
out_has "3 of 3 keys, no more"
ok admin key list --page-size 1
out_has "1 of 3 keys shown, more exist"
# The supplier posts for itself, not for another cooperative.
DUIJIE_KEY="$SUPPLIER_KEY" ok --json offer post --supplier longnan-pepper-coop \
  --region 621202 --product spice.sichuan_pepper --grade first --kg 100 \
  --floor-fen 6000 --expires-in 3d
OWN_OFFER=$(json_get offer_id)
DUIJIE_KEY="$SUPPLIER_KEY" expect_rc 1 offer post --supplier jingning-apple \
  --region 621200 --product fruit.apple --grade first --kg 100 \
  --floor-fen 100 --expires-in 3d
err_has "error: PERMISSION_DENIED"
err_has "jingning-apple"
DUIJIE_KEY="$SUPPLIER_KEY" expect_rc 1 regions upsert --code 650000 --name x
err_has "error: PERMISSION_DENIED"
DUIJIE_KEY="$SUPPLIER_KEY" expect_rc 1 admin state-hash
err_has "ADMIN"
# Pledges are private: the buyer sees its own, another's reads as unknown.
DUIJIE_KEY="$BUYER_KEY" ok pledge get "$PLEDGE"
out_has "qingdao-coop-office"
DUIJIE_KEY="$BUYER_KEY" ok --json pledge list
out_has "qingdao-coop-office"
out_lacks "qingdao-office\""
DUIJIE_KEY="$SUPPLIER_KEY" expect_rc 1 pledge get "$PLEDGE"
err_has "error: NOT_FOUND"
DUIJIE_KEY="$BUYER_KEY" expect_rc 1 matches list --supplier jingning-apple
err_has "error: PERMISSION_DENIED"
ok --json matches list
ALL_MATCHES=$(json_get total_count)
DUIJIE_KEY="$SUPPLIER_KEY" ok --json matches list
SUPPLIER_MATCHES=$(json_get total_count)
DUIJIE_KEY="$SUPPLIER_KEY" ok matches list
out_has "longnan-pepper-coop"
# Narrowed to the key's own matches: the total counts those only.
[[ -n "$SUPPLIER_MATCHES" && "$SUPPLIER_MATCHES" -lt "$ALL_MATCHES" ]] ||
  fail "the supplier counts $SUPPLIER_MATCHES of all $ALL_MATCHES matches"
grep -qE "^$SUPPLIER_MATCHES of $SUPPLIER_MATCHES match(es)?, " "$OUT" ||
  fail "the supplier's list ends: $(tail -n 1 "$OUT")"
# The observer reads the public book only.
DUIJIE_KEY="$OBSERVER_KEY" ok book
DUIJIE_KEY="$OBSERVER_KEY" ok offer get "$OWN_OFFER"
DUIJIE_KEY="$OBSERVER_KEY" expect_rc 1 pledge list
err_has "OBSERVER"
# --key_file beats $DUIJIE_KEY; a revoked key fails at once.
echo "$SUPPLIER_KEY" >"$WORK/supplier.key"
DUIJIE_KEY="" ok --key_file "$WORK/supplier.key" offer get "$OWN_OFFER"
# Keys are numbered from 1 in the order they were made.
SUPPLIER_KEY_ID=1
ok --json admin key list --page-size 1
json_has key_id '"1"'
json_has name '"陇南花椒合作社"'
ok admin key revoke "$SUPPLIER_KEY_ID"
out_has "revoked"
expect_rc 1 admin key revoke "$SUPPLIER_KEY_ID"
err_has "FAILED_PRECONDITION"
expect_rc 2 --key_file "$WORK/no-such-file" book
DUIJIE_KEY="" expect_rc 1 --key_file "$WORK/supplier.key" offer get "$OWN_OFFER"
err_has "error: UNAUTHENTICATED"
err_has "revoked"
grep -qF "refused GetOffer" "$LOG" || fail "the refusal is not in the log"
! grep -qF "$SUPPLIER_KEY" "$LOG" || fail "the log shows a secret"

# --- the config file: contexts, and what overrides them ---------------------
# Runs the CLI without the --server that run() adds.
run_bare() {
  LAST_CMD="$*"
  set +e
  "$CLI" "$@" >"$OUT" 2>"$ERR"
  RC=$?
  set -e
}
mkdir -p "$XDG_CONFIG_HOME/duijie"
echo "$ADMIN_KEY" >"$WORK/admin-copy.key"
cat >"$XDG_CONFIG_HOME/duijie/config.toml" <<EOF
# the test's contexts
current_context = "here"

[context.here]
server = "127.0.0.1:$PORT"
key_file = "$WORK/admin-copy.key"

[context.scripts]
server = "127.0.0.1:$PORT"
key_file = "$WORK/admin-copy.key"
output = "json"

[context.nowhere]
server = "127.0.0.1:1"
EOF
(
  unset DUIJIE_KEY
  run_bare regions list --prefix 621202
  [[ "$RC" -eq 0 ]] || fail "current_context: exit $RC"
  out_has "1 region, no more"
  run_bare --context scripts regions list --prefix 6212
  [[ "$RC" -eq 0 ]] || fail "--context scripts: exit $RC"
  json_has code '"621202"'
  run_bare --context scripts -o table regions list --prefix 621202
  out_has "1 region, no more"  # a flag beats the context's output
  run_bare --context nowhere regions list
  [[ "$RC" -eq 3 ]] || fail "--context nowhere: exit $RC"
  err_has "cannot reach duijie-server at 127.0.0.1:1"
  run_bare --context nowhere --server "127.0.0.1:$PORT" \
    --key_file "$WORK/admin-copy.key" regions list --prefix 6212
  [[ "$RC" -eq 0 ]] || fail "flags over --context: exit $RC"
  # $DUIJIE_SERVER beats current_context, an explicit --context beats it.
  DUIJIE_SERVER=127.0.0.1:1 run_bare regions list
  [[ "$RC" -eq 3 ]] || fail "\$DUIJIE_SERVER over current_context: exit $RC"
  DUIJIE_SERVER=127.0.0.1:1 run_bare --context here regions list --prefix 6212
  [[ "$RC" -eq 0 ]] || fail "--context over \$DUIJIE_SERVER: exit $RC"
  run_bare --context elsewhere book
  [[ "$RC" -eq 2 ]] || fail "--context elsewhere: exit $RC"
  err_has "no [context.elsewhere]"
  err_has "(it has: here, nowhere, scripts)"
)
echo "[context.broken" >>"$XDG_CONFIG_HOME/duijie/config.toml"
run_bare book
[[ "$RC" -eq 2 ]] || fail "a broken config file: exit $RC"
err_has "config.toml: line 15: expected ] after the context's name"
rm "$XDG_CONFIG_HOME/duijie/config.toml"

# --- bash completion: commands, subcommands, flags --------------------------
"$CLI" completion bash >"$WORK/completion.bash" || fail "completion bash"
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
    _duijie; echo "${COMPREPLY[*]}"' _ "$WORK/completion.bash" "$@"
}
[[ "$(complete_words duijie of)" == "offer" ]] || fail "completion: duijie of"
[[ "$(complete_words duijie offer p)" == "post" ]] || fail "completion: offer p"
[[ "$(complete_words duijie offer post --floor)" == "--floor-fen --floor-yuan" ]] ||
  fail "completion: offer post --floor: $(complete_words duijie offer post --floor)"
[[ "$(complete_words duijie admin key c)" == "create" ]] ||
  fail "completion: admin key c"
[[ "$(complete_words duijie -o j)" == "json" ]] || fail "completion: -o j"
[[ "$(complete_words duijie --utc matches watch --on)" == "--once" ]] ||
  fail "completion: matches watch --on"
[[ "$(complete_words duijie book --pa)" == "--page-size --page-token" ]] ||
  fail "completion: book --pa"
[[ "$(complete_words duijie offer post --ut)" == "--utc" ]] ||
  fail "completion: global flags"

# --- what keeps an order from matching ---------------------------------------
export DUIJIE_KEY="$ADMIN_KEY"
ok --json offer post --supplier wudu-kiwi-coop --region 621202 \
  --product fruit.kiwi --grade first --kg 1200 --floor-fen 900 --expires-in 30d
KIWI=$(json_get offer_id)
[[ -n "$KIWI" ]] || fail "no offer_id in the kiwi offer reply"
ok pledge post --buyer qingdao-fruit-office --city 370200 \
  --kind government_unit --product fruit.kiwi --kg 500 --max-fen 800 \
  --expires-in 10d
out_has "no match on arrival"
out_has "500 kg unfilled; 0 kg of open offers could match it now"
out_has "max price 9.00 yuan/kg (900 fen/kg) reaches 1,200 kg"
ok --json pledge list --product fruit.kiwi
KIWI_PLEDGE=$(json_get pledge_id)
[[ -n "$KIWI_PLEDGE" ]] || fail "no pledge_id in pledge list --json"
ok pledge explain "$KIWI_PLEDGE"
out_has "pledge $KIWI_PLEDGE: 500 kg unfilled"
out_has "max price 9.00 yuan/kg (900 fen/kg) reaches 1,200 kg"
ok -o json pledge explain "$KIWI_PLEDGE"
json_has reason '"PRICE"'
json_has kg '"1200"'
json_has widened_value '"900"'
ok offer explain "$KIWI"
out_has "floor 8.00 yuan/kg (800 fen/kg) reaches 500 kg"
expect_rc 1 pledge explain 999999
err_has "NOT_FOUND"

# --- the server goes away: exit 3 -------------------------------------------
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
expect_rc 3 offer list
err_has "cannot reach duijie-server at 127.0.0.1:$PORT"

# --- every command reads only the flags it declares -------------------------
# A command reads its flags before its first call, so with the server gone
# each one below gets as far as "cannot reach" (exit 3) unless its handler
# reads a flag its spec does not list: that is exit 2 (an abort in a debug
# build) rather than a default read in silence.
CHECKED="|"
reads_own_flags() {
  local command=$1
  shift
  # shellcheck disable=SC2086  # the command is two words, or one
  expect_rc 3 $command "$@"
  err_has "cannot reach duijie-server"
  CHECKED+="$command|"
}
reads_own_flags "regions list" --prefix 62 --name x --page-size 5 \
  --page-token t --all
reads_own_flags "regions upsert" --code 620000 --name 甘肃省 --key-assisted \
  --clear-relocation-site --request-id r
reads_own_flags "pairings list" --prefix 37 --page-size 5 --page-token t --all
reads_own_flags "products list" --prefix vegetable --name 薯 --page-size 5 \
  --page-token t --all
reads_own_flags "products upsert" --code vegetable.potato --name 马铃薯 \
  --perishability semi_perishable --shelf-life 90d --unit u --request-id r
reads_own_flags "pairings add" --east 370200 --west 621200 --clear-note \
  --request-id r
reads_own_flags "pairings delete" --east 370200 --west 621200 --request-id r
reads_own_flags "offer post" --supplier s --region 621202 --product p \
  --grade first --kg 10 --floor-fen 100 --min-lot-kg 5 --expires-in 3d \
  --certified --households 3,000 --request-id r
reads_own_flags "offer post" --supplier s --region 621202 --product p \
  --grade first --kg 10 --floor-fen 100 --expires 2099-01-01T00:00:00Z
reads_own_flags "offer post" --supplier s --region 621202 --product p \
  --grade first --t 1.5 --floor-yuan 68.5 --expires 2099-01-01
reads_own_flags "offer cancel" 1 --request-id r
reads_own_flags "offer amend" 1 --kg 10 --floor-fen 100 --min-lot-kg 5 \
  --expires-in 3d --ship-within 72h --request-id r
reads_own_flags "offer amend" 1 --expires 2099-01-01T00:00:00Z
reads_own_flags "offer amend" 1 --t 2 --floor-yuan 60 --expires 72h
reads_own_flags "offer get" 1
reads_own_flags "offer list" --supplier s --product p --region 62 \
  --status open --page-size 5 --page-token t --all
reads_own_flags "pledge post" --buyer b --city 370200 --kind school \
  --product p --min-grade first --kg 10 --max-fen 100 --budget-fen 1000 \
  --min-lot-kg 5 --expires-in 3d --scope listed --regions 620000,621200 \
  --require-certified --member m1:500 --member m2:500 --request-id r
reads_own_flags "pledge post" --buyer b --city 370200 --kind school \
  --product p --kg 10 --max-fen 100 --expires 2099-01-01T00:00:00Z
reads_own_flags "pledge post" --buyer b --city 370200 --kind school \
  --product p --t 1 --max-yuan 1.5 --budget-yuan 1,000 --every week \
  --until 2099-06-30 --carry-over
reads_own_flags "pledge cancel" 1 --request-id r
reads_own_flags "pledge amend" 1 --kg 10 --max-fen 100 --budget-fen 1000 \
  --min-lot-kg 5 --expires-in 3d --scope listed --regions 620000,621200 \
  --accept-within 48h --request-id r
reads_own_flags "pledge amend" 1 --expires 2099-01-01T00:00:00Z
reads_own_flags "pledge amend" 1 --t 1 --max-yuan 2 --budget-yuan 100
reads_own_flags "pledge get" 1
reads_own_flags "pledge explain" 1
reads_own_flags "offer explain" 1
reads_own_flags "pledge list" --buyer b --product p --city 37 --status any \
  --page-size 5 --page-token t --all
reads_own_flags "matches list" --supplier s --buyer b --offer 1 --pledge 1 \
  --region 62 --after 1 --status shipped --page-size 5 --page-token t --all
reads_own_flags "match ship" 1 --kg 5 --note n --request-id r
reads_own_flags "match accept" 1 --kg 5 --request-id r
reads_own_flags "match decline" 1 --reason r --request-id r
reads_own_flags "matches watch" --after 1 --after-event 1 --supplier s \
  --buyer b --offer 1 --pledge 1 --region 62
reads_own_flags "matches watch" --once
reads_own_flags "alerts list" --product p --region 62 --all
reads_own_flags "alerts watch" --after-event 1 --product p --region 62 --once
reads_own_flags "alerts thresholds set" --category vegetable --horizon 48h \
  --min-gap-kg 2000 --min-ratio-permille 1500 --clear-permille 500 \
  --request-id r
reads_own_flags "alerts thresholds list"
reads_own_flags "book" --product p --page-size 5 --page-token t --all
reads_own_flags "clearing set" --prefix vegetable --interval 1h --request-id r
reads_own_flags "clearing list"
reads_own_flags "admin state-hash"
reads_own_flags "admin snapshot"
reads_own_flags "admin key create" --name n --role platform --supplier a,b \
  --buyer c --expires 2099-01-01T00:00:00Z --request-id r
reads_own_flags "admin key create" --name n --role observer --expires 30d
reads_own_flags "admin key list" --page-size 5 --page-token t
reads_own_flags "admin key revoke" 1 --request-id r
reads_own_flags "buyer upsert" --id b --name n --city 370200 --kind school \
  --target-fen 100 --alliance a --request-id r
reads_own_flags "buyer upsert" --id b --name n --city 370200 --kind school \
  --target-yuan 1,000.50
reads_own_flags "buyer get" b
reads_own_flags "buyer list" --city 37 --kind school --alliance a \
  --page-size 5 --page-token t --all
reads_own_flags "buyer progress" --id b --year 2026
reads_own_flags "buyer progress" --alliance a --year 2026
reads_own_flags "stats" --by day,province --from 2026-12-01 --to 2026-12-07 \
  --product p --region 62 --city 37 --buyer b --supplier s
reads_own_flags "report daily" --date 2026-12-01 --top 5
reads_own_flags "report ledger" --quarter 2026Q4 --by buyer --csv "$WORK/l.csv"
# Each command the help lists must be above, so a new one is checked too.
LAST_CMD=""
COMMANDS=$("$CLI" help | sed -n '/^Commands:/,/^$/s/^  \([a-z][^ ]*\( [a-z][^ ]*\)\{0,2\}\).*/\1/p')
[[ -n "$COMMANDS" ]] || fail "no commands in 'duijie help'"
while read -r command; do
  [[ "$command" == help || "$command" == "completion bash" ]] && continue
  if [[ "$command" == *"|"* ]]; then
    # "alerts thresholds set|list": each alternative is a command.
    IFS='|' read -ra alternatives <<<"${command##* }"
    for alternative in "${alternatives[@]}"; do
      [[ "$CHECKED" == *"|${command% *} $alternative|"* ]] ||
        fail "'${command% *} $alternative' not run by reads_own_flags"
    done
    continue
  fi
  [[ "$CHECKED" == *"|$command|"* ]] || fail "'$command' not run by reads_own_flags"
done <<<"$COMMANDS"

# --- keys and revocations survive kill -9 ------------------------------------
unset DUIJIE_KEY
start_server --data_dir="$WORK/data" --fsync=true
DURABLE_ADMIN=$(head -n 1 "$WORK/data/admin.key")
export DUIJIE_KEY="$DURABLE_ADMIN"
ok admin key create --name kept --role supplier --supplier s1
KEPT_KEY=$(head -n 1 "$OUT")
ok admin key create --name gone --role buyer --buyer b1
GONE_KEY=$(head -n 1 "$OUT")
ok admin key revoke 2
ok admin state-hash
HASH_BEFORE=$(sed -n 's/^state hash *//p' "$OUT")
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
start_server --data_dir="$WORK/data" --fsync=true
ok admin state-hash
[[ "$(sed -n 's/^state hash *//p' "$OUT")" == "$HASH_BEFORE" ]] ||
  fail "the state hash changed across kill -9"
DUIJIE_KEY="$KEPT_KEY" ok book
DUIJIE_KEY="$GONE_KEY" expect_rc 1 book
err_has "revoked"
ok --json admin key list
json_has name '"kept"'
out_has '"revoked_at"'
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# --- figures, the daily report and the quarterly ledger ---------------------
# The demo data makes matches at start (now, by the server's clock); every
# figure below is of them.
start_server --demo --insecure_no_auth
unset DUIJIE_KEY
ok buyer upsert --id qingdao-cooperation-office --name 青岛市东西部协作办 \
  --city 370200 --kind government_unit
ok stats
out_has "HOUSEHOLDS"
ok stats --by province,pairing
out_has "620000"
out_has "370200>621200"
out_has "TOTAL"
ok -o csv stats --by province,product
out_has "PROVINCE,PRODUCT,KG,YUAN,MATCHES"
ok --json stats --by day,kind
out_has '"total": {'
expect_rc 2 stats --by province,nonsense
err_has "--by: unknown dimension 'nonsense'"
expect_rc 1 stats --by day,day
err_has "group_by: DAY is repeated"
TODAY=$(TZ=Asia/Shanghai date +%F)
ok report daily --date "$TODAY"
out_has "Daily report (日报) for $TODAY"
out_has "甘肃省"
out_has "Largest matches"
# Alerts are answered by servers that have them; this one may not.
grep -qF "alerts: not available from this server" "$OUT" ||
  grep -qF "Alerts: " "$OUT" || fail "the daily report says nothing of alerts"
expect_rc 2 report daily --date 2026-13-01
err_has "--date"
# Today is the default day.
ok report daily
out_has "Daily report (日报) for $TODAY"
# The ledger: UTF-8 with a BOM, the registry's names, and for each buyer
# the same figures as GetStats gives for that buyer.
YEAR=$(TZ=Asia/Shanghai date +%Y)
MONTH=$(TZ=Asia/Shanghai date +%-m)
QUARTER="${YEAR}Q$(((MONTH + 2) / 3))"
ok report ledger --quarter "$QUARTER" --by buyer --csv "$WORK/ledger.csv"
out_has "written to $WORK/ledger.csv"
[[ "$(head -c 3 "$WORK/ledger.csv" | od -An -tx1 | tr -d ' \n')" == efbbbf ]] ||
  fail "the ledger has no UTF-8 byte order mark"
grep -qF "qingdao-cooperation-office,青岛市东西部协作办," "$WORK/ledger.csv" ||
  fail "the ledger lacks the buyer's registered name"
ROWS=0
while IFS=, read -r q buyer name kg fen matches suppliers buyers households \
  dkg dfen; do
  [[ "$q" == "$QUARTER" ]] || fail "ledger row of quarter '$q'"
  if [[ "$buyer" == TOTAL ]]; then
    ok --json stats
  else
    ok --json stats --buyer "$buyer"
    ROWS=$((ROWS + 1))
  fi
  for field in kg fen matches suppliers buyers households delivered_kg \
    delivered_fen; do
    case $field in
      delivered_kg) want=$dkg ;;
      delivered_fen) want=${dfen%$'\r'} ;;
      *) want=${!field} ;;
    esac
    [[ "$(json_get "$field")" == "$want" ]] ||
      fail "ledger $buyer $field $want, GetStats $(json_get "$field")"
  done
done < <(tail -n +2 "$WORK/ledger.csv")
[[ $ROWS -eq 3 ]] || fail "the ledger has $ROWS buyer rows, not 3"
ok report ledger --quarter "$QUARTER" --by county --csv "$WORK/county.csv"
grep -qF "621202,\"武都区 Wudu, Longnan\",陇南市 Longnan,甘肃省 Gansu," \
  "$WORK/county.csv" || fail "the county ledger lacks Wudu's names"
ok report ledger --quarter "$QUARTER" --by pairing --csv "$WORK/pairing.csv"
grep -qF "370200>621200,370200,青岛市 Qingdao,621200,陇南市 Longnan," \
  "$WORK/pairing.csv" || fail "the pairing ledger lacks Qingdao-Longnan"
# "-" writes the same CSV to stdout, the summary to stderr.
ok report ledger --quarter "$QUARTER" --by pairing --csv -
cmp -s "$OUT" "$WORK/pairing.csv" || fail "--csv - differs from the file"
err_has "written to standard output"
expect_rc 2 report ledger --quarter 2026Q5 --by buyer --csv "$WORK/x.csv"
err_has "--quarter"
expect_rc 2 report ledger --quarter "$QUARTER" --by town --csv "$WORK/x.csv"
err_has "--by"
# --- the product catalogue -----------------------------------------------------
# The demo catalogues its produce, which closes the catalogue: a post must
# name a catalogued product, an offer one with nothing under it.
ok products list --prefix vegetable
out_has "马铃薯"
out_has "vegetable.radish"
out_lacks "fruit.apple"
out_lacks "catalogue is open"
ok products upsert --code vegetable.leek --name 韭菜 --perishability perishable \
  --shelf-life 5d --unit 每捆1公斤
out_has "product vegetable.leek 韭菜 created, perishable, keeps 5d, 每捆1公斤"
ok products upsert --code vegetable.leek --name 韭菜 --perishability perishable \
  --shelf-life 3d
out_has "product vegetable.leek 韭菜 replaced, perishable, keeps 3d"
ok -o csv products list --name 韭
out_has "vegetable.leek,韭菜,perishable,3d,"
ok --json products list --prefix vegetable.leek
json_has perishability '"PERISHABLE"'
json_has shelf_life '"259200s"'
expect_rc 1 products upsert --code herb.ginseng.wild --name 野山参 \
  --perishability storable
err_has 'the parent "herb.ginseng" of "herb.ginseng.wild" is not in the catalogue'
expect_rc 2 products upsert --code vegetable.leek --name 韭菜 \
  --perishability rotten
err_has "--perishability"
# A misspelt product is refused, with the nearest catalogued one.
expect_rc 1 offer post --supplier dingxi-coop --region 621102 \
  --product vegetable.potatoe --grade first --kg 1000 --floor-fen 100 \
  --expires-in 3d
err_has 'NOT_FOUND'
err_has 'NOT_FOUND: --product: "vegetable.potatoe" is not in the catalogue; did you mean "vegetable.potato"? (field offer.product_code)'
expect_rc 1 offer post --supplier dingxi-coop --region 621102 \
  --product vegetable --grade first --kg 1000 --floor-fen 100 --expires-in 3d
err_has '"vegetable" is a category'
ok pledge post --buyer qingdao-canteen --city 370200 --kind canteen \
  --product vegetable.leek --kg 100 --max-fen 50 --expires-in 3d
# --- glut alerts as a stream ---------------------------------------------------
# 120 t of Wudu radish that spoil in two days, nobody to take them: a glut
# under the default thresholds (1000 kg gap, 72 h horizon).
for i in 1 2 3; do
  ok offer post --supplier wudu-radish-coop --region 621202 \
    --product vegetable.radish --grade first --kg 40000 --floor-fen 80 \
    --households 120 --expires-in 48h
done
ok alerts watch --once --product vegetable.radish --region 621202
out_has "RAISED"
out_has "AT RISK KG"
out_has "AT (Asia/Shanghai)"
awk '$2 == "RAISED" && $4 == "vegetable.radish" && $5 == "621202" {
  found = 1 } END { exit !found }' "$OUT" ||
  fail "alerts watch --once shows no RAISED row of the radish glut"
out_has "up to event"
ok --json alerts watch --once --product vegetable.radish --region 621202
out_has '"kind":"RAISED"'
out_has '"product_code":"vegetable.radish"'
# Resumed after the last event shown: nothing more, and it stops there.
LAST_ALERT=$(sed -n 's/.*"event_id":"\([0-9]*\)".*/\1/p' "$OUT" | tail -n 1)
ok alerts watch --once --after-event "$LAST_ALERT" --product vegetable.radish
out_has "0 events, up to event"
expect_rc 1 alerts watch --after-event 99999
err_has "99999 is beyond the last alert event"
# Products by their Chinese name as well as by code.
ok book --product 萝卜
out_has "vegetable.radish"
expect_rc 2 book --product 不存在的菜
err_has "no product's code or name matches it"
# Deadlines are set when posting and shown.
ok offer post --supplier longnan-pepper-coop --region 621202 \
  --product spice.sichuan_pepper --grade 特级 --kg 10 --floor-fen 6800 \
  --expires-in 30d --ship-within 72h
out_has "ship within"
out_has "3d of a match"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# --- TLS and mutual TLS ------------------------------------------------------
# Certificates made here with openssl: a CA, a server certificate for
# 127.0.0.1 and a client certificate, both signed by it.
command -v openssl >/dev/null || fail "openssl is needed (tools/lib/deps.sh)"
LAST_CMD=""
(
  cd "$WORK"
  key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${key[@]}" -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=duijie test CA"
  openssl req "${key[@]}" -keyout server.key -out server.csr -subj /CN=localhost
  echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile server.ext
  openssl req "${key[@]}" -keyout client.key -out client.csr -subj /CN=platform
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out client.crt -days 2
) >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; fail "openssl"; }
start_server --tls_cert="$WORK/server.crt" --tls_key="$WORK/server.key" \
  --tls_client_ca="$WORK/ca.crt" --admin_key_file="$WORK/tls-admin.key"
grep -q "mutual TLS" "$LOG" || fail "the server does not say it requires client certificates"
export DUIJIE_KEY
DUIJIE_KEY=$(head -n 1 "$WORK/tls-admin.key")
expect_rc 3 book                                   # plaintext: no handshake
expect_rc 3 --tls_ca "$WORK/ca.crt" book           # no client certificate
ok --tls_ca "$WORK/ca.crt" --tls_cert "$WORK/client.crt" \
  --tls_key "$WORK/client.key" book
# A client certificate alone is not enough: the key is still required.
DUIJIE_KEY="" expect_rc 1 --tls_ca "$WORK/ca.crt" \
  --tls_cert "$WORK/client.crt" --tls_key "$WORK/client.key" book
err_has "UNAUTHENTICATED"
expect_rc 2 --tls_cert "$WORK/client.crt" book     # a certificate needs the CA
err_has "--tls_ca"
expect_rc 2 --tls_ca "$WORK/no-such.pem" book
err_has "no-such.pem"
# TLS against a plaintext server: the CLI says what may be wrong, and
# gRPC's own log line of the failed handshake does not come first.
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
start_server --insecure_no_auth
expect_rc 3 --tls_ca "$WORK/ca.crt" book
err_has "a TLS handshake failed: the server may speak plaintext"
err_lacks "ssl_transport_security"

echo "PASS: cli_test"
