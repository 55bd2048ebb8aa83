#!/usr/bin/env python3
"""A sign-in flood against a running `informly serve --trust-forwarded-for`:
ROUNDS rounds of CONCURRENT wrong sign-ins at once, each from another client
(X-Forwarded-For) with another email, so that every one costs an Argon2
check. Prints the server's resident memory (VmRSS, VmHWM, RssAnon) before
and after, read from /proc.

    signin_flood.py BASE_URL PID [ROUNDS=4] [CONCURRENT=16]
"""
import http.cookiejar
import re
import sys
import threading
import urllib.parse
import urllib.request


def memory(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def sign_in(base, n, statuses):
    client = f"198.51.{n // 250}.{n % 250}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"X-Forwarded-For": client}
    page = opener.open(urllib.request.Request(base + "/dashboard/login", headers=headers)).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"csrf": csrf, "email": f"flood{n}@example.com", "password": "not the password at all"}
    ).encode()
    request = urllib.request.Request(base + "/dashboard/login", data=body, headers=headers)
    try:
        opener.open(request)
        statuses.append(200)
    except urllib.error.HTTPError as e:
        statuses.append(e.code)


def main():
    base, pid = sys.argv[1], int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    concurrent = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    print("before", memory(pid))
    statuses = []
    n = 0
    for _ in range(rounds):
        threads = []
        for _ in range(concurrent):
            threads.append(threading.Thread(target=sign_in, args=(base, n, statuses)))
            n += 1
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("round", memory(pid))
    print("after", memory(pid), "answers", {s: statuses.count(s) for s in set(statuses)})


main()
