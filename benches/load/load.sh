#!/usr/bin/env bash
# The load benchmark: the release server on loopback, driven by wrk, beside
# reference servers on the same stack (examples/bench_reference.rs). Prints a
# Markdown table of requests/s and p50/p99 latency, and the server's memory.
#
#   benches/load/load.sh            # DURATION=10s CONNECTIONS=64 THREADS=2
#
# Needs wrk (Debian: apt-get install wrk), curl, python3, and PostgreSQL at
# $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# for the opaque-key model on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-2000}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=18700
REF_PORT=18701

cargo build --release --quiet --bin informly --example bench_reference --example mint_tokens
BIN=$PWD/target/release/informly
REF=$PWD/target/release/examples/bench_reference
MINT=$PWD/target/release/examples/mint_tokens

WORK=$(mktemp -d /tmp/informly-load.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$PG" -qc "drop database if exists informly_bench with (force)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -m 700 "$WORK/keys"
export INFORMLY_DATABASE_URL="sqlite://$WORK/informly.db" INFORMLY_KEYS_DIR="$WORK/keys"
# The server logs at its default level (a line per request, to a file here).
API="http://127.0.0.1:$PORT"

wait_for() { # URL -> seconds until it answers 200
    local start end
    start=$(date +%s.%N)
    until curl -sf -o /dev/null "$1"; do sleep 0.002; done
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# First start creates the database and the keys; the second is timed.
"$BIN" serve --listen "127.0.0.1:$PORT" 2>"$WORK/serve0.log" & PIDS+=($!)
wait_for "$API/health" >/dev/null
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
"$BIN" serve --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" & SERVER=$!; PIDS+=($SERVER)
STARTUP=$(wait_for "$API/health")
sleep 1
RSS_IDLE=$(rss_kib "$SERVER")

ADMIN=$("$BIN" admin-token --expires-in 2h 2>/dev/null)
python3 - "$API" "$ADMIN" "$TOKENS" "$WORK" <<'PY'
import json, sys, urllib.request
api, admin, count, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(method, path, body=None, token=admin):
    req = urllib.request.Request(api + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
app = call("POST", "/v1/apps", {"name": "load"})["id"]
scopes = ["contacts:read", "contacts:write"]
tokens = [call("POST", f"/v1/apps/{app}/tokens", {"scopes": scopes, "expires_in": "2h",
                                                  "format": "paseto" if i % 2 == 0 else "jwt"})["token"]
          for i in range(count)]
open(work + "/tokens.txt", "w").write("\n".join(tokens) + "\n")
contact = call("POST", "/v1/contacts", {"email": "reader@example.com"}, token=tokens[0])["id"]
open(work + "/contact.txt", "w").write(contact)
me = call("GET", "/v1/token", token=tokens[0])
open(work + "/ids.txt", "w").write(me["workspace"] + " " + me["app"] + "\n")
PY
TOKEN=$(head -1 "$WORK/tokens.txt")
CONTACT=$(cat "$WORK/contact.txt")

echo "| Scenario | Requests/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
run() { # NAME, wrk arguments...
    local name=$1; shift
    local out
    out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency "$@")
    local rps p50 p99 bad
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $5}' <<<"$out"); bad=${bad:-0}
    echo "| $name | $rps | $p50 | $p99 | $bad |"
}
auth=(-H "Authorization: Bearer $TOKEN")
run "informly: GET /health" "$API/health"
run "informly: GET /v1/token, one token" "${auth[@]}" "$API/v1/token"
run "informly: GET /v1/token, $TOKENS tokens in turn" -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/tokens.txt"
run "informly: GET /v1/contacts/{id}" "${auth[@]}" "$API/v1/contacts/$CONTACT"
run "informly: POST /v1/contacts" -s benches/load/create.lua "$API/v1/contacts" -- "$TOKEN" "$(date +%s)"
RSS_PEAK=$(hwm_kib "$SERVER")

# A full cache: 100,000 distinct tokens, each seen once and then again.
read -r WS APP_ID < "$WORK/ids.txt"
"$MINT" "$WORK/keys" "$WS" "$APP_ID" 100000 "$WORK/many.txt"
run "informly: GET /v1/token, 100,000 tokens in turn (filling the cache)" -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/many.txt"
run "informly: GET /v1/token, 100,000 tokens in turn (cache full)" -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/many.txt"
RSS_FULL=$(hwm_kib "$SERVER")

# The token cache off: every request verifies a signature.
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
INFORMLY_TOKEN_CACHE=0 "$BIN" serve --listen "127.0.0.1:$PORT" 2>"$WORK/serve-nocache.log" & SERVER=$!; PIDS+=($SERVER)
wait_for "$API/health" >/dev/null
run "informly, cache off: GET /v1/token, one token" "${auth[@]}" "$API/v1/token"
run "informly, cache off: GET /v1/token, $TOKENS tokens in turn" -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/tokens.txt"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

REF_API="http://127.0.0.1:$REF_PORT"
"$REF" "sqlite://$WORK/opaque.db?mode=rwc" "127.0.0.1:$REF_PORT" "$TOKENS" "$WORK/keys-sqlite.txt" 2>/dev/null & PIDS+=($!)
wait_for "$REF_API/health" >/dev/null
KEY=$(head -1 "$WORK/keys-sqlite.txt")
run "reference: GET /health (bare axum)" "$REF_API/health"
run "reference: one signature verify per request" "$REF_API/floor"
run "reference: one signature verify per request, PASETO/JWT primitives in turn" "$REF_API/floor-mixed"
run "opaque key, SQLite: one key" -H "Authorization: Bearer $KEY" "$REF_API/opaque"
run "opaque key, SQLite: $TOKENS keys in turn" -s benches/load/cycle.lua "$REF_API/opaque" -- "$WORK/keys-sqlite.txt"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

psql "$PG" -qc "drop database if exists informly_bench with (force)" -c "create database informly_bench" >/dev/null
PG_BENCH="${PG%/*}/informly_bench"
"$REF" "$PG_BENCH" "127.0.0.1:$REF_PORT" "$TOKENS" "$WORK/keys-pg.txt" 2>/dev/null & PIDS+=($!)
wait_for "$REF_API/health" >/dev/null
KEY=$(head -1 "$WORK/keys-pg.txt")
run "opaque key, PostgreSQL: one key" -H "Authorization: Bearer $KEY" "$REF_API/opaque"
run "opaque key, PostgreSQL: $TOKENS keys in turn" -s benches/load/cycle.lua "$REF_API/opaque" -- "$WORK/keys-pg.txt"

echo
echo "informly serve: start-up to /health answering ${STARTUP}s on an existing database;"
echo "RSS idle $((RSS_IDLE / 1024)) MiB, peak during the informly runs $((RSS_PEAK / 1024)) MiB ($CONNECTIONS connections, $TOKENS tokens cached),"
echo "peak with the cache full (100,000 tokens) $((RSS_FULL / 1024)) MiB."
