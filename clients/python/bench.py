"""Figures for the Python verifier (issue 18), against the real service.

1. Verifications per second of ``Verifier.verify`` on a cached key, against
   the raw library call it wraps on the same token and key: pyseto's
   ``decode`` and PyJWT's ``decode`` with their own claim checks, and the
   signature-only calls. Timed in alternation; the ratio is the overhead of
   our rules (target: <= 1.2x).
2. The revocation delay: a token revoked through the API (at a random point
   of the poll cycle), polled with ``verify`` every 50 ms, until refused;
   against the documented bound
   (feed interval P + 6 s, plus one request: 12 s at P = 5 s).

    python3 clients/python/bench.py [--trials 5] [--seconds 2]

Needs the ``informly`` binary (``cargo build``; or ``INFORMLY_BIN``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any, Callable

import jwt
import pyseto
from pyseto import Key

sys.path.insert(0, str(Path(__file__).parent / "tests"))
from service import Service  # noqa: E402

from informly_verifier import InvalidToken, Verifier  # noqa: E402


def paired(ours: Callable[[], Any], raw: Callable[[], Any], seconds: float, rounds: int = 11) -> tuple[float, float, float]:
    """Calls per second of each, and the median ratio of their times: the two
    are timed in alternation, round after round, so a busy machine slows
    both alike."""
    number = max(1, int(seconds / rounds / 2 / max(timeit.timeit(ours, number=50) / 50, 1e-9)))
    ours_t, raw_t, ratios = [], [], []
    for _ in range(rounds):
        a = timeit.timeit(ours, number=number)
        b = timeit.timeit(raw, number=number)
        ours_t.append(a)
        raw_t.append(b)
        ratios.append(a / b)
    return number / statistics.median(ours_t), number / statistics.median(raw_t), statistics.median(ratios)


def throughput(service: Service, seconds: float) -> None:
    app = service.create_app("bench")
    paseto = service.issue(app, ["contacts:read"], "paseto")["token"]
    token_jwt = service.issue(app, ["contacts:read"], "jwt")["token"]
    paserk = service.http.get("/.well-known/paserk.json").json()
    jwks = service.http.get("/.well-known/jwks.json").json()

    # The raw calls, with the key prepared once, as a service would hold it.
    footer = json.loads(pyseto.utils.base64url_decode(paseto.split(".")[3]))
    entry = next(k for k in paserk["keys"] if k["kid"] == footer["kid"])
    paseto_key = Key.from_paserk(entry["paserk"])
    header = jwt.get_unverified_header(token_jwt)
    jwt_key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"]).key

    def raw_paseto() -> Any:
        return pyseto.decode(paseto_key, paseto, deserializer=json, aud="informly-api")

    def raw_jwt() -> Any:
        return jwt.decode(token_jwt, jwt_key, algorithms=["EdDSA"], audience="informly-api", issuer="informly")

    # The thinnest calls: the signature alone, no claims read.
    def raw_paseto_signature() -> Any:
        return pyseto.decode(paseto_key, paseto)

    jws = jwt.PyJWS()

    def raw_jwt_signature() -> Any:
        return jws.decode_complete(token_jwt, jwt_key, algorithms=["EdDSA"])

    with Verifier(service.base) as verifier:
        rows = [
            ("PASETO v4.public", "pyseto.decode (deserializer=json, aud)", lambda: verifier.verify(paseto), raw_paseto),
            ("PASETO v4.public", "pyseto.decode (signature only)", lambda: verifier.verify(paseto), raw_paseto_signature),
            ("JWT EdDSA", "jwt.decode (aud, iss)", lambda: verifier.verify(token_jwt), raw_jwt),
            ("JWT EdDSA", "PyJWS.decode_complete (signature only)", lambda: verifier.verify(token_jwt), raw_jwt_signature),
        ]
        print("| Format | Raw call | Raw / s | `Verifier.verify` / s | Time ratio, ours / raw (median of 11 paired rounds) |")
        print("|---|---|---:|---:|---:|")
        for name, raw_name, ours, raw in rows:
            ours()
            raw()
            ours_rate, raw_rate, ratio = paired(ours, raw, seconds)
            print(f"| {name} | `{raw_name}` | {raw_rate:,.0f} | {ours_rate:,.0f} | {ratio:.2f}x |")


def revocation_delay(service: Service, trials: int) -> None:
    app = service.create_app("delay")
    bound = 5 + 6 + 1
    delays = []
    with Verifier(service.base, feed_interval=5.0) as verifier:
        for _ in range(trials):
            issued = service.issue(app, ["contacts:read"])
            verifier.verify(issued["token"])
            # At a random point of the poll cycle, not just after a poll.
            time.sleep(random.uniform(0, 5))
            service.api("DELETE", f"/v1/apps/{app}/tokens/{issued['id']}", status=204)
            start = time.monotonic()
            while True:
                try:
                    verifier.verify(issued["token"])
                except InvalidToken as e:
                    assert e.reason == "revoked", e.reason
                    break
                if time.monotonic() - start > 2 * bound:
                    raise SystemExit("the revocation never arrived")
                time.sleep(0.05)
            delays.append(time.monotonic() - start)
    print(
        f"revocation delay over {trials} trials (P = 5 s): min {min(delays):.2f} s, "
        f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s; documented bound {bound} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5, help="revocation delay trials")
    parser.add_argument("--seconds", type=float, default=4.0, help="time per throughput row")
    args = parser.parse_args()
    service = Service()
    try:
        print(f"Python {sys.version.split()[0]}, pyseto {pyseto.__version__}, PyJWT {jwt.__version__}")
        throughput(service, args.seconds)
        revocation_delay(service, args.trials)
    finally:
        service.close()


if __name__ == "__main__":
    main()
