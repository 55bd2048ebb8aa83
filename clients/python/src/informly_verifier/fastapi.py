"""FastAPI glue: a dependency that verifies the request's bearer token and
answers refusals as the Informly service does (401/403/503 with RFC 6750
challenges)::

    from fastapi import Depends, FastAPI
    from informly_verifier import Verifier, VerifiedToken
    from informly_verifier.fastapi import require_token

    verifier = Verifier(base_url="https://tokens.example.com")
    app = FastAPI()

    @app.get("/contacts")
    def contacts(token: VerifiedToken = Depends(require_token(verifier, "contacts:read"))):
        return {"workspace": token.workspace}

With a :class:`~informly_verifier.Verifier` the dependency is a plain
function (FastAPI runs it in its thread pool); with an
:class:`~informly_verifier.AsyncVerifier` it is a coroutine. Refusals are
``HTTPException`` (body ``{"detail": …}``, the ``WWW-Authenticate`` header set);
add :func:`problem_handler` for ``application/problem+json`` bodies as the
service writes them.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional, Union

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from . import _scopes
from ._async import AsyncVerifier
from ._bearer import Refusal, bearer_token, refusal
from ._errors import InsufficientScope, InvalidToken
from ._sync import Verifier
from ._token import VerifiedToken


class TokenRefused(HTTPException):
    """A refused request: the status, challenge and problem body."""

    def __init__(self, answer: Refusal) -> None:
        self.refusal = answer
        super().__init__(status_code=answer.status, detail=answer.detail, headers=answer.headers)


def _credentials(request: Request) -> str:
    try:
        return bearer_token(request.headers.getlist("authorization"), request.url.query)
    except Refusal as r:
        raise TokenRefused(r) from None


def _checked(token: VerifiedToken, scope: Optional[str]) -> VerifiedToken:
    if scope is not None:
        try:
            token.require(scope)
        except InsufficientScope as e:
            raise TokenRefused(refusal(e)) from None
    return token


def require_token(
    verifier: Union[Verifier, AsyncVerifier], scope: Optional[str] = None
) -> Callable[[Request], Union[VerifiedToken, Awaitable[VerifiedToken]]]:
    """A dependency yielding the request's verified token (which must hold
    ``scope`` when one is given)."""
    if scope is not None:
        _scopes.check_known(scope)

    if isinstance(verifier, AsyncVerifier):
        averifier = verifier

        async def dependency_async(request: Request) -> VerifiedToken:
            token = _credentials(request)
            try:
                verified = await averifier.verify(token)
            except InvalidToken as e:
                raise TokenRefused(refusal(e)) from None
            return _checked(verified, scope)

        return dependency_async

    def dependency(request: Request) -> VerifiedToken:
        token = _credentials(request)
        try:
            verified = verifier.verify(token)
        except InvalidToken as e:
            raise TokenRefused(refusal(e)) from None
        return _checked(verified, scope)

    return dependency


async def problem_handler(request: Request, exc: Any) -> JSONResponse:
    """``app.add_exception_handler(TokenRefused, problem_handler)``: answers
    refusals with the service's ``application/problem+json`` body."""
    answer: Refusal = exc.refusal
    return JSONResponse(
        answer.problem(), status_code=answer.status, headers=answer.headers, media_type="application/problem+json"
    )


__all__ = ["TokenRefused", "problem_handler", "require_token"]
