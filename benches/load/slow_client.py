#!/usr/bin/env python3
"""Slow clients against a server whose header-read timeout is TIMEOUT seconds:
each must be disconnected at about TIMEOUT, and the server must keep answering
others meanwhile. Used by benches/load/soak.sh.

  slow_client.py HOST PORT TIMEOUT [CROWD]
  slow_client.py HOST PORT TIMEOUT occupy N [silent|drip|h2]

Scenarios, run at the same time:
  drip       sends a request head one byte per second, never finishing it
  silent     connects and sends nothing
  keepalive  one complete request, then the next head one byte per second
  idle       one complete request, then nothing (an idle kept-alive connection)
  h2         the HTTP/2 prior-knowledge preface, then nothing (the server
             speaks HTTP/1.1 only: refused at once, or at the latest at the
             timeout)
  crowd      CROWD (default 200) drip clients at once, while a normal client
             asks GET /health every 0.25 s and times the answers

The second form is for a server started with a connection bound of N: it
opens N connections that send nothing (or drip, or send only the HTTP/2
preface), then asks GET /health, which must be answered once the header-read
timeout has freed a slot, i.e. within TIMEOUT + 2 s.

Prints PASS/FAIL per check; exits 1 if any fails.
"""

import select
import socket
import sys
import threading
import time

HEAD = b"GET /health HTTP/1.1\r\nHost: soak\r\nUser-Agent: slow-client\r\nX-Padding: " + b"a" * 64


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def hold(host, port, limit, first=b"", drip=True, raw=b""):
    """Connects, sends `first` whole, then HEAD a byte per second (if drip).
    Returns (seconds from the end of `first` until the server closed, how, bytes
    received after `first`'s answer) or (None, 'open', …) if still open at limit."""
    s = socket.create_connection((host, port))
    got = b""
    if first:
        s.sendall(first)
        # Read the whole answer to the complete request first.
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        head, _, rest = got.partition(b"\r\n\r\n")
        length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        while len(rest) < length:
            rest += s.recv(65536)
    if raw:
        s.sendall(raw)
    start = time.monotonic()
    after = b""
    i = 0
    while time.monotonic() - start < limit:
        if drip and i < len(HEAD):
            try:
                s.send(HEAD[i : i + 1])
            except OSError as e:
                return time.monotonic() - start, f"send failed: {e.__class__.__name__}", after
            i += 1
        ready, _, _ = select.select([s], [], [], 1.0)
        if ready:
            try:
                data = s.recv(65536)
            except OSError as e:
                return time.monotonic() - start, f"recv: {e.__class__.__name__}", after
            if not data:
                return time.monotonic() - start, "closed", after
            after += data
    s.close()
    return None, "open", after


def occupy(host, port, timeout, n, how):
    limit = 3 * timeout + 5
    held = []
    for _ in range(n):
        s = socket.create_connection((host, port))
        if how == "h2":
            s.sendall(H2_PREFACE)
        elif how == "drip":
            s.sendall(HEAD[:1])
        held.append(s)
    time.sleep(0.2)
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=limit) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        waited, line = time.monotonic() - t0, data.split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError as e:
        waited, line = time.monotonic() - t0, repr(e)
    for s in held:
        s.close()
    ok = line.startswith("HTTP/1.1 200") and waited <= timeout + 2
    print(f"  {'PASS' if ok else 'FAIL'}  with all {n} connection slots taken by {how} clients, "
          f"a new client is served once the header-read timeout frees one — "
          f"{line!r} after {waited:.2f}s")
    print(f"SLOTS {how} {n}: a new client waited {waited:.2f}s ({line})")
    return 0 if ok else 1


def main():
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    if len(sys.argv) > 4 and sys.argv[4] == "occupy":
        how = sys.argv[6] if len(sys.argv) > 6 else "silent"
        return occupy(host, port, timeout, int(sys.argv[5]), how)
    crowd = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    limit = 3 * timeout + 5
    lo, hi = timeout - 0.5, timeout + 2.0
    results = {}
    probe = []

    def run(name, **kw):
        results[name] = hold(host, port, limit, **kw)

    threads = [
        threading.Thread(target=run, args=("drip",)),
        threading.Thread(target=run, args=("silent",), kwargs={"drip": False}),
        threading.Thread(
            target=run,
            args=("keepalive",),
            kwargs={"first": b"GET /health HTTP/1.1\r\nHost: soak\r\n\r\n"},
        ),
        threading.Thread(
            target=run,
            args=("idle",),
            kwargs={"first": b"GET /health HTTP/1.1\r\nHost: soak\r\n\r\n", "drip": False},
        ),
        threading.Thread(target=run, args=("h2",), kwargs={"raw": H2_PREFACE, "drip": False}),
    ]
    threads += [threading.Thread(target=run, args=(f"crowd{i}",)) for i in range(crowd)]
    stop = threading.Event()

    def prober():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                with socket.create_connection((host, port), timeout=5) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                probe.append((time.monotonic() - t0, data.split(b"\r\n", 1)[0]))
            except OSError as e:
                probe.append((time.monotonic() - t0, repr(e).encode()))
            time.sleep(0.25)

    p = threading.Thread(target=prober)
    p.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    p.join()

    failed = 0

    def check(ok, what, detail):
        nonlocal failed
        print(f"  {'PASS' if ok else 'FAIL'}  {what} — {detail}")
        failed += not ok

    def describe(name):
        secs, how, after = results[name]
        first_line = after.split(b"\r\n", 1)[0].decode(errors="replace")
        answer = f", answered {first_line!r}" if after else ""
        return secs, (f"{how} after {secs:.2f}s{answer}" if secs is not None else f"still open after {limit:.0f}s")

    for name, what in (
        ("drip", "a head sent one byte per second is cut off at the header-read timeout"),
        ("silent", "a connection that sends nothing is closed at the header-read timeout"),
        ("keepalive", "a kept-alive connection dripping its next head is cut off at the timeout"),
        ("idle", "an idle kept-alive connection is closed at the timeout"),
        ("h2", "an HTTP/2 connection that sends only the preface is closed by the timeout"),
    ):
        secs, text = describe(name)
        earliest = 0 if name == "h2" else lo
        check(secs is not None and earliest <= secs <= hi, what, text)
    times = [results[f"crowd{i}"][0] for i in range(crowd)]
    closed = [t for t in times if t is not None]
    check(
        len(closed) == crowd and all(lo <= t <= hi for t in closed),
        f"{crowd} dripping clients at once are all cut off at the timeout",
        f"{len(closed)} closed, between {min(closed, default=0):.2f}s and {max(closed, default=0):.2f}s",
    )
    ok = [lat for lat, line in probe if line.startswith(b"HTTP/1.1 200")]
    check(
        len(ok) == len(probe) and ok and max(ok) < 1.0,
        "GET /health keeps answering meanwhile",
        f"{len(ok)}/{len(probe)} answered 200, slowest {max(ok, default=0) * 1000:.1f} ms",
    )
    fmt = lambda t: "open" if t is None else f"{t:.2f}"
    print(f"SLOW drip {fmt(results['drip'][0])}, silent {fmt(results['silent'][0])}, "
          f"keep-alive drip {fmt(results['keepalive'][0])}, keep-alive idle {fmt(results['idle'][0])}, "
          f"h2 preface {fmt(results['h2'][0])}, crowd of {crowd} max {fmt(max(closed, default=None))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
