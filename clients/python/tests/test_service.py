"""Against the real service (``informly serve`` on a free port, a fresh
SQLite database): a valid token verifies; a token revoked through the API is
refused within the documented bound; tokens keep verifying while the service
is stopped; a rotated key is followed; a rolled token is refused at its
scheduled second. Needs the ``informly`` binary (see ``service.py``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Iterator

import pytest

from informly_verifier import AsyncVerifier, InvalidToken, LoadError, Verifier
from service import Service, binary

pytestmark = pytest.mark.skipif(
    binary() is None, reason="no informly binary: run `cargo build` or set INFORMLY_BIN"
)

#: docs/revocation-feed.md: a revocation reaches a follower polling every P
#: seconds within P + 6 s (plus one request, 1 s here). P = 5 s by default.
FEED_INTERVAL = 5.0
FRESHNESS_BOUND = FEED_INTERVAL + 6 + 1


class Clock:
    """The real time, plus an offset a test may set."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def set(self, unix: float) -> None:
        self.offset = unix - time.time()


@pytest.fixture()
def service() -> Iterator[Service]:
    s = Service()
    yield s
    s.close()


def eventually(check: Any, within: float, step: float = 0.1) -> float:
    """Seconds until ``check()`` is true, failing past ``within``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s")
        time.sleep(step)
    return time.monotonic() - start


def refused(verifier: Verifier, token: str, reason: str) -> bool:
    try:
        verifier.verify(token)
    except InvalidToken as e:
        assert e.reason == reason, e.reason
        return True
    return False


def test_valid_tokens_of_both_formats_verify_with_their_claims(service: Service) -> None:
    app = service.create_app("python")
    with Verifier(service.base) as verifier:
        for fmt in ("paseto", "jwt"):
            issued = service.issue(app, ["contacts:read", "coupons:validate"], fmt)
            verified = verifier.verify(issued["token"])
            assert (verified.token_id, verified.app_id, verified.format) == (issued["id"], app, fmt)
            assert verified.workspace.startswith("ws_")
            assert verified.scopes == ("contacts:read", "coupons:validate")
            assert verified.expires_at == dt.datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
            assert verified.require("contacts:read") is verified
            assert not verified.has("contacts:write")


def test_a_revoked_token_is_refused_within_the_bound_and_tokens_verify_while_the_service_is_stopped(
    service: Service,
) -> None:
    app = service.create_app("python")
    kept = service.issue(app, ["contacts:read"])
    revoked = service.issue(app, ["contacts:read"], "jwt")
    with Verifier(service.base, feed_interval=FEED_INTERVAL) as verifier:
        verifier.verify(kept["token"])
        verifier.verify(revoked["token"])
        service.api("DELETE", f"/v1/apps/{app}/tokens/{revoked['id']}", status=204)
        took = eventually(lambda: refused(verifier, revoked["token"], "revoked"), FRESHNESS_BOUND)
        print(f"revocation delay: {took:.2f} s (bound {FRESHNESS_BOUND:.0f} s)")
        verifier.verify(kept["token"])

        service.stop()
        with pytest.raises(LoadError):
            verifier.poll_revocations()
        # Within the staleness bound, the last keys and denylist answer.
        assert verifier.verify(kept["token"]).token_id == kept["id"]
        assert refused(verifier, revoked["token"], "revoked")


def test_past_the_staleness_bound_without_the_service_every_token_is_refused(service: Service) -> None:
    app = service.create_app("python")
    issued = service.issue(app, ["contacts:read"])
    clock = Clock()
    with Verifier(service.base, clock=clock) as verifier:
        verifier.verify(issued["token"])
        service.stop()
        clock.set(time.time() + 301)
        assert refused(verifier, issued["token"], "stale")


def test_a_rotated_key_is_followed_at_once(service: Service) -> None:
    app = service.create_app("python")
    before = {fmt: service.issue(app, ["contacts:read"], fmt) for fmt in ("paseto", "jwt")}
    with Verifier(service.base, key_refresh_min=1.0) as verifier:
        kids = {fmt: verifier.verify(t["token"]).kid for fmt, t in before.items()}
        service.cli("keys", "rotate", "--format", "all")

        def issued_by_a_new_key() -> bool:
            fresh = service.issue(app, ["contacts:read"], "paseto")
            return fresh["token"] and _kid_of(verifier, fresh["token"]) != kids["paseto"]

        # The service reloads its keys within 2 s; the verifier learns the
        # new key from the token naming it (one rate-limited refresh).
        time.sleep(1.1)
        eventually(issued_by_a_new_key, 10, step=0.5)
        for fmt in ("paseto", "jwt"):
            after = service.issue(app, ["contacts:read"], fmt)
            eventually(lambda: _kid_of(verifier, after["token"]) not in (None, kids[fmt]), 5, step=0.5)
            # The previous key, now retiring, still verifies.
            assert verifier.verify(before[fmt]["token"]).kid == kids[fmt]


def _kid_of(verifier: Verifier, token: str) -> Any:
    try:
        return verifier.verify(token).kid
    except InvalidToken as e:
        assert e.reason == "unknown_key", e.reason
        return None


def test_a_rolled_token_is_refused_at_its_scheduled_second_with_the_service_stopped(service: Service) -> None:
    app = service.create_app("python")
    old = service.issue(app, ["contacts:read"])
    clock = Clock()

    async def scenario() -> None:
        async with AsyncVerifier(service.base, clock=clock, staleness=3600) as verifier:
            assert (await verifier.verify(old["token"])).token_id == old["id"]
            rolled = service.api(
                "POST", f"/v1/apps/{app}/tokens/{old['id']}/roll", {"expires_in": "30d", "overlap": "10m"}, status=201
            )
            assert rolled["replaces"] == old["id"]
            records = service.api("GET", f"/v1/apps/{app}/tokens")["data"]
            record = next(r for r in records if r["id"] == old["id"])
            assert record["status"] == "rolling"
            takes_effect = dt.datetime.fromisoformat(record["revoked_at"].replace("Z", "+00:00")).timestamp()

            # Learn the schedule, then lose the service.
            await verifier.poll_revocations()
            service.stop()
            with pytest.raises(LoadError):
                await verifier.poll_revocations()

            clock.set(takes_effect - 1)
            assert (await verifier.verify(old["token"])).token_id == old["id"], "the last second"
            assert (await verifier.verify(rolled["token"])).token_id == rolled["id"]
            clock.set(takes_effect)
            with pytest.raises(InvalidToken) as e:
                await verifier.verify(old["token"])
            assert e.value.reason == "revoked", "from the scheduled second"
            assert (await verifier.verify(rolled["token"])).token_id == rolled["id"]

    asyncio.run(scenario())
