#!/usr/bin/env bash
# Uncached PASETO verification over HTTP against its floor, in interleaved
# rounds: `GET /v1/token` with TOKENS (2,000) distinct PASETO tokens in turn
# and the token cache off (a signature check per request), then the
# same-stack reference handler that does only an ed25519-dalek verify of a
# token-sized message (`examples/bench_reference.rs`: `GET /floor` with
# `verify`, `GET /floor-strict` with `verify_strict`, as the PASETO path
# verifies), sent the same requests with the same tokens, which it ignores.
# Prints each round and the ratios of the medians.
#
#   benches/load/verify_floor.sh        # ROUNDS=4 DURATION=8s CONNECTIONS=64
#
# Needs wrk, curl and python3; builds the release binaries it runs unless
# INFORMLY_BIN and REFERENCE_BIN are given.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-2000}
PORT=18730
API="http://127.0.0.1:$PORT"
if [[ -z ${INFORMLY_BIN:-} || -z ${REFERENCE_BIN:-} ]]; then
    cargo build --release --quiet --bin informly --example bench_reference
fi
BIN=${INFORMLY_BIN:-$PWD/target/release/informly}
REF=${REFERENCE_BIN:-$PWD/target/release/examples/bench_reference}
WORK=$(mktemp -d /tmp/informly-floor.XXXXXX)
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -m 700 "$WORK/keys"
export INFORMLY_DATABASE_URL="sqlite://$WORK/informly.db" INFORMLY_KEYS_DIR="$WORK/keys"

up() { until curl -sf -o /dev/null "$API/health"; do sleep 0.01; done; }
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
rps() { wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" "$@" | awk '/^Requests\/sec/ {print $2}'; }

# The tokens, through the service's own API.
"$BIN" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/serve.log" &
SERVER=$!
up
admin=$("$BIN" admin-token --expires-in 2h 2>/dev/null)
python3 benches/load/app_tokens.py "$API" "$admin" "$TOKENS" "$WORK/tokens.txt" floor
stop

echo "| round | informly, $TOKENS PASETO tokens, cache off (req/s) | dalek verify only (req/s) | ratio | dalek verify_strict only (req/s) | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
    INFORMLY_TOKEN_CACHE=0 "$BIN" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/serve.log" &
    SERVER=$!
    up
    ours=$(rps -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/tokens.txt")
    stop
    "$REF" "sqlite://$WORK/opaque.db?mode=rwc" "127.0.0.1:$PORT" 1 "$WORK/keys.txt" 2>/dev/null &
    SERVER=$!
    up
    # The same requests as above (each with one of the tokens, which the
    # floor does not read), so the load generator, on the same two cores,
    # does the same work for both.
    floor=$(rps -s benches/load/cycle.lua "$API/floor" -- "$WORK/tokens.txt")
    strict=$(rps -s benches/load/cycle.lua "$API/floor-strict" -- "$WORK/tokens.txt")
    stop
    ratio=$(awk -v a="$ours" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
    ratio_strict=$(awk -v a="$ours" -v b="$strict" 'BEGIN { printf "%.2f", a / b }')
    echo "| $round | $ours | $floor | $ratio | $strict | $ratio_strict |"
    echo "$ours $floor $strict" >>"$WORK/results"
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
ours, floor, strict = (statistics.median(r[i] for r in rows) for i in range(3))
print(f"\nmedians: informly {ours:,.0f}/s; verify {floor:,.0f}/s: {ours / floor:.2f}x; "
      f"verify_strict {strict:,.0f}/s: {ours / strict:.2f}x")
PY
