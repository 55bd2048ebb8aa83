"""Flask glue: a decorator that verifies the request's bearer token and
answers refusals as the Informly service does (401/403/503 with RFC 6750
challenges and ``application/problem+json`` bodies)::

    from flask import Flask
    from informly_verifier import Verifier
    from informly_verifier.flask import current_token, require_token

    verifier = Verifier(base_url="https://tokens.example.com")
    app = Flask(__name__)

    @app.get("/contacts")
    @require_token(verifier, "contacts:read")
    def contacts():
        return {"workspace": current_token().workspace}
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Optional, TypeVar

from flask import Response, g, request

from . import _scopes
from ._bearer import Refusal, bearer_token, refusal
from ._errors import InsufficientScope, InvalidToken
from ._sync import Verifier
from ._token import VerifiedToken

F = TypeVar("F", bound=Callable[..., Any])


def _answer(r: Refusal) -> Response:
    return Response(
        json.dumps(r.problem()), status=r.status, headers=r.headers, mimetype="application/problem+json"
    )


def require_token(verifier: Verifier, scope: Optional[str] = None) -> Callable[[F], F]:
    """Runs the view only for a verified token (holding ``scope`` when one is
    given), which :func:`current_token` then returns."""
    if scope is not None:
        _scopes.check_known(scope)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                token = bearer_token(request.headers.getlist("Authorization"), request.query_string.decode("latin-1"))
                verified = verifier.verify(token)
                if scope is not None:
                    verified.require(scope)
            except Refusal as r:
                return _answer(r)
            except (InvalidToken, InsufficientScope) as e:
                return _answer(refusal(e))
            g.informly_token = verified
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def current_token() -> VerifiedToken:
    """The verified token of the request (inside a view under
    :func:`require_token`)."""
    token = g.get("informly_token")
    if token is None:
        raise RuntimeError("current_token() is only available in a view under @require_token")
    return token


__all__ = ["current_token", "require_token"]
