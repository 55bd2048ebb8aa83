"""Verify Informly API tokens in a Python service, with the service's own
rules, its published keys and its signed revocation feed.

    from informly_verifier import Verifier, InvalidToken, InsufficientScope

    verifier = Verifier(base_url="https://tokens.example.com")
    token = verifier.verify(bearer)          # raises InvalidToken (with .reason)
    token.require("contacts:read")           # raises InsufficientScope

Layout:

- ``_token``: the token rules (PASETO v4.public via pyseto, JWT via PyJWT's
  EdDSA), pure.
- ``_keys``: the key documents (``paserk.json``, ``jwks.json``).
- ``_feed``: the signed revocation feed (v2) and the denylist.
- ``_core``: the state both verifiers share and the one check.
- ``_sync`` / ``_async``: :class:`Verifier` (a thread) and
  :class:`AsyncVerifier` (an asyncio task) around it.
- ``fastapi`` / ``flask``: framework glue that answers like the service.
"""

from ._async import AsyncVerifier
from ._core import Status
from ._errors import REASONS, InsufficientScope, InvalidToken, LoadError, StaleRevocations
from ._feed import FEED_ASSERTION
from ._sync import Verifier
from ._token import MAX_TOKEN_LEN, Policy, VerifiedToken

__version__ = "0.1.0"

__all__ = [
    "AsyncVerifier",
    "FEED_ASSERTION",
    "InsufficientScope",
    "InvalidToken",
    "LoadError",
    "MAX_TOKEN_LEN",
    "Policy",
    "REASONS",
    "StaleRevocations",
    "Status",
    "VerifiedToken",
    "Verifier",
]
