"""The verifier's own behaviour, against a fake service: key refreshes on an
unknown kid (rate-limited, one fetch for concurrent callers), cursors and the
full list every ten minutes, the background refresh and close(), and tokens
kept out of messages."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyseto import Key

from conftest import Clock, case_named, service_for
from informly_verifier import AsyncVerifier, InvalidToken, LoadError, Verifier
from informly_verifier._encoding import b64encode


def stranger_paserk_entry() -> dict[str, str]:
    """The PASERK entry of the key (seed 0x31) that signs the cases' unknown-kid token."""
    raw = Ed25519PrivateKey.from_private_bytes(bytes([0x31]) * 32).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    paserk = "k4.public." + b64encode(raw)
    return {"kid": Key.from_paserk(paserk).to_paserk_id(), "paserk": paserk, "status": "pending"}


def make(case_file: dict[str, Any], name: str = "paseto-valid", **kwargs: Any) -> tuple[Verifier, Any, Clock]:
    case = case_named(case_file, name)
    service = service_for(case_file, case)
    service.polls = service.polls * 50
    clock = Clock(case["now"])
    options: dict[str, Any] = {"background": False, **kwargs}
    verifier = Verifier("https://informly.test", clock=clock, transport=httpx.MockTransport(service.handle), **options)
    return verifier, service, clock


def test_an_unknown_kid_fetches_the_keys_at_most_once_per_interval(case_file: dict[str, Any]) -> None:
    verifier, service, _ = make(case_file)
    unknown = case_named(case_file, "paseto-unknown-kid")["token"]
    with verifier:
        assert service.count("/.well-known/paserk.json") == 1
        # Within 10 s of the start's fetch: no refetch, however many tries.
        for _ in range(20):
            with pytest.raises(InvalidToken) as e:
                verifier.verify(unknown)
            assert e.value.reason == "unknown_key"
        assert service.count("/.well-known/paserk.json") == 1


def test_a_newly_published_key_verifies_at_once_with_one_fetch_for_concurrent_callers(case_file: dict[str, Any]) -> None:
    verifier, service, _ = make(case_file, key_refresh_min=0.0)
    case = case_named(case_file, "paseto-unknown-kid")
    with verifier:
        with pytest.raises(InvalidToken):
            verifier.verify(case["token"])
        fetches = service.count("/.well-known/paserk.json")
        paserk = json.loads(service.paserk)
        paserk["keys"].append(stranger_paserk_entry())
        service.paserk = json.dumps(paserk)
        verifier._core.opts.key_refresh_min = 10.0  # one fetch for all below
        verifier._core.last_key_attempt = None
        results: list[str] = []

        def call() -> None:
            results.append(verifier.verify(case["token"]).token_id)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["tok_01J0000000000000000000000A"] * 8
        assert service.count("/.well-known/paserk.json") == fetches + 1


def test_the_feed_is_asked_with_the_last_cursor_then_for_the_full_list_after_ten_minutes(case_file: dict[str, Any]) -> None:
    verifier, service, clock = make(case_file)
    with verifier:
        start = clock.now
        feed = [r for r in service.requests if "/v1/revocations" in r]
        assert feed == ["http://x/v1/revocations"]
        # The fake answers the same full page again, which does not answer a
        # cursor: refused, and the cursor kept.
        clock.now = start + 5
        with pytest.raises(LoadError, match="another cursor"):
            verifier.poll_revocations()
        assert service.requests[-1] == "http://x/v1/revocations?since=Y3Vyc29yLTE"
        # Ten minutes after the full list: asked for again (the fake's page,
        # built at the start, has expired by then: refused, but asked).
        clock.now = start + 600
        with pytest.raises(LoadError, match="expired"):
            verifier.poll_revocations()
        assert service.requests[-1] == "http://x/v1/revocations"


def test_the_background_thread_keeps_the_feed_fresh_and_stops_at_close(case_file: dict[str, Any]) -> None:
    verifier, service, _ = make(case_file, background=True, feed_interval=0.05, key_refresh=0.05, key_refresh_min=0.0)
    try:
        time.sleep(0.5)
        polls = service.count("/v1/revocations")
        assert polls >= 3, polls
        assert service.count("/.well-known/jwks.json") >= 2
        # The page answered to a cursor is refused (the fake serves the
        # same full page): noted, never raised out of the thread.
        assert "another cursor" in (verifier.status().last_error or "")
    finally:
        verifier.close()
    after = len(service.requests)
    time.sleep(0.3)
    assert len(service.requests) == after, "no request after close()"


def test_the_async_task_keeps_polling_and_stops_at_close(case_file: dict[str, Any]) -> None:
    case = case_named(case_file, "paseto-valid")
    service = service_for(case_file, case)
    service.polls = service.polls * 50

    async def scenario() -> tuple[int, int]:
        async with AsyncVerifier(
            "https://informly.test",
            clock=Clock(case["now"]),
            transport=httpx.MockTransport(service.handle),
            feed_interval=0.05,
        ) as verifier:
            await asyncio.sleep(0.4)
            assert (await verifier.verify(case["token"])).app_id == "app_01J0000000000000000000000C"
            polls = service.count("/v1/revocations")
        await asyncio.sleep(0.2)
        return polls, service.count("/v1/revocations")

    polls, later = asyncio.run(scenario())
    assert polls >= 3
    assert later == polls


def test_a_service_that_cannot_be_reached_at_start_is_a_load_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(LoadError, match="cannot fetch https://informly.test/.well-known/paserk.json"):
        Verifier("https://informly.test", transport=httpx.MockTransport(down), background=False)


def test_a_refusal_never_carries_the_token(case_file: dict[str, Any]) -> None:
    verifier, _, _ = make(case_file)
    with verifier:
        for case in case_file["cases"]:
            if case["expect"]["outcome"] != "reject" or len(case["token"]) < 8:
                continue
            try:
                verifier.verify(case["token"])
            except InvalidToken as e:
                text = f"{e} {e!r} {e.detail} {e.description}"
                assert case["token"] not in text
                assert case["token"][-20:] not in text


def test_a_verified_token_prints_without_its_string(case_file: dict[str, Any]) -> None:
    verifier, _, _ = make(case_file)
    with verifier:
        token = case_named(case_file, "paseto-valid")["token"]
        verified = verifier.verify(token)
        assert token[-20:] not in repr(verified)
        assert verified.expires_at.isoformat() == "2027-01-15T08:59:00+00:00"


def test_credentials_in_the_url_never_show_in_errors(case_file: dict[str, Any]) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="{}")

    with pytest.raises(LoadError) as e:
        Verifier("https://user:s3cret@informly.test", transport=httpx.MockTransport(down), background=False)
    assert "s3cret" not in str(e.value)
    assert "https://informly.test/.well-known/paserk.json answered HTTP 503" in str(e.value)
