#!/usr/bin/env bash
# Uncached PASETO verification over HTTP against its floor: `GET /v1/token`
# with TOKENS (2,000) distinct PASETO tokens in turn and the token cache off
# (a signature check per request), beside reference handlers that do only an
# ed25519-dalek verify of a token-sized message (`examples/bench_reference.rs`:
# `GET /floor` with `verify`, `GET /floor-strict` with `verify_strict`, as the
# PASETO path verifies), sent the same requests with the same tokens, which
# they ignore. The reference runs twice: on the bare axum stack
# (`axum::serve`, no layers) and on informly's own (`--stack informly`: its
# serve loop, layers and request log), where it differs from the API by the
# handler alone.
#
# The three servers run side by side, idle but for the one under load; each
# round loads each target once for DURATION, in an order that turns round by
# round. Per target: requests/s, and the server's CPU time per request (user +
# system, from /proc), which a shared machine disturbs less. Prints each round
# and the medians of the per-round ratios.
#
#   benches/load/verify_floor.sh        # ROUNDS=10 DURATION=3s CONNECTIONS=64
#
# Needs wrk, curl and python3; builds the release binaries it runs unless
# INFORMLY_BIN and REFERENCE_BIN are given.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOKENS=${TOKENS:-2000}
PORT=18730
if [[ -z ${INFORMLY_BIN:-} || -z ${REFERENCE_BIN:-} ]]; then
    cargo build --release --quiet --bin informly --example bench_reference
fi
BIN=${INFORMLY_BIN:-$PWD/target/release/informly}
REF=${REFERENCE_BIN:-$PWD/target/release/examples/bench_reference}
WORK=$(mktemp -d /tmp/informly-floor.XXXXXX)
PIDS=()
cleanup() {
    kill "${PIDS[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -m 700 "$WORK/keys"
export INFORMLY_DATABASE_URL="sqlite://$WORK/informly.db" INFORMLY_KEYS_DIR="$WORK/keys"

up() { until curl -sf -o /dev/null "http://127.0.0.1:$1/health"; do sleep 0.01; done; }

# The tokens, through the service's own API.
"$BIN" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/informly.log" &
setup=$!
up "$PORT"
admin=$("$BIN" admin-token --expires-in 2h 2>/dev/null)
python3 benches/load/app_tokens.py "http://127.0.0.1:$PORT" "$admin" "$TOKENS" "$WORK/tokens.txt" floor
kill "$setup"
wait "$setup" 2>/dev/null || true

INFORMLY_TOKEN_CACHE=0 "$BIN" serve --listen "127.0.0.1:$PORT" 2>>"$WORK/informly.log" &
PIDS+=($!)
"$REF" "sqlite://$WORK/bare.db?mode=rwc" "127.0.0.1:$((PORT + 1))" 1 "$WORK/bare-keys.txt" bare 2>>"$WORK/bare.log" &
PIDS+=($!)
"$REF" "sqlite://$WORK/stack.db?mode=rwc" "127.0.0.1:$((PORT + 2))" 1 "$WORK/stack-keys.txt" informly 2>>"$WORK/stack.log" &
PIDS+=($!)
for port in "$PORT" "$((PORT + 1))" "$((PORT + 2))"; do up "$port"; done

names=(informly bare-verify bare-strict stack-verify stack-strict)
urls=("http://127.0.0.1:$PORT/v1/token"
    "http://127.0.0.1:$((PORT + 1))/floor" "http://127.0.0.1:$((PORT + 1))/floor-strict"
    "http://127.0.0.1:$((PORT + 2))/floor" "http://127.0.0.1:$((PORT + 2))/floor-strict")
servers=("${PIDS[0]}" "${PIDS[1]}" "${PIDS[1]}" "${PIDS[2]}" "${PIDS[2]}")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

for round in $(seq "$ROUNDS"); do
    for step in 0 1 2 3 4; do
        i=$(((step + round) % 5))
        before=$(ticks "${servers[$i]}")
        out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" -s benches/load/cycle.lua "${urls[$i]}" -- "$WORK/tokens.txt")
        after=$(ticks "${servers[$i]}")
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
        echo "$round ${names[$i]} $rps $requests $((after - before))" >>"$WORK/results"
    done
done
python3 - "$WORK/results" "$hz" <<'PY'
import collections, statistics, sys
hz = int(sys.argv[2])
rounds = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, name, rps, requests, ticks = line.split()
    rounds[int(r)][name] = (float(rps), 1e6 * int(ticks) / hz / int(requests))
floors = ["bare-verify", "bare-strict", "stack-verify", "stack-strict"]
print("| round | informly req/s (CPU µs/req) | " + " | ".join(f"{f} req/s (CPU µs/req) | ratio" for f in floors) + " |")
print("|---|---:|" + "---:|---:|" * len(floors))
ratios = collections.defaultdict(list)
cpu = collections.defaultdict(list)
for r in sorted(rounds):
    ours = rounds[r]["informly"]
    cells = [f"{ours[0]:,.0f} ({ours[1]:.1f})"]
    for f in floors:
        rps, us = rounds[r][f]
        ratios[f].append(ours[0] / rps)
        cpu[f].append(us / ours[1])
        cells += [f"{rps:,.0f} ({us:.1f})", f"{ours[0] / rps:.2f}"]
    print(f"| {r} | " + " | ".join(cells) + " |")
print()
for f in floors:
    print(f"informly / {f}: requests/s {statistics.median(ratios[f]):.3f}x, "
          f"CPU per request {statistics.median(cpu[f]):.3f}x (medians of the per-round ratios)")
PY
