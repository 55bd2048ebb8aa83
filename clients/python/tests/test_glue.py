"""The FastAPI dependency and the Flask decorator answer like the service:
the token only from one Authorization header, 401 invalid_token / 403
insufficient_scope with their challenges, 503 while revocations are stale,
the bare challenge when no credentials came (SECURITY.md §9 A)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from conftest import Clock, case_named, service_for
from informly_verifier import AsyncVerifier, VerifiedToken, Verifier
from informly_verifier.fastapi import TokenRefused, problem_handler, require_token as fastapi_token
from informly_verifier.flask import current_token, require_token as flask_token


@pytest.fixture()
def verifier(case_file: dict[str, Any]) -> Verifier:
    case = case_named(case_file, "paseto-valid")
    service = service_for(case_file, case)
    service.polls = service.polls * 2
    v = Verifier(
        "https://informly.test",
        clock=Clock(case["now"]),
        transport=httpx.MockTransport(service.handle),
        background=False,
    )
    yield v
    v.close()


@pytest.fixture()
def tokens(case_file: dict[str, Any]) -> dict[str, str]:
    def token(name: str) -> str:
        return case_named(case_file, name)["token"]

    return {
        "reader": token("paseto-valid"),  # contacts:read contacts:write
        "jwt": token("jwt-valid"),
        "not_yet_valid": token("paseto-nbf-in-ten-minutes"),
        "bad_signature": token("paseto-payload-bit-flipped"),
        "unknown_key": token("paseto-unknown-kid"),
    }


def fastapi_app(dependency: Callable[..., Any], problems: bool) -> TestClient:
    app = FastAPI()
    if problems:
        app.add_exception_handler(TokenRefused, problem_handler)

    @app.get("/contacts")
    def contacts(token: VerifiedToken = Depends(dependency)) -> dict[str, Any]:
        return {"workspace": token.workspace, "scopes": list(token.scopes)}

    return TestClient(app)


def flask_app(verifier: Verifier, scope: str) -> Any:
    app = Flask(__name__)

    @app.get("/contacts")
    @flask_token(verifier, scope)
    def contacts() -> dict[str, Any]:
        token = current_token()
        return {"workspace": token.workspace, "scopes": list(token.scopes)}

    return app.test_client()


def get(client: Any, headers: list[tuple[str, str]], query: str = "") -> Any:
    return client.get("/contacts" + query, headers=headers)


# (what, headers, query, status, challenge starts with, error in challenge)
def rows(t: dict[str, str]) -> list[tuple[str, list[tuple[str, str]], str, int, str]]:
    return [
        ("A1 no header", [], "", 401, 'Bearer realm="informly"'),
        ("A2 Basic", [("Authorization", "Basic dXNlcjpwYXNz")], "", 401, 'Bearer realm="informly"'),
        ("A3 lowercase scheme", [("Authorization", "bearer " + t["reader"])], "", 200, ""),
        ("A3 extra spaces", [("Authorization", "Bearer    " + t["jwt"])], "", 200, ""),
        ("A4 Bearer alone", [("Authorization", "Bearer")], "", 401, 'Bearer realm="informly", error="invalid_token"'),
        ("A4 Bearer spaces", [("Authorization", "Bearer    ")], "", 401, 'Bearer realm="informly", error="invalid_token"'),
        (
            "A5 two headers",
            [("Authorization", "Bearer " + t["reader"]), ("Authorization", "Bearer " + t["reader"])],
            "",
            400,
            'Bearer realm="informly", error="invalid_request"',
        ),
        ("A6 token in the query", [], "?access_token=" + t["reader"], 401, 'Bearer realm="informly"'),
        ("A8 64 KiB token", [("Authorization", "Bearer " + "a" * 65536)], "", 401, 'Bearer realm="informly", error="invalid_token"'),
        ("A10 space inside", [("Authorization", "Bearer ab cd")], "", 401, 'Bearer realm="informly", error="invalid_token"'),
        ("not yet valid", [("Authorization", "Bearer " + t["not_yet_valid"])], "", 401, 'Bearer realm="informly", error="invalid_token", error_description="token not yet valid"'),
        ("bad signature", [("Authorization", "Bearer " + t["bad_signature"])], "", 401, 'Bearer realm="informly", error="invalid_token", error_description="invalid token"'),
        ("unknown key", [("Authorization", "Bearer " + t["unknown_key"])], "", 401, 'Bearer realm="informly", error="invalid_token", error_description="invalid token"'),
    ]


def check(response: Any, status: int, challenge: str, what: str) -> None:
    assert response.status_code == status, what
    got = response.headers.get("WWW-Authenticate", "")
    if challenge:
        assert got.startswith(challenge), (what, got)
        assert "error=" in got or challenge == 'Bearer realm="informly"', what
        if challenge == 'Bearer realm="informly"':
            assert got == challenge, (what, got)
    else:
        assert got == "", what


@pytest.mark.parametrize("problems", [False, True])
def test_fastapi_dependency_answers_like_the_service(verifier: Verifier, tokens: dict[str, str], problems: bool) -> None:
    client = fastapi_app(fastapi_token(verifier, "contacts:read"), problems)
    for what, headers, query, status, challenge in rows(tokens):
        response = get(client, headers, query)
        check(response, status, challenge, what)
        if status == 200:
            assert response.json()["scopes"] == ["contacts:read", "contacts:write"]
        elif problems:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == status
        assert tokens["reader"] not in response.text, f"{what}: the token is never echoed"
    # H1: a token without the scope.
    client = fastapi_app(fastapi_token(verifier, "contacts:delete"), problems)
    response = get(client, [("Authorization", "Bearer " + tokens["reader"])])
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="informly", error="insufficient_scope", scope="contacts:delete"'


def test_flask_decorator_answers_like_the_service(verifier: Verifier, tokens: dict[str, str]) -> None:
    client = flask_app(verifier, "contacts:read")
    for what, headers, query, status, challenge in rows(tokens):
        response = get(client, headers, query)
        check(response, status, challenge, what)
        if status == 200:
            assert response.get_json()["workspace"].startswith("ws_")
        else:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.get_json()["status"] == status
    client = flask_app(verifier, "contacts:delete")
    response = get(client, [("Authorization", "Bearer " + tokens["reader"])])
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="informly", error="insufficient_scope", scope="contacts:delete"'
    assert response.get_json()["detail"] == "this token lacks the scope `contacts:delete`"


def test_a_stale_revocation_list_answers_503_without_a_challenge(case_file: dict[str, Any], tokens: dict[str, str]) -> None:
    case = case_named(case_file, "paseto-feed-stale")
    service = service_for(case_file, case)
    clock = Clock(case["polls"][0]["at"])
    verifier = Verifier("https://informly.test", clock=clock, transport=httpx.MockTransport(service.handle), background=False)
    clock.now = case["now"]
    with verifier:
        for client in (fastapi_app(fastapi_token(verifier), True), flask_app(verifier, "contacts:read")):
            response = get(client, [("Authorization", "Bearer " + tokens["reader"])])
            assert response.status_code == 503
            assert "WWW-Authenticate" not in response.headers
            # Garbage is still refused for what it is.
            response = get(client, [("Authorization", "Bearer nonsense")])
            assert response.status_code == 401


def test_fastapi_dependency_with_the_async_verifier(case_file: dict[str, Any], tokens: dict[str, str]) -> None:
    case = case_named(case_file, "paseto-valid")
    service = service_for(case_file, case)

    async def make() -> AsyncVerifier:
        return await AsyncVerifier.create(
            "https://informly.test",
            clock=Clock(case["now"]),
            transport=httpx.MockTransport(service.handle),
            background=False,
        )

    verifier = asyncio.run(make())
    client = fastapi_app(fastapi_token(verifier, "contacts:write"), True)
    assert get(client, [("Authorization", "Bearer " + tokens["reader"])]).status_code == 200
    assert get(client, [("Authorization", "Bearer " + tokens["not_yet_valid"])]).status_code == 401
    client = fastapi_app(fastapi_token(verifier, "contacts:delete"), True)
    assert get(client, [("Authorization", "Bearer " + tokens["reader"])]).status_code == 403


def test_a_misspelt_scope_is_a_programming_error(verifier: Verifier) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        fastapi_token(verifier, "contacts:reads")
    with pytest.raises(ValueError, match="unknown scope"):
        flask_token(verifier, "contacts:*")
