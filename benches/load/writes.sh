#!/usr/bin/env bash
# Contacts writes of two builds of `informly`, in interleaved rounds (A, B,
# A, B, …) on both backends: POST /v1/contacts with a fresh email per request
# (create.lua) at CONNECTIONS connections, requests/s and p50/p99 from wrk.
# Then, for builds that serve POST /v1/contacts/batch, the import rate:
# batches of 1,000 contacts sent by BATCH_CLIENTS clients at once, contacts
# created per second.
#
#   benches/load/writes.sh BIN_A BIN_B     # ROUNDS=3 DURATION=10s CONNECTIONS=64
#   BACKENDS=sqlite benches/load/writes.sh BIN_A BIN_B
#
# Every run starts from a fresh database. Needs wrk, curl, python3 and, for
# PostgreSQL, psql and a server at $BENCH_POSTGRES_URL
# (postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BACKENDS=${BACKENDS:-sqlite postgres}
BATCHES=${BATCHES:-60}
BATCH_CLIENTS=${BATCH_CLIENTS:-4}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=18720
API="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /tmp/informly-writes.XXXXXX)
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    psql "$PG" -qc "drop database if exists informly_writes with (force)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fresh() { # LABEL BACKEND: a new database and keys, the server started, a token in $TOKEN
    local label=$1 backend=$2 bin url
    bin=$([ "$label" = A ] && echo "$A" || echo "$B")
    rm -rf "$WORK/home" && mkdir -p "$WORK/home" && mkdir -m 700 "$WORK/home/keys"
    if [ "$backend" = sqlite ]; then
        url="sqlite://$WORK/home/informly.db"
    else
        psql "$PG" -qc "drop database if exists informly_writes with (force)" >/dev/null
        psql "$PG" -qc "create database informly_writes" >/dev/null
        url="${PG%/*}/informly_writes"
    fi
    export INFORMLY_DATABASE_URL=$url INFORMLY_KEYS_DIR="$WORK/home/keys"
    "$bin" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/serve.$label.log" &
    SERVER=$!
    until curl -sf -o /dev/null "$API/health"; do sleep 0.01; done
    "$bin" apps create --name writes >/dev/null
    TOKEN=$("$bin" tokens issue --app writes --scope contacts:write --expires-in 2h 2>/dev/null)
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

# wrk's latency lines in milliseconds.
ms() { awk -v q="$1" '$1 == q { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } printf "%.1f", v }'; }

echo "| backend | round | build | requests/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|---|"
for backend in $BACKENDS; do
    for round in $(seq "$ROUNDS"); do
        for label in A B; do
            fresh "$label" "$backend"
            out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s benches/load/create.lua \
                "$API/v1/contacts" -- "$TOKEN" "$round$label")
            stop
            rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
            p50=$(ms 50% <<<"$out")
            p99=$(ms 99% <<<"$out")
            bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
            echo "| $backend | $round | $label | $rps | $p50 | $p99 | ${bad:-0} |"
            echo "$backend $label $rps $p50 $p99" >>"$WORK/results"
        done
    done
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print()
for backend in dict.fromkeys(r[0] for r in rows):
    med = {label: [statistics.median(float(r[i]) for r in rows if r[0] == backend and r[1] == label)
                   for i in (2, 3, 4)] for label in ("A", "B")}
    (ra, _, pa), (rb, _, pb) = med["A"], med["B"]
    print(f"- {backend}: median A {ra:,.0f}/s (p99 {pa} ms), B {rb:,.0f}/s (p99 {pb} ms), B/A {rb / ra:.2f}")
PY

# The import rate, for each build that has the batch endpoint.
echo
for backend in $BACKENDS; do
    for label in A B; do
        fresh "$label" "$backend"
        python3 - "$API" "$TOKEN" "$BATCHES" "$BATCH_CLIENTS" "$backend" "$label" <<'PY'
import json, sys, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor
api, token, batches, clients, backend, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def body(b):
    return json.dumps({"contacts": [{"email": f"import-{b}-{i}@example.com", "first_name": "Imported",
                                     "tags": ["import"], "attributes": {"row": i}} for i in range(1000)]}).encode()
bodies = [body(b) for b in range(batches)]
def send(data):
    req = urllib.request.Request(api + "/v1/contacts/batch", data=data, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["created"]
try:
    send(body(-1))
except urllib.error.HTTPError as e:
    print(f"- {backend} {label}: no batch endpoint ({e.code})")
    sys.exit(0)
start = time.perf_counter()
with ThreadPoolExecutor(clients) as pool:
    created = sum(pool.map(send, bodies))
seconds = time.perf_counter() - start
print(f"- {backend} {label}: {created:,} contacts in {batches} batches of 1,000 from {clients} clients "
      f"in {seconds:.2f} s: {created / seconds:,.0f} contacts/s")
PY
        stop
    done
done
