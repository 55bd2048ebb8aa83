#!/usr/bin/env bash
# The soak: the release server under mixed Contacts traffic (wrk, mixed.lua),
# with the database checked afterwards against what the responses promised.
#
#   benches/load/soak.sh                              # both backends, every phase
#   BACKEND=sqlite DURATION=10s benches/load/soak.sh  # a short run on one backend
#   PHASES="load sigterm" BACKEND=postgres benches/load/soak.sh
#
# Phases (PHASES, default all, in this order), each on a fresh database:
#   load     DURATION (60s) at CONNECTIONS (64) of mixed traffic: creates, reads,
#            lists, patches, deletes with valid tokens, a quarter bad tokens.
#            Zero 5xx, zero socket errors, and the database holds exactly the
#            contacts the 201/200/204 answers say, field by field.
#   sigterm  the same traffic; SIGTERM to the server SIGTERM_AFTER (10) s in. The
#            server exits 0; every request it answered reached the client; no
#            unanswered write took effect; after a restart every 2xx write is there.
#            What this proves: for writes, exactly "nothing accepted was dropped"
#            (a create, patch or delete that took effect but was never answered
#            would show in the database). For reads and rejected requests it rests
#            on the server's log (INFORMLY_LOG=info): every request logged as
#            served was answered to the client, and the shutdown did not hit its
#            grace limit (the only path on which the server drops requests on
#            purpose). A request the server read but dropped before producing a
#            response, with no effect, would be invisible here. After the
#            listener closes, wrk's new connections fail (counted as socket
#            errors); those requests were never accepted.
#   kill9    the same traffic; SIGKILL to the server KILL_AFTER (10) s in, so
#            nothing is finished or flushed. After a restart every write that
#            was answered 2xx is there, field by field (group commit answers
#            only after the commit is on disk); a write in flight when the
#            server died may have happened or not, but nothing else.
#   abuse    database work per rejected request: FLOOD (10) s of bad tokens only,
#            beside an idle window and a window of valid reads (list) of the same length
#            (PostgreSQL: transactions and tuples from pg_stat_database; SQLite:
#            the server's database-file system calls, counted by strace).
#   slow     slow clients against HEADER_TIMEOUT (3) s header-read timeout
#            (slow_client.py): cut off at the timeout; the server answers others;
#            with --max-connections SLOW_SLOTS (32), slow clients holding every
#            slot do not lock others out for longer than the timeout.
#   rss      RSS_DURATION (20s) of the mixed traffic at each of RSS_CONNECTIONS
#            ("64 1024"): peak RSS, throughput, latency, errors.
#
# Settings: BACKEND=sqlite|postgres|both (both), DURATION, CONNECTIONS, THREADS (2),
# MIX (weights, see mixed.lua), SOAK_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres;
# the user must be able to create databases), PORT (18710), INFORMLY_BIN (a server
# binary to use instead of building target/release/informly), KEEP=1
# (keep the work directory; it is kept anyway when a check fails).
#
# Needs wrk, curl, python3, sqlite3, psql and (for the SQLite abuse phase) strace.
# Prints PASS/FAIL per check and a summary table; exits 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=benches/load

BACKEND=${BACKEND:-both}
DURATION=${DURATION:-60s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PHASES=${PHASES:-load sigterm kill9 abuse slow rss}
MIX=${MIX:-create=20,read=20,list=5,patch=20,delete=10,invalid=25}
SIGTERM_AFTER=${SIGTERM_AFTER:-10}
KILL_AFTER=${KILL_AFTER:-10}
FLOOD=${FLOOD:-10}
HEADER_TIMEOUT=${HEADER_TIMEOUT:-3}
SLOW_CROWD=${SLOW_CROWD:-200}
SLOW_SLOTS=${SLOW_SLOTS:-32}
RSS_DURATION=${RSS_DURATION:-20s}
RSS_CONNECTIONS=${RSS_CONNECTIONS:-64 1024}
PG=${SOAK_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${PORT:-18710}
API="http://127.0.0.1:$PORT"

case $BACKEND in
    both) BACKENDS=(sqlite postgres) ;;
    sqlite | postgres) BACKENDS=("$BACKEND") ;;
    *) echo "BACKEND must be sqlite, postgres or both" >&2; exit 2 ;;
esac
needs=(wrk curl python3)
[[ $BACKEND != postgres ]] && needs+=(sqlite3) && [[ " $PHASES " == *" abuse "* ]] && needs+=(strace)
[[ $BACKEND != sqlite ]] && needs+=(psql)
for tool in "${needs[@]}"; do
    command -v "$tool" >/dev/null || { echo "soak.sh needs $tool (wrk, sqlite3, strace: apt-get install; psql: postgresql-client)" >&2; exit 2; }
done

if [[ -n ${INFORMLY_BIN:-} ]]; then
    BIN=$INFORMLY_BIN
else
    cargo build --release --quiet --bin informly
    BIN=$PWD/target/release/informly
fi

# 1024 connections need as many descriptors in wrk and in the server.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then ulimit -n 65536; else ulimit -n "$hard"; fi

WORK=$(mktemp -d /tmp/informly-soak.XXXXXX)
mkdir -m 700 "$WORK/keys" "$WORK/foreign-keys"
SUMMARY=$WORK/summary.md
FAILURES=()
PG_DATABASES=()
SERVER= SERVER_PARENT=
cleanup() {
    if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    for db in "${PG_DATABASES[@]}"; do
        psql "$PG" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
    done
    if [[ ${KEEP:-0} == 1 || ${#FAILURES[@]} -gt 0 ]]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

export INFORMLY_KEYS_DIR=$WORK/keys

say() { printf '\n== %s\n' "$*"; }
fail() { FAILURES+=("$*"); echo "  FAIL  $*"; }
pass() { echo "  PASS  $*"; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
now() { date +%s.%N; }

# new_db NAME: a fresh database for the backend in $B; sets DB_URL.
new_db() {
    if [[ $B == sqlite ]]; then
        DB_URL="sqlite://$WORK/$1.db"
    else
        local db="informly_soak_${1}_$$"
        psql "$PG" -q -c "set client_min_messages = warning" -c "drop database if exists $db with (force)" \
            -c "create database $db" >/dev/null
        PG_DATABASES+=("$db")
        DB_URL="${PG%/*}/$db"
    fi
    export INFORMLY_DATABASE_URL=$DB_URL
}

# dump_contacts FILE: the contacts table as a JSON array, read from the database itself.
dump_contacts() {
    local cols="id, workspace_id, email, first_name, last_name, phone, company, tags, attributes, created_at, updated_at"
    if [[ $B == sqlite ]]; then
        sqlite3 -json "${DB_URL#sqlite://}" "select $cols from contacts order by id" >"$1"
    else
        psql "$DB_URL" -At -c "select coalesce(json_agg(c order by c.id), '[]') from (select $cols from contacts) c" >"$1"
    fi
}

# start_server LOG [VAR=VALUE...]: serve in the background; sets SERVER.
start_server() {
    local log=$1; shift
    env INFORMLY_LOG=warn "$@" "$BIN" serve --listen "127.0.0.1:$PORT" 2>"$log" &
    SERVER=$!
    wait_ready "$log"
}
wait_ready() {
    local i
    for i in $(seq 1 600); do
        if curl -sf -o /dev/null "$API/ready"; then return 0; fi
        if ! kill -0 "$SERVER" 2>/dev/null; then
            echo "the server died at start:" >&2; cat "$1" >&2; exit 1
        fi
        sleep 0.05
    done
    echo "the server is not ready after 30 s" >&2; exit 1
}
# stop_server: SIGTERM and wait; sets SERVER_RC.
stop_server() {
    kill -TERM "$SERVER"
    SERVER_RC=0
    wait "${SERVER_PARENT:-$SERVER}" || SERVER_RC=$?
    SERVER= SERVER_PARENT=
}

# Tokens signed by keys the server has never seen (an unknown kid), made once.
foreign_tokens() {
    local url="sqlite://$WORK/foreign.db" app
    mkdir -p -m 700 "$WORK/foreign-keys"
    INFORMLY_KEYS_DIR=$WORK/foreign-keys INFORMLY_DATABASE_URL=$url "$BIN" migrate >/dev/null
    app=$(INFORMLY_KEYS_DIR=$WORK/foreign-keys INFORMLY_DATABASE_URL=$url "$BIN" apps create --name foreign --json 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    for format in paseto jwt; do
        INFORMLY_KEYS_DIR=$WORK/foreign-keys INFORMLY_DATABASE_URL=$url "$BIN" tokens issue --app "$app" \
            --scope contacts:read,contacts:write,contacts:delete --expires-in 2h --format "$format" 2>/dev/null
    done
    INFORMLY_KEYS_DIR=$WORK/foreign-keys INFORMLY_DATABASE_URL=$url "$BIN" admin-token 2>/dev/null
}

# setup_tokens DIR: an app with two tokens (PASETO, JWT) holding every contacts
# scope in DIR/tokens.txt, and DIR/bad.txt: tokens the server must refuse.
setup_tokens() {
    local dir=$1 admin
    mkdir -p "$dir"
    admin=$("$BIN" admin-token --expires-in 2h 2>/dev/null)
    python3 - "$API" "$admin" "$dir" "$WORK/foreign.txt" <<'PY'
import base64, json, sys, urllib.request
api, admin, out, foreign = sys.argv[1:5]
def call(method, path, body=None, token=admin):
    req = urllib.request.Request(api + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None
app = call("POST", "/v1/apps", {"name": "soak"})["id"]
scopes = ["contacts:read", "contacts:write", "contacts:delete"]
issue = lambda fmt: call("POST", f"/v1/apps/{app}/tokens", {"scopes": scopes, "expires_in": "2h", "format": fmt})
good = [issue("paseto")["token"], issue("jwt")["token"]]
open(out + "/tokens.txt", "w").write("\n".join(good) + "\n")

bad = []
# Bad signatures: one base64url character of the signature changed (never the
# last one, whose spare bits would make a non-canonical token instead).
for token in good:
    if token.startswith("v4."):  # v4.public.<payload ‖ 64-byte signature>.<footer>
        end = token.rindex(".")
        positions = range(end - 84, end - 1)
    else:  # header.claims.signature
        positions = range(token.rindex(".") + 1, len(token) - 1)
    for i in list(positions)[::2][:40]:
        bad.append(token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:])
# Tampered claims with the original signature.
for token in good:
    if token.startswith("eyJ"):
        h, c, s = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
        claims["scope"] = "contacts:read contacts:write contacts:delete surveys:read"
        c2 = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
        bad.append(f"{h}.{c2}.{s}")
# A revoked token.
revoked = issue("paseto")
call("DELETE", f"/v1/apps/{app}/tokens/{revoked['id']}")
bad.append(revoked["token"])
# Unknown keys (another installation's), and garbage.
bad += [l.strip() for l in open(foreign) if l.strip()]
bad += ["garbage", "v4.public.AAAA", "v4.local.AAAA.AAAA", "eyJhbGciOiJub25lIn0.e30.",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "A" * 4000, "x" * 9000]
for t in bad:
    req = urllib.request.Request(api + "/v1/token", headers={"Authorization": "Bearer " + t})
    try:
        urllib.request.urlopen(req)
        sys.exit(f"a token meant to be bad was accepted: {t[:40]}…")
    except urllib.error.HTTPError as e:
        if e.code != 401:
            sys.exit(f"a bad token got {e.code}, not 401: {t[:40]}…")
open(out + "/bad.txt", "w").write("\n".join(bad) + "\n")
PY
}

# run_wrk NAME CONNECTIONS DURATION MIX [wrk options]: mixed traffic with a
# ledger in $WORK/NAME/; output in $WORK/NAME/wrk.txt; sets RPS P50 P99 SOAK.
run_wrk() {
    local name=$1 conns=$2 duration=$3 mix=$4; shift 4
    local dir=$WORK/$name
    mkdir -p "$dir/ledger"
    wrk -t "$THREADS" -c "$conns" -d "$duration" --timeout 10s --latency "$@" \
        -s "$HERE/mixed.lua" "$API" -- "$dir/ledger" "$dir/tokens.txt" "$dir/bad.txt" "$mix" \
        >"$dir/wrk.txt" 2>&1 || true
    parse_wrk "$dir/wrk.txt"
}
parse_wrk() {
    RPS=$(awk '/^Requests\/sec/ {print $2}' "$1")
    P50=$(awk '$1 == "50%" {print $2}' "$1")
    P99=$(awk '$1 == "99%" {print $2}' "$1")
    SOAK=$(grep '^SOAK ' "$1" || true)
}
soak_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$SOAK"; }
socket_errors() {
    echo "connect $(soak_field connect), read $(soak_field read), write $(soak_field write), timeout $(soak_field timeout)"
}

row() { echo "| $* |" >>"$SUMMARY"; }

check_db() { # NAME MODE [extra soak_check.py options]: dump, then replay the ledger
    local name=$1 mode=$2; shift 2
    dump_contacts "$WORK/$name/contacts.json"
    if python3 "$HERE/soak_check.py" --ledger-dir "$WORK/$name/ledger" --db-json "$WORK/$name/contacts.json" \
        --wrk-out "$WORK/$name/wrk.txt" --mode "$mode" "$@" | tee "$WORK/$name/check.txt"; then
        return 0
    fi
    fail "$B $name: the database check (see above)"
    return 1
}

phase_load() {
    say "$B: $DURATION of mixed traffic at $CONNECTIONS connections"
    new_db load
    start_server "$WORK/load.$B.log"
    setup_tokens "$WORK/load.$B"
    run_wrk "load.$B" "$CONNECTIONS" "$DURATION" "$MIX"
    local hwm
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status")
    sed -n '/Thread Stats/,/Requests\/sec/p' "$WORK/load.$B/wrk.txt"
    echo "$SOAK"
    sleep 1 # let the server finish what wrk left in flight
    local result=PASS
    check_db "load.$B" load --require-no-errors --max-unacked "$CONNECTIONS" \
        --api "$API" --token-file "$WORK/load.$B/tokens.txt" || result=FAIL
    stop_server
    if [[ $SERVER_RC == 0 ]]; then pass "the server exits 0 on SIGTERM"; else fail "$B load: server exit $SERVER_RC"; result=FAIL; fi
    if grep -qiE 'panic|ERROR' "$WORK/load.$B.log"; then
        fail "$B load: errors in the server log"; grep -iE 'panic|ERROR' "$WORK/load.$B.log" | head -5; result=FAIL
    fi
    row "$B | load, $CONNECTIONS conns, $DURATION | $RPS | $P50 | $P99 | $(soak_field responses) answers: $(soak_field ok2xx) 2xx, $(soak_field expected401) 401, $(soak_field s5xx) 5xx; $(grep -o '[0-9]* contacts;' "$WORK/load.$B/check.txt" | head -1) checked | $(socket_errors) | $(kib_to_mib "$hwm") MiB | $result"
}

phase_sigterm() {
    say "$B: SIGTERM ${SIGTERM_AFTER}s into mixed traffic at $CONNECTIONS connections"
    new_db sigterm
    local name="sigterm.$B" log="$WORK/sigterm.$B.log"
    # Logging at info: each answered request is logged with its request id.
    start_server "$log" INFORMLY_LOG=info
    setup_tokens "$WORK/$name"
    mkdir -p "$WORK/$name/ledger"
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "$((SIGTERM_AFTER + 60))s" --timeout 10s --latency \
        -s "$HERE/mixed.lua" "$API" -- "$WORK/$name/ledger" "$WORK/$name/tokens.txt" "$WORK/$name/bad.txt" "$MIX" \
        >"$WORK/$name/wrk.txt" 2>&1 &
    local wrk_pid=$! t0 t1 result=PASS
    sleep "$SIGTERM_AFTER"
    t0=$(now)
    stop_server
    t1=$(now)
    sleep 1 # wrk keeps reading: anything the server still sent arrives
    kill -INT "$wrk_pid"
    wait "$wrk_pid" || true
    parse_wrk "$WORK/$name/wrk.txt"
    echo "$SOAK"
    local drain
    drain=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [[ $SERVER_RC == 0 ]]; then pass "the server exits 0 on SIGTERM under load (after ${drain}s)"
    else fail "$B sigterm: server exit $SERVER_RC after ${drain}s"; result=FAIL; fi
    if grep -q 'still in flight' "$log"; then fail "$B sigterm: requests cut at the grace limit"; result=FAIL
    else pass "no request was cut at the shutdown grace limit"; fi
    if grep -q 'stopped' "$log"; then pass "the server logged its orderly stop"; else fail "$B sigterm: no 'stopped' in the log"; result=FAIL; fi
    local after
    after=$(awk '/shutting down/ {on = 1; next} on && /served/ {n++} END {print n + 0}' "$log")
    echo "  requests answered after SIGTERM arrived: $after"
    # A restart on the same database: everything acknowledged must be there.
    start_server "$WORK/sigterm-restart.$B.log"
    check_db "$name" sigterm --server-log "$log" --api "$API" --token-file "$WORK/$name/tokens.txt" || result=FAIL
    stop_server
    row "$B | SIGTERM after ${SIGTERM_AFTER}s, $CONNECTIONS conns | $RPS | $P50 | $P99 | $(soak_field responses) answers: $(soak_field ok2xx) 2xx, $(soak_field s5xx) 5xx; exit $SERVER_RC after ${drain}s; $after answered after SIGTERM; $(grep -o '[0-9]* contacts;' "$WORK/$name/check.txt" | head -1) checked after restart | $(socket_errors) (after the listener closed) | | $result"
}

phase_kill9() {
    say "$B: kill -9 ${KILL_AFTER}s into mixed traffic at $CONNECTIONS connections"
    new_db kill9
    local name="kill9.$B" result=PASS
    start_server "$WORK/kill9.$B.log"
    setup_tokens "$WORK/$name"
    mkdir -p "$WORK/$name/ledger"
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "$((KILL_AFTER + 60))s" --timeout 10s --latency \
        -s "$HERE/mixed.lua" "$API" -- "$WORK/$name/ledger" "$WORK/$name/tokens.txt" "$WORK/$name/bad.txt" "$MIX" \
        >"$WORK/$name/wrk.txt" 2>&1 &
    local wrk_pid=$!
    sleep "$KILL_AFTER"
    kill -KILL "$SERVER"
    kill -INT "$wrk_pid"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
    wait "$wrk_pid" || true
    parse_wrk "$WORK/$name/wrk.txt"
    echo "$SOAK"
    # A restart on the same database: every acknowledged write must be there.
    start_server "$WORK/kill9-restart.$B.log"
    # Between the kill and wrk's stop, wrk reconnects and writes requests
    # that fail at the socket (refused or reset): unanswered, but never
    # received, so the bound of one unanswered request per connection does
    # not hold here. Each of them is still checked: it had no effect, or,
    # for the ones in flight at the kill, either outcome.
    check_db "$name" load --max-unacked 1000000 \
        --api "$API" --token-file "$WORK/$name/tokens.txt" || result=FAIL
    stop_server
    row "$B | kill -9 after ${KILL_AFTER}s, $CONNECTIONS conns | $RPS | $P50 | $P99 | $(soak_field responses) answers: $(soak_field ok2xx) 2xx, $(soak_field s5xx) 5xx; $(grep -o '[0-9]* contacts;' "$WORK/$name/check.txt" | head -1) checked after restart | $(socket_errors) (after the kill) | | $result"
}

# db_work: a counter of database work, for the abuse phase.
db_work() {
    if [[ $B == postgres ]]; then
        psql "$PG" -At -F ' ' -c "select xact_commit + xact_rollback, tup_returned + tup_fetched from pg_stat_database where datname = '${DB_URL##*/}'"
    fi
}

phase_abuse() {
    say "$B: database work per rejected request ($FLOOD s windows)"
    new_db abuse
    local name="abuse.$B" log="$WORK/abuse.$B.log" trace="$WORK/abuse.$B.strace"
    # The periodic denylist refresh set long, so background work does not
    # blur the count (the prune, 60 s after start, falls after the bad-token
    # and idle windows, which come first).
    local env=(INFORMLY_LOG=warn INFORMLY_DENYLIST_REFRESH=1h)
    if [[ $B == sqlite ]]; then
        # Only the calls that touch the database files stop the server (seccomp).
        env "${env[@]}" strace -f --seccomp-bpf -qq -ttt \
            -e trace=pread64,pwrite64,fcntl,fsync,fdatasync -o "$trace" \
            "$BIN" serve --listen "127.0.0.1:$PORT" 2>"$log" &
        local tracer=$!
        SERVER=$tracer
        wait_ready "$log"
        SERVER=$(pgrep -P "$tracer") SERVER_PARENT=$tracer
    else
        start_server "$log" "${env[@]}"
    fi
    setup_tokens "$WORK/$name"
    # PostgreSQL backends publish their statistics when idle at most every
    # 10 s (PGSTAT_IDLE_INTERVAL), so each window ends 11 s after its traffic;
    # strace's timestamps need no such wait.
    local settle=1
    if [[ $B == postgres ]]; then settle=11; fi
    local marks=() counters=()
    mark() { marks+=("$(now)"); counters+=("$(db_work)"); }
    mkdir -p "$WORK/$name.bad" "$WORK/$name.good"
    cp "$WORK/$name/tokens.txt" "$WORK/$name/bad.txt" "$WORK/$name.bad/"
    cp "$WORK/$name/tokens.txt" "$WORK/$name/bad.txt" "$WORK/$name.good/"
    sleep "$settle"
    mark                           # bad tokens only
    run_wrk "$name.bad" "$CONNECTIONS" "${FLOOD}s" "invalid=100"
    local bad_n=$(soak_field responses) bad_401=$(soak_field expected401) bad_rps=$RPS
    sleep "$settle"
    mark                           # idle, as long as the flood window
    sleep "$(awk -v a="${marks[0]}" -v b="${marks[1]}" 'BEGIN { printf "%.2f", b - a }')"
    mark                           # valid reads: the method does see database work
    run_wrk "$name.good" "$CONNECTIONS" "${FLOOD}s" "list=100"
    local good_n=$(soak_field responses) good_rps=$RPS
    sleep "$settle"
    mark
    stop_server
    if [[ $B == sqlite ]]; then
        sleep 0.5
        local i; counters=()
        for i in 0 1 2 3; do
            counters+=("$(awk -v t="${marks[$i]}" '$2 + 0 <= t' "$trace" | wc -l)")
        done
    fi
    python3 - "$B" "$bad_n" "$bad_401" "$good_n" "${counters[@]}" <<'PY' | tee "$WORK/$name.txt"
import sys
backend, bad_n, bad_401, good_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = [list(map(int, s.split())) for s in sys.argv[5:9]]
d = [[b - a for a, b in zip(c[i], c[i + 1])] for i in range(3)]
names = ["transactions", "tuples read"] if backend == "postgres" else ["database-file syscalls"]
for j, what in enumerate(names):
    bad, idle, good = d[0][j], d[1][j], d[2][j]
    print(f"  {what}: idle window {idle}, bad-token window {bad}, valid-read window {good}")
    print(f"  ABUSE {what}: per rejected request {(bad - idle) / bad_n:.4f}"
          f" ({bad - idle} over {bad_n} requests, {bad_401} of them 401); per valid read {(good - idle) / good_n:.3f}")
PY
    local extra
    extra=$(python3 - "$B" "${counters[@]}" <<'PY'
import sys
c = [int(s.split()[0]) for s in sys.argv[2:6]]
print((c[1] - c[0]) - (c[2] - c[1]))
PY
)
    local result=PASS
    if [[ $bad_401 == "$bad_n" && $bad_n -gt 0 ]]; then pass "every bad-token request answered 401 ($bad_n)"; else fail "$B abuse: $bad_401 of $bad_n answered 401"; result=FAIL; fi
    if [[ $extra -le 0 ]]; then pass "no database work for $bad_n rejected requests"; else fail "$B abuse: $extra more units of database work in the flood window than idle"; result=FAIL; fi
    local per
    per=$(grep -m1 -o 'per rejected request [-0-9.]*' "$WORK/$name.txt" | awk '{print $4}')
    local ctl
    ctl=$(grep -m1 -o 'per valid read [-0-9.]*' "$WORK/$name.txt" | awk '{print $4}')
    row "$B | abuse: $FLOOD s of bad tokens, $CONNECTIONS conns | $bad_rps | | | $bad_n rejected: $per $( [[ $B == postgres ]] && echo transactions || echo db-file syscalls ) per request (valid reads: $ctl at $good_rps req/s) | | | $result"
}

phase_slow() {
    say "$B: slow clients, header-read timeout ${HEADER_TIMEOUT}s"
    new_db slow
    start_server "$WORK/slow.$B.log" INFORMLY_HEADER_READ_TIMEOUT="${HEADER_TIMEOUT}s"
    local result=PASS line how slots=""
    python3 "$HERE/slow_client.py" 127.0.0.1 "$PORT" "$HEADER_TIMEOUT" "$SLOW_CROWD" | tee "$WORK/slow.$B.txt" ||
        { fail "$B slow: see above"; result=FAIL; }
    stop_server
    line=$(grep '^SLOW' "$WORK/slow.$B.txt" | cut -d' ' -f2-)
    # With a connection bound, slow clients must not be able to take every slot.
    if "$BIN" serve --help | grep -q -- --max-connections; then
        for how in silent drip h2; do
            start_server "$WORK/slots.$B.log" INFORMLY_HEADER_READ_TIMEOUT="${HEADER_TIMEOUT}s" \
                INFORMLY_MAX_CONNECTIONS="$SLOW_SLOTS"
            python3 "$HERE/slow_client.py" 127.0.0.1 "$PORT" "$HEADER_TIMEOUT" occupy "$SLOW_SLOTS" "$how" |
                tee -a "$WORK/slots.$B.txt" || { fail "$B slow: $how clients hold every connection slot"; result=FAIL; }
            stop_server
        done
        slots="; all $SLOW_SLOTS slots (--max-connections) taken, a new client waited: $(
            sed -n 's/^SLOTS \([a-z0-9]*\) [0-9]*: a new client waited \([0-9.]*s\).*/\1 \2/p' "$WORK/slots.$B.txt" | paste -sd, | sed 's/,/, /g')"
    fi
    row "$B | slow clients, ${HEADER_TIMEOUT}s header-read timeout | | | | closed after (s; open = still open after $((3 * HEADER_TIMEOUT + 5))s): $line$slots | | | $result"
}

phase_rss() {
    local c
    for c in $RSS_CONNECTIONS; do
        say "$B: $RSS_DURATION of mixed traffic at $c connections, RSS sampled"
        new_db "rss$c"
        start_server "$WORK/rss$c.$B.log"
        setup_tokens "$WORK/rss$c.$B"
        local idle peak=0 sampler
        idle=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status")
        (while kill -0 "$SERVER" 2>/dev/null; do
            awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null; sleep 0.2
        done) >"$WORK/rss$c.$B.samples" &
        sampler=$!
        run_wrk "rss$c.$B" "$c" "$RSS_DURATION" "$MIX"
        local hwm
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status")
        kill "$sampler" 2>/dev/null || true
        peak=$(sort -n "$WORK/rss$c.$B.samples" | tail -1)
        echo "$SOAK"
        echo "  RSS idle $(kib_to_mib "$idle") MiB, peak sampled $(kib_to_mib "$peak") MiB, VmHWM $(kib_to_mib "$hwm") MiB"
        sleep 1
        local result=PASS
        check_db "rss$c.$B" load --max-unacked "$c" || result=FAIL
        stop_server
        row "$B | RSS, $c conns, $RSS_DURATION | $RPS | $P50 | $P99 | $(soak_field responses) answers: $(soak_field ok2xx) 2xx, $(soak_field expected401) 401, $(soak_field s5xx) 5xx | $(socket_errors) | $(kib_to_mib "$hwm") MiB (idle $(kib_to_mib "$idle")) | $result"
    done
}

echo "| Backend | Run | Requests/s | p50 | p99 | Answers and checks | Socket errors | Peak RSS | Result |" >"$SUMMARY"
echo "| --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- |" >>"$SUMMARY"
foreign_tokens >"$WORK/foreign.txt"
for B in "${BACKENDS[@]}"; do
    for phase in $PHASES; do
        "phase_$phase"
    done
done

say "summary (wrk $THREADS threads; release build; $(nproc) cores)"
cat "$SUMMARY"
if [[ ${#FAILURES[@]} -gt 0 ]]; then
    echo
    echo "FAILED:"
    printf '  %s\n' "${FAILURES[@]}"
    exit 1
fi
echo
echo "every check passed"
