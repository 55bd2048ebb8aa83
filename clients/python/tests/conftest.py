"""Shared helpers: where the repository's files are, a clock the tests move
by hand, and a fake Informly service for httpx."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
CASES = Path(os.environ.get("INFORMLY_VERIFIER_CASES", ROOT / "testdata" / "verifier-cases.json"))


class Clock:
    """A clock that stands still until moved."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeService:
    """Answers the key documents, and the feed's polls in the order asked;
    records every request's path and query."""

    def __init__(self, paserk: Any, jwks: Any, polls: list[tuple[int, str]]) -> None:
        self.paserk = json.dumps(paserk)
        self.jwks = json.dumps(jwks)
        self.polls = list(polls)
        self.served = 0
        self.requests: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url.copy_with(scheme="http", host="x", port=None)))
        path = request.url.path
        if path == "/.well-known/paserk.json":
            return httpx.Response(200, text=self.paserk)
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, text=self.jwks)
        if path == "/v1/revocations":
            answer: Optional[tuple[int, str]] = self.polls[self.served] if self.served < len(self.polls) else None
            self.served += 1
            if answer is None:
                return httpx.Response(500, text="{}")
            return httpx.Response(answer[0], text=answer[1])
        return httpx.Response(404, text="{}")

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if path in r)


@pytest.fixture(scope="session")
def case_file() -> dict[str, Any]:
    with open(CASES, encoding="utf-8") as f:
        return json.load(f)


def case_named(file: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in file["cases"] if c["name"] == name)


def service_for(file: dict[str, Any], case: dict[str, Any]) -> FakeService:
    keys = file["keys"][case["keys"]]
    return FakeService(keys["paserk"], keys["jwks"], [(p["status"], p["body"]) for p in case["polls"]])
