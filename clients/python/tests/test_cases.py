"""Every case of testdata/verifier-cases.json (the cases the Rust and
TypeScript verifiers run too) through Verifier and AsyncVerifier: the case's
documents served by a fake service, the clock moved to each poll's time and
then to the case's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import CASES, Clock, FakeService
from informly_verifier import AsyncVerifier, InvalidToken, LoadError, Verifier

with open(CASES, encoding="utf-8") as _f:
    _FILE = json.load(_f)
_CASES = _FILE["cases"]


def _service(case: dict[str, Any]) -> FakeService:
    keys = _FILE["keys"][case["keys"]]
    polls = [(p["status"], p["body"]) for p in case["polls"]]
    return FakeService(keys["paserk"], keys["jwks"], polls)


def _outcome(verified: Any, case: dict[str, Any]) -> dict[str, Any]:
    for scope in verified.scopes:
        assert verified.require(scope) is verified
    for scope in case["expect"].get("lacks", []):
        assert not verified.has(scope), f"{case['name']}: require({scope}) must fail"
    return {
        "outcome": "accept",
        "claims": {
            "format": verified.format,
            "token_id": verified.token_id,
            "app_id": verified.app_id,
            "workspace": verified.workspace,
            "scopes": list(verified.scopes),
            "expires_at": int(verified.expires_at.timestamp()),
        },
    }


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    expect = case["expect"]
    if expect["outcome"] == "accept":
        return {"outcome": "accept", "claims": expect["claims"]}
    if expect["outcome"] == "reject":
        return {"outcome": "reject", "reason": expect["reason"]}
    return {"outcome": "load_error"}


def run_sync(case: dict[str, Any]) -> dict[str, Any]:
    service = _service(case)
    clock = Clock(case["polls"][0]["at"])
    try:
        verifier = Verifier(
            "https://informly.test",
            clock=clock,
            transport=httpx.MockTransport(service.handle),
            background=False,
        )
    except LoadError:
        return {"outcome": "load_error"}
    with verifier:
        for poll in case["polls"][1:]:
            clock.now = poll["at"]
            try:
                verifier.poll_revocations()
            except LoadError:
                pass  # a refused page changes nothing
        clock.now = case["now"]
        try:
            return _outcome(verifier.verify(case["token"]), case)
        except InvalidToken as e:
            return {"outcome": "reject", "reason": e.reason}


async def run_async(case: dict[str, Any]) -> dict[str, Any]:
    service = _service(case)
    clock = Clock(case["polls"][0]["at"])
    try:
        verifier = await AsyncVerifier.create(
            "https://informly.test",
            clock=clock,
            transport=httpx.MockTransport(service.handle),
            background=False,
        )
    except LoadError:
        return {"outcome": "load_error"}
    try:
        for poll in case["polls"][1:]:
            clock.now = poll["at"]
            try:
                await verifier.poll_revocations()
            except LoadError:
                pass
        clock.now = case["now"]
        try:
            return _outcome(await verifier.verify(case["token"]), case)
        except InvalidToken as e:
            return {"outcome": "reject", "reason": e.reason}
    finally:
        await verifier.close()


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_case_with_the_sync_verifier(case: dict[str, Any]) -> None:
    assert run_sync(case) == _expected(case), case["title"]


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_case_with_the_async_verifier(case: dict[str, Any]) -> None:
    assert asyncio.run(run_async(case)) == _expected(case), case["title"]


def test_the_case_file_is_the_one_the_rust_generator_writes() -> None:
    assert _FILE["format"] == "informly-verifier-cases" and _FILE["version"] == 1
    assert _FILE["feed_assertion"] == "informly:revocation-feed:v2"
    assert Path(CASES).name == "verifier-cases.json"
    assert len(_CASES) >= 250
