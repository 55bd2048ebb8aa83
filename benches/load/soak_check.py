#!/usr/bin/env python3
"""Replays the ledgers written by mixed.lua against a dump of the contacts
table and says, check by check, whether the database holds exactly what the
responses said it should. Used by benches/load/soak.sh.

  soak_check.py --ledger-dir DIR --db-json FILE --wrk-out FILE
                [--mode load|sigterm] [--max-unacked N]
                [--server-log FILE] [--api URL --token-file FILE]

What a request's answer commits us to:
  201 to a create      the contact exists, with the body's fields (and any later
                       acknowledged patch, below), under the id in the answer
  200 to a patch       the contact holds the patch applied on top of the above
  204 to a delete      the contact is gone
  401 to a bad token   nothing changed
A request with no answer (in flight when wrk stopped, or cut by a socket
error) is ambiguous in a load run: either outcome is allowed, but only those
two, and there may be at most --max-unacked of them. In a SIGTERM run a
request without an answer must have had no effect at all: the server promises
to finish whatever it accepted, so a write that is in the database but was
never answered is a dropped response.

Exits 1 if any check fails.
"""

import argparse
import glob
import json
import os
import re
import sys
import urllib.request

FIELDS = ("email", "first_name", "last_name", "phone", "company", "tags", "attributes")


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, detail=""):
        print(f"  {'PASS' if ok else 'FAIL'}  {what}" + (f" — {detail}" if detail else ""))
        if not ok:
            self.failed += 1
        return ok


def canonical(email):
    """The address as the server stores it: the domain in lower case (its
    IDNA form; the soak's addresses are ASCII), the local part as sent."""
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def created(body):
    b = json.loads(body)
    fields = {k: None for k in FIELDS}
    fields.update(b)
    fields["tags"] = fields["tags"] or []
    fields["attributes"] = fields["attributes"] or {}
    fields["email"] = canonical(fields["email"])
    return fields


def patched(fields, body):
    new = dict(fields)
    for k, v in json.loads(body).items():
        if k == "tags":
            v = v or []
        elif k == "attributes":
            v = v or {}
        elif k == "email":
            v = canonical(v)
        new[k] = v
    return new


def row_fields(row):
    f = {k: row[k] for k in FIELDS}
    f["tags"] = json.loads(f["tags"]) if isinstance(f["tags"], str) else f["tags"]
    f["attributes"] = (
        json.loads(f["attributes"]) if isinstance(f["attributes"], str) else f["attributes"]
    )
    return f


def diff(expected, actual):
    return ", ".join(
        f"{k}: expected {expected[k]!r}, got {actual[k]!r}" for k in FIELDS if expected[k] != actual[k]
    )


def parse_soak_line(path):
    for line in open(path):
        if line.startswith("SOAK "):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ledger-dir", required=True)
    ap.add_argument("--db-json", required=True)
    ap.add_argument("--wrk-out", required=True)
    ap.add_argument("--mode", choices=("load", "sigterm"), default="load")
    ap.add_argument("--max-unacked", type=int, default=64)
    ap.add_argument("--server-log")
    ap.add_argument("--api")
    ap.add_argument("--token-file")
    ap.add_argument("--require-no-errors", action="store_true",
                    help="also require zero wrk socket errors (load runs)")
    a = ap.parse_args()
    r = Report()
    sigterm = a.mode == "sigterm"

    # --- the ledgers -----------------------------------------------------
    sends, answers = {}, {}
    contacts = {}  # id -> {"fields", "alts", "exists": yes|no|maybe, "origin"}
    unacked_creates = {}  # lower(email) -> (tag, fields)
    statuses = {}
    unexpected = []
    duplicate_tags = 0
    ledger_files = sorted(glob.glob(os.path.join(a.ledger_dir, "ledger-*.tsv")))
    for path in ledger_files:
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "S":
                _, tag, method, cid, body = parts
                if tag in sends:
                    duplicate_tags += 1
                sends[tag] = (method, None if cid == "-" else cid, None if body == "-" else body)
                continue
            _, tag, status, cid, note = parts
            status = int(status)
            kind = tag[0]
            statuses[(kind, status)] = statuses.get((kind, status), 0) + 1
            if tag == "-" or tag not in sends:
                unexpected.append(f"an answer {status} with request id {tag!r} ({note})")
                continue
            if tag in answers:
                unexpected.append(f"a second answer to {tag}")
                continue
            answers[tag] = (status, note)
            method, sent_cid, body = sends[tag]
            want = {"c": 201, "p": 200, "d": 204, "r": 200, "l": 200, "x": 401}[kind]
            if status != want:
                unexpected.append(f"{tag} {method} answered {status}, expected {want}")
            if kind == "c" and status == 201:
                if cid == "-":
                    unexpected.append(f"{tag}: 201 without an id in the body")
                    continue
                contacts[cid] = {"fields": created(body), "alts": [], "exists": "yes", "origin": tag}
            elif kind == "c" and status >= 500:  # may or may not have been written
                f = created(body)
                unacked_creates[f["email"].lower()] = (tag, f)
            elif kind == "p":
                c = contacts[sent_cid]
                if status == 200:
                    c["fields"] = patched(c["fields"], body)
                elif status >= 500:
                    c["alts"].append(patched(c["fields"], body))
            elif kind == "d":
                c = contacts[sent_cid]
                if status == 204:
                    c["exists"] = "no"
                elif status >= 500:
                    c["exists"] = "maybe"

    # wrk 4 calls request() once on its first thread before any connection
    # opens, to see how many requests a call makes, and never sends that one:
    # the first request of thread 1, if unanswered, is that probe.
    probe = [t for t in sends if re.fullmatch(r"[a-z]1\.1", t) and t not in answers]
    unacked = [t for t in sends if t not in answers and t not in probe]
    unacked_writes = 0
    for tag in unacked:
        method, cid, body = sends[tag]
        kind = tag[0]
        if kind == "c":
            f = created(body)
            unacked_creates[f["email"].lower()] = (tag, f)
            unacked_writes += 1
        elif kind == "p":
            contacts[cid]["alts"].append(patched(contacts[cid]["fields"], body))
            contacts[cid].setdefault("unacked", tag)
            unacked_writes += 1
        elif kind == "d":
            contacts[cid]["exists"] = "maybe"
            contacts[cid].setdefault("unacked", tag)
            unacked_writes += 1

    soak = parse_soak_line(a.wrk_out) or {}
    n_answers = sum(1 for _ in answers) + sum(1 for u in unexpected if "request id" in u)
    print(f"ledger: {len(ledger_files)} threads, {len(sends)} requests written, {len(answers)} answered, "
          f"{len(unacked)} unanswered ({unacked_writes} of them writes), {len(probe)} wrk probe call")
    by_status = ", ".join(f"{k}:{s}={n}" for (k, s), n in sorted(statuses.items()))
    print(f"answers by kind:status  {by_status}")
    r.check(bool(soak), "wrk ran the script's done() (SOAK line present)")
    r.check(duplicate_tags == 0, "every request id is unique", f"{duplicate_tags} duplicates")
    r.check(soak.get("responses") == n_answers,
            "the ledgers hold every answer wrk counted",
            f"ledgers {n_answers}, wrk script {soak.get('responses')}, wrk summary {soak.get('wrk_requests')}")
    s5xx = sum(n for (k, s), n in statuses.items() if s >= 500)
    r.check(s5xx == 0, "zero 5xx", f"{s5xx} answers 5xx" if s5xx else "")
    r.check(not unexpected, "every answer has the expected status (201/200/204, 401 for bad tokens)",
            "; ".join(unexpected[:10]) + (f"; … {len(unexpected)} in all" if len(unexpected) > 10 else ""))
    r.check(soak.get("stale", 0) == 0, "every read shows the last acknowledged write",
            f"{soak.get('stale')} stale reads")
    if a.require_no_errors:
        errs = {k: soak.get(k, 0) for k in ("connect", "read", "write", "timeout")}
        r.check(sum(errs.values()) == 0, "zero socket errors (connect, read, write, timeout)",
                ", ".join(f"{k} {v}" for k, v in errs.items()))
    if not sigterm:
        r.check(len(unacked) <= a.max_unacked,
                f"unanswered requests at most one per connection ({a.max_unacked})",
                f"{len(unacked)} unanswered")

    # --- the database ----------------------------------------------------
    text = open(a.db_json).read().strip()
    rows = json.loads(text) if text else []
    rows = rows or []
    by_id = {row["id"]: row for row in rows}
    r.check(len(by_id) == len(rows), "contact ids are unique in the database")
    workspaces = {row["workspace_id"] for row in rows}
    r.check(len(workspaces) <= 1, "every contact is in the token's workspace", f"{workspaces}")

    missing, resurrected, wrong, ambiguous_present, dropped = [], [], [], 0, []
    expected_present = 0
    for cid, c in contacts.items():
        row = by_id.get(cid)
        if c["exists"] == "yes":
            expected_present += 1
            if row is None:
                missing.append(f"{cid} (created by {c['origin']})")
                continue
        elif c["exists"] == "no":
            if row is not None:
                resurrected.append(f"{cid} (created by {c['origin']})")
            continue
        elif row is None:  # an unanswered delete that was applied
            if sigterm:
                dropped.append(f"{c.get('unacked')}: deleted {cid} but never answered")
            continue
        if c["exists"] == "maybe":
            ambiguous_present += 1
        actual = row_fields(row)
        if actual == c["fields"]:
            continue
        if actual in c["alts"]:
            if sigterm and "unacked" in c:
                dropped.append(f"{c['unacked']}: patched {cid} but never answered")
            continue
        wrong.append(f"{cid} ({c['origin']}): {diff(c['fields'], actual)}")

    extra, unacked_present = [], 0
    for cid, row in by_id.items():
        if cid in contacts:
            continue
        hit = unacked_creates.get(row["email"].lower())
        if hit and row_fields(row) == hit[1]:
            unacked_present += 1
            if sigterm:
                dropped.append(f"{hit[0]}: created {cid} but never answered")
            continue
        extra.append(f"{cid} <{row['email']}> last_name={row['last_name']!r}")

    def some(items):
        return "; ".join(items[:5]) + (f"; … {len(items)} in all" if len(items) > 5 else "")

    print(f"database: {len(rows)} contacts; the answers require {expected_present} "
          f"(+{ambiguous_present} with an unanswered delete or failed write still present, "
          f"+{unacked_present} of {len(unacked_creates)} unanswered creates present)")
    r.check(not missing, "every contact whose create got 201 (and no 204 delete) is there", some(missing))
    r.check(not resurrected, "every contact whose delete got 204 is gone", some(resurrected))
    r.check(not wrong, "every contact's fields are what its acknowledged writes say", some(wrong))
    r.check(not extra, "no other contacts (none from a rejected or unknown request)", some(extra))
    r.check(len(rows) == expected_present + ambiguous_present + unacked_present,
            "the count matches",
            f"{len(rows)} rows = {expected_present} + {ambiguous_present} + {unacked_present}")
    if sigterm:
        r.check(not dropped, "no write took effect without its answer reaching the client", some(dropped))

    # --- the server's own log: every request it answered reached the client
    if a.server_log:
        served = {}
        for line in open(a.server_log):
            if "served" not in line:
                continue
            m, st = re.search(r'\bid="?([^\s}"]+)', line), re.search(r"\bstatus=(\d+)", line)
            # Only the soak's own requests (set-up calls have the server's ids).
            if m and st and re.fullmatch(r"[cprdlx]\d+\.\d+", m.group(1)):
                served[m.group(1)] = int(st.group(1))
        lost = [t for t in served if t not in answers]
        mismatched = [t for t, s in served.items() if t in answers and answers[t][0] != s]
        print(f"server log: {len(served)} requests served")
        r.check(len(served) > 0, "the server log lists the requests it served")
        r.check(not lost, "every request the server answered reached the client", some(lost))
        r.check(not mismatched, "the client saw the status the server logged", some(mismatched))
        not_served = [t for t in answers if t not in served]
        r.check(not not_served, "every answer the client saw is in the server log", some(not_served))

    # --- the same through the API, after the database checks -------------
    if a.api:
        token = open(a.token_file).readline().strip()
        ids, cursor, pages = [], None, 0
        while True:
            url = a.api + "/v1/contacts?limit=100" + (f"&cursor={cursor}" if cursor else "")
            req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
            page = json.load(urllib.request.urlopen(req))
            ids += [c["id"] for c in page["data"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        r.check(sorted(ids) == sorted(by_id),
                "the API lists exactly the contacts in the database",
                f"{len(ids)} listed in {pages} pages, {len(by_id)} in the database")

    print(f"RESULT {'PASS' if r.failed == 0 else 'FAIL'} ({r.failed} failed)")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
