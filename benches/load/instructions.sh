#!/usr/bin/env bash
# Instructions per request of two builds of `informly`, counted by valgrind's
# callgrind: unlike requests/s on a shared machine, the count repeats run to
# run. For each build and scenario the server runs under callgrind twice, once
# answering nothing and once answering N requests on one keep-alive
# connection; the difference over N is the cost of a request, start-up and
# shutdown cancelled out. Background jobs are slowed to once an hour so they
# do not run during a measurement (token usage is written once, at shutdown:
# its cost is in the count); so is the webhook deliverer's poll, by its
# environment variable, which builds before it ignore. Under callgrind a
# request takes some fifty times as long, so a job that runs every second
# would be charged to requests some fifty times over.
#
#   benches/load/instructions.sh BIN_A BIN_B        # N=2000 SCENARIOS="health one many"
#
# Scenarios: GET /health; GET /v1/token with one token; GET /v1/token with N
# distinct tokens and the token cache off (a signature check per request).
# A_ENV and B_ENV add settings to one side (as in ab.sh), so one build can be
# compared with itself under two settings. Needs valgrind, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

A=$(realpath "$1")
B=$(realpath "$2")
N=${N:-2000}
PORT=18720
WORK=$(mktemp -d /tmp/informly-instructions.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
API="http://127.0.0.1:$PORT"
SLOW=(--denylist-refresh 1h --key-reload 1h)

home() { echo "INFORMLY_DATABASE_URL=sqlite://$WORK/$1/informly.db INFORMLY_KEYS_DIR=$WORK/$1/keys"; }

# Tokens for each build, made through its own API (outside valgrind).
for label in A B; do
    bin=$([ "$label" = A ] && echo "$A" || echo "$B")
    mkdir -p "$WORK/$label" && mkdir -m 700 "$WORK/$label/keys"
    env $(home "$label") "$bin" serve --listen "127.0.0.1:$PORT" 2>/dev/null & pid=$!
    until curl -sf -o /dev/null "$API/health"; do sleep 0.01; done
    admin=$(env $(home "$label") "$bin" admin-token --expires-in 2h 2>/dev/null)
    python3 benches/load/app_tokens.py "$API" "$admin" "$N" "$WORK/$label/tokens.txt" instructions
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

# Sends COUNT requests for SCENARIO on one connection.
drive() { # SCENARIO COUNT TOKENS_FILE
    python3 - "$PORT" "$1" "$2" "$3" <<'PY'
import http.client, sys
port, scenario, count, tokens = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
tokens = open(tokens).read().split()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
for i in range(count):
    if scenario == "health":
        conn.request("GET", "/health")
    else:
        token = tokens[0] if scenario == "one" else tokens[i % len(tokens)]
        conn.request("GET", "/v1/token", headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
}

# Instructions of one run of LABEL's build answering COUNT requests.
measure() { # LABEL SCENARIO COUNT
    local label=$1 scenario=$2 count=$3 bin out
    bin=$([ "$label" = A ] && echo "$A" || echo "$B")
    out="$WORK/callgrind.$label.$scenario.$count"
    local cache=()
    [ "$scenario" = many ] && cache=(INFORMLY_TOKEN_CACHE=0)
    local side; side=$([ "$label" = A ] && echo "${A_ENV:-}" || echo "${B_ENV:-}")
    # shellcheck disable=SC2086 # A_ENV/B_ENV are lists of NAME=VALUE words
    env $(home "$label") INFORMLY_USAGE_FLUSH=1h INFORMLY_WEBHOOK_POLL=1h $side "${cache[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$bin" serve --listen "127.0.0.1:$PORT" "${SLOW[@]}" 2>/dev/null & local pid=$!
    until curl -sf -o /dev/null "$API/health"; do sleep 0.2; done
    # What starts with the server and runs once (the first look for webhook
    # messages, the first expiry scan) finishes in both runs alike.
    sleep "${SETTLE:-5}"
    [ "$count" -gt 0 ] && drive "$scenario" "$count" "$WORK/$label/tokens.txt"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    # The readiness probe above is one request in both runs: it cancels out.
    awk '/^(summary|totals):/ {print $2; exit}' "$out"*
}

echo "| Scenario | A instructions/request | B instructions/request | B/A |"
echo "| --- | ---: | ---: | ---: |"
for scenario in ${SCENARIOS:-health one many}; do
    declare -A per
    for label in A B; do
        base=$(measure "$label" "$scenario" 0)
        loaded=$(measure "$label" "$scenario" "$N")
        per[$label]=$(( (loaded - base) / N ))
    done
    ratio=$(awk -v a="${per[A]}" -v b="${per[B]}" 'BEGIN { printf "%.3f", b / a }')
    echo "| $scenario | ${per[A]} | ${per[B]} | $ratio |"
done
