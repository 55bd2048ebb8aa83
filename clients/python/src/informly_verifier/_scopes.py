"""The service's scope vocabulary, in its order (the order a token's scopes
are listed in). App tokens carry app scopes, admin tokens admin scopes."""

from __future__ import annotations

APP_SCOPES = (
    "contacts:read",
    "contacts:write",
    "contacts:delete",
    "surveys:read",
    "surveys:write",
    "surveys:delete",
    "coupons:read",
    "coupons:write",
    "coupons:delete",
    "coupons:validate",
    "referrals:read",
    "referrals:write",
    "referrals:delete",
    "testimonials:read",
    "testimonials:write",
    "testimonials:delete",
    "tickets:read",
    "tickets:write",
    "tickets:delete",
)
ADMIN_SCOPES = (
    "apps:read",
    "apps:write",
    "apps:delete",
    "audit:read",
    "webhooks:read",
    "webhooks:write",
    "webhooks:delete",
)
ALL_SCOPES = APP_SCOPES + ADMIN_SCOPES
_ORDER = {name: i for i, name in enumerate(ALL_SCOPES)}


def from_claim(claim: str) -> tuple[str, ...]:
    """The known scopes of a ``scope`` claim, split on single spaces, in the
    service's order. Anything else (``contacts:*``, ``Contacts:Read``, the
    empty names between two spaces) grants nothing and is no error."""
    found = {name for name in claim.split(" ") if name in _ORDER}
    return tuple(sorted(found, key=_ORDER.__getitem__))


def is_admin(scope: str) -> bool:
    return scope in ADMIN_SCOPES


def check_known(scope: str) -> str:
    """A scope a route may require; a misspelt one is a programming error."""
    if scope not in _ORDER:
        raise ValueError(f"unknown scope {scope!r}; the scopes are: {', '.join(ALL_SCOPES)}")
    return scope
