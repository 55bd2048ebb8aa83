"""What a verifier raises. A refused token is an :class:`InvalidToken` whose
``reason`` is one word of a small vocabulary shared with the Rust and
TypeScript verifiers (``testdata/README.md``); its message never contains the
token."""

from __future__ import annotations

#: Every reason an :class:`InvalidToken` can carry.
REASONS = (
    "too_large",
    "malformed",
    "unknown_key",
    "bad_signature",
    "invalid_claims",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "not_yet_valid",
    "revoked",
    "stale",
)


class InvalidToken(Exception):
    """The token was refused (HTTP 401 ``invalid_token``; 503 when ``reason``
    is ``"stale"``, see :class:`StaleRevocations`)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail or reason.replace("_", " ")
        super().__init__(f"invalid token: {self.detail}")

    @property
    def description(self) -> str:
        """What a client may be told: only "token expired", "token not yet
        valid" or "invalid token" — unknown key, bad signature and revoked
        look alike, as on the service."""
        if self.reason == "expired":
            return "token expired"
        if self.reason == "not_yet_valid":
            return "token not yet valid"
        return "invalid token"


class StaleRevocations(InvalidToken):
    """The token passed every rule, but no revocation feed page has verified
    within the staleness bound: a revocation may have been missed, so nothing
    is honoured. A service answers 503, as the Informly service does."""

    def __init__(self) -> None:
        super().__init__(
            "stale",
            "the revocation list is stale: no feed page has verified within the staleness bound",
        )


class InsufficientScope(Exception):
    """A verified token lacks the scope a route requires (HTTP 403
    ``insufficient_scope``; the token itself is fine)."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(f"token lacks the scope {scope}")


class LoadError(Exception):
    """The keys or the revocation feed could not be loaded (at start, the
    verifier cannot run; later, the last good copy stays in use)."""
