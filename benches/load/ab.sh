#!/usr/bin/env bash
# A/B of the hot paths of two builds of `informly`, in interleaved rounds
# (A, B, A, B, …) on the same machine, so that the machine's drift falls on
# both alike: GET /health, GET /v1/token with one token, and GET /v1/token
# with 2,000 tokens in turn and the token cache off (a signature check per
# request). Prints one Markdown row per round and scenario, then B/A ratios
# of the medians.
#
#   benches/load/ab.sh BIN_A BIN_B            # ROUNDS=3 DURATION=8s CONNECTIONS=64
#
# A_ENV and B_ENV add settings to one side, so one build can be compared
# with itself under two settings:
#
#   A_ENV=INFORMLY_USAGE_FLUSH=0 benches/load/ab.sh target/release/informly target/release/informly
#
# Needs wrk, curl and python3. Each build gets its own SQLite database and
# keys; its tokens are made through its own API.
set -euo pipefail
cd "$(dirname "$0")/../.."

A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-2000}
PORT=18710

WORK=$(mktemp -d /tmp/informly-ab.XXXXXX)
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
API="http://127.0.0.1:$PORT"

start() { # LABEL [ENV=VALUE …]: serves LABEL's build on its own home
    local label=$1; shift
    local bin; bin=$([ "$label" = A ] && echo "$A" || echo "$B")
    local side; side=$([ "$label" = A ] && echo "${A_ENV:-}" || echo "${B_ENV:-}")
    # shellcheck disable=SC2086 # A_ENV/B_ENV are lists of NAME=VALUE words
    env $side INFORMLY_DATABASE_URL="sqlite://$WORK/$label/informly.db" INFORMLY_KEYS_DIR="$WORK/$label/keys" "$@" \
        "$bin" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/$label/serve.log" &
    SERVER=$!
    until curl -sf -o /dev/null "$API/health"; do sleep 0.01; done
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

for label in A B; do
    mkdir -p "$WORK/$label" && mkdir -m 700 "$WORK/$label/keys"
    start "$label"
    bin=$([ "$label" = A ] && echo "$A" || echo "$B")
    admin=$(INFORMLY_DATABASE_URL="sqlite://$WORK/$label/informly.db" INFORMLY_KEYS_DIR="$WORK/$label/keys" \
        "$bin" admin-token --expires-in 2h 2>/dev/null)
    python3 benches/load/app_tokens.py "$API" "$admin" "$TOKENS" "$WORK/$label/tokens.txt" ab
    stop
done

rps() { # wrk arguments… → requests/s
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" "$@" | awk '/^Requests\/sec/ {print $2}'
}

echo "| Round | Build | /health | /v1/token, one token | /v1/token, $TOKENS tokens, cache off |"
echo "| ---: | --- | ---: | ---: | ---: |"
for round in $(seq 1 "$ROUNDS"); do
    for label in A B; do
        token=$(head -1 "$WORK/$label/tokens.txt")
        start "$label"
        health=$(rps "$API/health")
        one=$(rps -H "Authorization: Bearer $token" "$API/v1/token")
        stop
        start "$label" INFORMLY_TOKEN_CACHE=0
        many=$(rps -s benches/load/cycle.lua "$API/v1/token" -- "$WORK/$label/tokens.txt")
        stop
        echo "| $round | $label | $health | $one | $many |"
        echo "$label $health $one $many" >> "$WORK/results"
    done
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {label: [statistics.median(float(r[i]) for r in rows if r[0] == label) for i in (1, 2, 3)]
       for label in ("A", "B")}
names = ["/health", "/v1/token, one token", "/v1/token, many tokens, cache off"]
print()
for name, a, b in zip(names, med["A"], med["B"]):
    print(f"- {name}: median A {a:,.0f}/s, B {b:,.0f}/s, B/A {b / a:.3f}")
PY
