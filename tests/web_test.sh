#!/usr/bin/env bash
# End-to-end test of the office dashboard (duijie-web) in a real browser.
#
#   bash tests/web_test.sh <duijie-server> <duijie> <duijie-web>
#
# Starts duijie-server with the demo data, posts a glut with the CLI (offers
# of one product in one county expiring within the alert horizon, far more
# kg than any compatible pledge), starts duijie-web, loads the page in
# headless Chromium and checks that what the page shows is what the API
# says: the alert table against ListAlerts (the dashboard's endpoint and
# `duijie alerts list -o json`), the charts' data against GetStats, the book
# against `duijie book -o json`, the latest matches against WatchMatches;
# that products show their ListProducts name beside their code; that server
# text is shown as text, never as markup; and that a new match
# reaches the live stream. Needs chromium, python3 and jq
# (tools/lib/deps.sh installs them); exits 77 (skipped) without Chromium.
# Nothing is downloaded: the HTTP reads go through tests/loopback_get.py,
# which refuses any host but 127.0.0.1, Chromium opens only the duijie-web
# this script starts there, and the page's Chart.js is the Debian
# package's, served by duijie-web itself.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 <duijie-server> <duijie> <duijie-web>" >&2
  exit 2
fi
SERVER=$1
CLI=$2
WEB=$3
for tool in python3 jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$CHROMIUM" ]]; then
  echo "SKIP: no chromium here (apt-get install chromium)" >&2
  exit 77
fi

WORK=$(mktemp -d)
unset DUIJIE_SERVER DUIJIE_KEY
export XDG_CONFIG_HOME="$WORK/config"
export HOME="$WORK/home"  # Chromium's profile, not the user's
mkdir -p "$HOME"
SERVER_PID=""
WEB_PID=""
STREAM_PID=""
cleanup() {
  local pid
  for pid in "$STREAM_PID" "$WEB_PID" "$SERVER_PID"; do
    if [[ -n "$pid" ]]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- duijie-server log (last 10 lines):" >&2
  tail -n 10 "$WORK/server.log" >&2 || true
  echo "--- duijie-web log (last 10 lines):" >&2
  tail -n 10 "$WORK/web.log" >&2 || true
  exit 1
}

# Waits for "$2 listening on ...HOST:PORT" in log $1; prints PORT.
wait_port() {
  local log=$1 what=$2 pid=$3 port=""
  for _ in $(seq 1 200); do
    port=$(sed -n "s/.*$what listening on [a-z:/]*127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p;T;q" \
      "$log") || true
    [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || fail "$what exited at start"
    sleep 0.05
  done
  [[ -n "$port" ]] || fail "no '$what listening on' line"
  echo "$port"
}

# --- the server, with the demo data and a glut -------------------------------
: >"$WORK/server.log"
"$SERVER" --listen=127.0.0.1:0 --demo --admin_key_file="$WORK/admin.key" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=$(wait_port "$WORK/server.log" duijie-server "$SERVER_PID")
export DUIJIE_KEY
DUIJIE_KEY=$(head -n 1 "$WORK/admin.key")
cli() { "$CLI" --server "127.0.0.1:$PORT" "$@"; }

# 武都区 (Longnan) digs 120 t of radish that spoils in two days. Qingdao,
# Longnan's partner, takes 2 t at once; a Tianjin trade union wants 30 t
# but pays too little: a candidate that would have to raise its price. Its
# buyer id carries markup, which the page must show as text.
for i in 1 2 3; do
  cli offer post --supplier wudu-radish-coop --region 621202 \
    --product vegetable.radish --grade first --kg 40000 --floor-fen 80 \
    --households 120 --expires-in 48h >/dev/null || fail "offer post $i"
done
cli pledge post --buyer qingdao-cooperation-office --city 370200 \
  --kind government_unit --product vegetable.radish --kg 2000 --max-fen 100 \
  --scope partners --expires-in 7d >/dev/null || fail "the Qingdao pledge"
HOSTILE_BUYER='tianjin-union-<b id="injected">x</b>'
cli pledge post --buyer "$HOSTILE_BUYER" --city 120103 --kind trade_union \
  --product vegetable.radish --kg 30000 --max-fen 60 --expires-in 7d \
  >/dev/null || fail "the Tianjin pledge"

# --- the dashboard -------------------------------------------------------------
: >"$WORK/web.log"
"$WEB" --server "127.0.0.1:$PORT" --listen 127.0.0.1:0 >"$WORK/web.log" 2>&1 &
WEB_PID=$!
WEB_PORT=$(wait_port "$WORK/web.log" duijie-web "$WEB_PID")
URL="http://127.0.0.1:$WEB_PORT"  # loopback only: see the top
echo "duijie-server on 127.0.0.1:$PORT, duijie-web on $URL"

GET="$(dirname "${BASH_SOURCE[0]}")/loopback_get.py"
get() { python3 "$GET" "$@"; }
api() { get "$URL/api/$1" >"$WORK/$2" || fail "GET /api/$1: $(cat "$WORK/$2")"; }
api alerts alerts.json
api "stats?by=day&days=30" stats-day.json
api "stats?by=pairing" stats-pairing.json
api regions regions.json
api products products.json
cli -o json book >"$WORK/book.json" || fail "duijie book"

# The page's static parts, and Chart.js from this machine.
get "$URL/" >"$WORK/index.html" || fail "GET /"
grep -qF '<meta charset="utf-8">' "$WORK/index.html" || fail "the page has no charset"
[[ "$(get --status "$URL/chart.js")" == 200 ]] ||
  fail "Chart.js is not served (libjs-chart.js)"

# ?snapshot: the page closes the live stream once it has the latest
# matches, so that the browser's virtual clock can run out.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 \
  --dump-dom "$URL/?snapshot" >"$WORK/dom.html" 2>"$WORK/chromium.log" ||
  fail "chromium: $(tail -n 5 "$WORK/chromium.log")"
grep -qF 'data-loaded="true"' "$WORK/dom.html" || fail "the page did not finish loading"

# The DOM's rows of table $1, one line each, of the values of the
# attributes named after it separated by spaces, in page order, with the
# entities Chromium writes in attribute values decoded.
dom_rows() {
  local table=$1
  shift
  sed -n "/<table id=\"$table\"/,/<\/table>/p" "$WORK/dom.html" |
    grep -o '<tr [^>]*>' | while read -r row; do
      local values=() attr
      for attr in "$@"; do
        values+=("$(sed -n "s/.* $attr=\"\([^\"]*\)\".*/\1/p" <<<"$row" |
          sed 's/&gt;/>/g; s/&lt;/</g; s/&quot;/"/g; s/&amp;/\&/g')")
      done
      (IFS=' '; echo "${values[*]}")
    done
}

# --- glut alerts: the table is ListAlerts, worst first ------------------------
jq -e '.alerts | length > 0' "$WORK/alerts.json" >/dev/null ||
  fail "ListAlerts raised no alert for the radish glut: $(cat "$WORK/alerts.json")"
# The API's own figures for the glut, from what was posted: 120 t at risk
# less the 2 t Qingdao took, no compatible demand left, the Tianjin pledge
# a candidate.
jq -e --arg buyer "$HOSTILE_BUYER" '
  [.alerts[] | select(.product_code == "vegetable.radish" and
                      .region_code == "621202")][0]
  | .at_risk_kg == "118000" and .demand_kg == "0"
    and any(.candidates[]; .buyer_id == $buyer)' \
  "$WORK/alerts.json" >/dev/null ||
  fail "ListAlerts does not show the radish glut as posted: $(cat "$WORK/alerts.json")"
jq -r '.alerts[] | "\(.alert_id) \(.product_code) \(.region_code) \(.at_risk_kg) \(.demand_kg) \(.candidates | length)"' \
  "$WORK/alerts.json" >"$WORK/alerts.want"
dom_rows alerts data-alert-id data-product data-region data-at-risk-kg \
  data-demand-kg data-candidates >"$WORK/alerts.got"
diff "$WORK/alerts.want" "$WORK/alerts.got" >&2 ||
  fail "the alert table differs from ListAlerts (< API, > page)"
# The same figures through another client: `duijie alerts list -o json`.
cli -o json alerts list >"$WORK/alerts-cli.json" ||
  fail "duijie alerts list: $(cat "$WORK/alerts-cli.json")"
jq -r '.alerts[] | "\(.alert_id) \(.product_code) \(.region_code) \(.at_risk_kg) \(.demand_kg) \(.candidates | length)"' \
  "$WORK/alerts-cli.json" >"$WORK/alerts-cli.want"
diff "$WORK/alerts-cli.want" "$WORK/alerts.got" >&2 ||
  fail "the alert table differs from 'duijie alerts list' (< CLI, > page)"
# The county's Chinese name, from ListRegions, shown as UTF-8.
WUDU=$(jq -r '.regions[] | select(.code == "621202") | .name' "$WORK/regions.json")
[[ "$WUDU" == 武都区* ]] || fail "ListRegions lacks 武都区: $WUDU"
grep -qF "$WUDU (621202)" "$WORK/dom.html" || fail "the page does not name $WUDU"
# Markup in a buyer id is text on the page: escaped, no element made.
grep -qF 'tianjin-union-&lt;b id="injected"&gt;x&lt;/b&gt;' "$WORK/dom.html" ||
  fail "the candidate's buyer id is not shown as text"
! grep -qF 'id="injected"' <(sed 's/&lt;b id="injected"//g' "$WORK/dom.html") ||
  fail "a buyer id became markup on the page"

# The product's Chinese name, from ListProducts, beside its code in each
# table that shows a product.
RADISH=$(jq -r '.products[] | select(.code == "vegetable.radish") | .name' "$WORK/products.json")
[[ "$RADISH" == 萝卜 ]] || fail "ListProducts does not name vegetable.radish 萝卜: $RADISH"
table_has() {
  sed -n "/<table id=\"$1\"/,/<\/table>/p" "$WORK/dom.html" | grep -qF "$2"
}
for table in alerts book matches; do
  table_has "$table" "<td>$RADISH (vegetable.radish)</td>" ||
    fail "the $table table does not show '$RADISH (vegetable.radish)'"
done

# --- figures: the charts and their tables are GetStats ----------------------
check_stats() {
  local by=$1
  jq -e '.rows | length > 0' "$WORK/stats-$by.json" >/dev/null ||
    fail "GetStats by $by has no rows: $(cat "$WORK/stats-$by.json")"
  jq -r '.rows[] | "\(.keys[0]) \(.kg)"' "$WORK/stats-$by.json" >"$WORK/$by.want"
  dom_rows "stats-$by" data-key data-kg >"$WORK/$by.got"
  diff "$WORK/$by.want" "$WORK/$by.got" >&2 ||
    fail "the table under the $by chart differs from GetStats (< API, > page)"
  # The chart's own data, read back from Chart.js into data-values.
  local values
  values=$(sed -n "s/.*<canvas id=\"chart-$by\"[^>]* data-values=\"\([^\"]*\)\".*/\1/p" \
    "$WORK/dom.html" | sed 's/&quot;/"/g')
  [[ "$(jq -c . <<<"${values:-null}")" == "$(jq -c '[.rows[] | .kg | tonumber]' "$WORK/stats-$by.json")" ]] ||
    fail "the $by chart shows ${values:-nothing}, GetStats says $(jq -c '[.rows[] | .kg | tonumber]' "$WORK/stats-$by.json")"
}
check_stats day
check_stats pairing
# The 2 t Qingdao took count for the Qingdao-Longnan pairing.
jq -e '[.rows[] | select(.keys[0] == "370200>621200")][0].kg | tonumber >= 2000' \
  "$WORK/stats-pairing.json" >/dev/null ||
  fail "GetStats by pairing lacks Qingdao-Longnan's 2 t: $(cat "$WORK/stats-pairing.json")"
grep -qF '青岛市 Qingdao &gt; 陇南市 Longnan' "$WORK/dom.html" ||
  fail "the pairing chart does not name Qingdao and Longnan"

# --- the book: as `duijie book -o json` says -----------------------------------
jq -r '.lines[] | "\(.product_code) \(.open_offer_kg) \(.open_pledge_kg)"' \
  "$WORK/book.json" >"$WORK/book.want"
dom_rows book data-product data-open-offer-kg data-open-pledge-kg >"$WORK/book.got"
diff "$WORK/book.want" "$WORK/book.got" >&2 ||
  fail "the book table differs from 'duijie book' (< CLI, > page)"
grep -qx 'vegetable.radish 118000 30000' "$WORK/book.got" ||
  fail "the book does not show the radish as posted"

# --- latest matches: newest first, as WatchMatches sends them ------------------
MATCH_ID=$(cli -o json matches list | jq -r '[.matches[].match_id | tonumber] | max')
dom_rows matches data-match-id data-kind >"$WORK/matches.got"
FIRST=$(sed -n 1p "$WORK/matches.got")
[[ "$FIRST" == "$MATCH_ID NEW_MATCH" ]] ||
  fail "the newest match on the page is '$FIRST', not match $MATCH_ID"

# --- live: a new match reaches an open stream ---------------------------------
python3 "$GET" "$URL/api/matches/stream?last=0" >"$WORK/stream.txt" 2>&1 &
STREAM_PID=$!
for _ in $(seq 1 200); do
  grep -q '^event: caught_up' "$WORK/stream.txt" && break
  sleep 0.05
done
grep -q '^event: caught_up' "$WORK/stream.txt" || fail "the stream never caught up"
cli pledge post --buyer qingdao-cooperation-office --city 370200 \
  --kind government_unit --product vegetable.radish --kg 1500 --max-fen 100 \
  --scope partners --expires-in 7d >/dev/null || fail "the second Qingdao pledge"
NEXT=$((MATCH_ID + 1))
for _ in $(seq 1 200); do
  grep -qF "\"match_id\":\"$NEXT\"" "$WORK/stream.txt" && break
  sleep 0.05
done
grep -qF "\"match_id\":\"$NEXT\"" "$WORK/stream.txt" ||
  fail "match $NEXT did not reach the live stream: $(cat "$WORK/stream.txt")"
grep -q '"quantity_kg":"1500"' "$WORK/stream.txt" || fail "the live match is not 1500 kg"

echo "web_test: all checks passed"
