"""Reading the bearer token from a request and answering a refusal as the
Informly service does (RFC 6750 §3, SECURITY.md §9 A and §11): the token only
from the one ``Authorization`` header, never from the URL; 401 with
``error="invalid_token"``, 403 ``insufficient_scope`` with the scope, 503
while the revocation list is stale, 400 for two ``Authorization`` headers, a
bare ``Bearer`` challenge when no credentials came. Framework-free: the
``fastapi`` and ``flask`` modules wrap it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from ._errors import InsufficientScope, InvalidToken, StaleRevocations
from ._token import MAX_TOKEN_LEN

REALM = "informly"
_SCHEME = re.compile(r"[A-Za-z0-9-]{1,20}", re.ASCII)


@dataclass(frozen=True)
class Refusal(Exception):
    """An answer to send instead of running the handler."""

    status: int
    slug: str
    detail: str
    challenge: Optional[str]

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.challenge is None else {"WWW-Authenticate": self.challenge}

    def problem(self) -> dict[str, Union[str, int]]:
        """The ``application/problem+json`` body (RFC 9457)."""
        titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}
        return {
            "type": f"urn:informly:problem:{self.slug}",
            "title": titles.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }


def _no_credentials(detail: str) -> Refusal:
    return Refusal(401, "unauthorized", detail, f'Bearer realm="{REALM}"')


def _invalid_token(description: str) -> Refusal:
    return Refusal(
        401,
        "invalid-token",
        description,
        f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"',
    )


def refusal(error: Exception) -> Refusal:
    """The answer to a refused token or a missing scope. Never names why a
    token was invalid beyond "expired" / "not yet valid"."""
    if isinstance(error, StaleRevocations):
        return Refusal(503, "unavailable", "the token service cannot be reached; try again shortly", None)
    if isinstance(error, InvalidToken):
        return _invalid_token(error.description)
    if isinstance(error, InsufficientScope):
        return Refusal(
            403,
            "insufficient-scope",
            f"this token lacks the scope `{error.scope}`",
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="{error.scope}"',
        )
    raise TypeError(f"not a token refusal: {type(error).__name__}")


def _token_in_query(query: str) -> bool:
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        if name in ("token", "access_token"):
            return True
    return False


def bearer_token(authorization: Sequence[str], query: str = "") -> str:
    """The token of the one ``Authorization: Bearer …`` header, or raises a
    :class:`Refusal`. ``authorization`` holds every value of the header (in
    ``latin-1``-decoded form, as WSGI and ASGI give them). WSGI servers join
    repeated headers with commas, which no token or scheme contains: a comma
    counts as a second header."""
    authorization = [part for value in authorization for part in value.split(",")]
    if len(authorization) != 1:
        if authorization:
            return _raise(
                Refusal(
                    400,
                    "invalid-request",
                    "send one Authorization header",
                    f'Bearer realm="{REALM}", error="invalid_request", error_description="send one Authorization header"',
                )
            )
        if _token_in_query(query):
            return _raise(
                _no_credentials(
                    "a token in the URL is never read (URLs end up in logs and histories): "
                    "send it in the Authorization header as `Bearer <token>`"
                )
            )
        return _raise(_no_credentials("this endpoint needs a bearer token in the Authorization header"))
    value = authorization[0]
    # obs-text (bytes 0x80-0xFF) is not part of any token.
    if not value.isascii():
        return _raise(_invalid_token("invalid token"))
    scheme, space, rest = value.partition(" ")
    if not space:
        if value.lower() != "bearer":
            return _raise(
                _no_credentials("the Authorization header has no scheme: send `Authorization: Bearer <token>`")
            )
        rest = ""
    if scheme.lower() != "bearer":
        if _SCHEME.fullmatch(scheme):
            detail = f"the Authorization scheme `{scheme}` is not supported: send `Authorization: Bearer <token>`"
        else:
            detail = "the Authorization scheme is not supported: send `Authorization: Bearer <token>`"
        return _raise(_no_credentials(detail))
    token = rest.lstrip(" ")
    if not token or len(token) > MAX_TOKEN_LEN:
        return _raise(_invalid_token("invalid token"))
    return token


def _raise(r: Refusal) -> str:
    raise r
