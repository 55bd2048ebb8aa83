"""The signed revocation feed (``GET /v1/revocations``, docs/revocation-feed.md):
verifying a page with the published PASETO keys and implicit assertion
``informly:revocation-feed:v2``, and the denylist it keeps. Pure: the time
and the keys are passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ._encoding import is_cursor, is_prefixed_id, json_object, rfc3339
from ._errors import InvalidToken
from ._keys import KeySet
from ._token import PASETO_HEADER, Policy, paseto_key_id, verify_paseto_signature

#: Version 2 of the feed: ``revoked[].from`` (scheduled revocations, from
#: token rolls). A version 1 page is refused.
FEED_ASSERTION = b"informly:revocation-feed:v2"
MAX_FEED_LEN = 16 * 1024 * 1024
#: A follower asks for the full list again this often (seconds).
FULL_LIST_EVERY = 600
_MIN = float("-inf")


class FeedRefused(Exception):
    """A page that is not applied; ``unknown_key`` when its kid names no key
    we hold (worth a key refresh and a second look)."""

    def __init__(self, why: str, unknown_key: bool = False) -> None:
        self.unknown_key = unknown_key
        super().__init__(why)


@dataclass(frozen=True)
class Page:
    issued_at: int
    expires_at: int
    since: Optional[str]
    next: str
    full: bool
    #: (jti, from or None, exp)
    revoked: tuple[tuple[str, Optional[int], int], ...]
    #: (client_id, cutoff, exp)
    cutoffs: tuple[tuple[str, int, int], ...]


def _exact(obj: Any, members: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict) or obj.keys() != members:
        raise ValueError("members")
    return obj


def _time(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError("time")
    return rfc3339(value)


_PAGE = frozenset(("iss", "iat", "exp", "since", "next", "full", "revoked", "cutoffs"))
_REVOKED = frozenset(("jti", "exp", "from"))
_CUTOFF = frozenset(("client_id", "cutoff", "exp"))


def _parse(payload: bytes) -> tuple[str, Page]:
    p = _exact(json_object(payload), _PAGE)
    iss, since, nxt = p["iss"], p["since"], p["next"]
    if not isinstance(iss, str) or not isinstance(nxt, str) or not isinstance(p["full"], bool):
        raise ValueError("types")
    if not is_cursor(nxt) or not (since is None or (isinstance(since, str) and is_cursor(since))):
        raise ValueError("cursor")
    if not isinstance(p["revoked"], list) or not isinstance(p["cutoffs"], list):
        raise ValueError("types")
    issued_at, expires_at = _time(p["iat"]), _time(p["exp"])
    if expires_at < issued_at:
        raise ValueError("exp before iat")
    revoked = []
    for entry in p["revoked"]:
        e = _exact(entry, _REVOKED)
        jti = e["jti"]
        if not isinstance(jti, str) or not is_prefixed_id(jti, "tok_"):
            raise ValueError("jti")
        exp = _time(e["exp"])
        revoked.append((jti, None if e["from"] is None else _time(e["from"]), exp))
    cutoffs = []
    for entry in p["cutoffs"]:
        e = _exact(entry, _CUTOFF)
        client = e["client_id"]
        if not isinstance(client, str) or not is_prefixed_id(client, "app_"):
            raise ValueError("client_id")
        cutoffs.append((client, _time(e["cutoff"]), _time(e["exp"])))
    page = Page(issued_at, expires_at, since, nxt, p["full"], tuple(revoked), tuple(cutoffs))
    return iss, page


def verify_page(feed: Any, keys: KeySet, policy: Policy, asked: Optional[str], now: int) -> Page:
    """Verifies one page at ``now``: size, the strict footer, a known PASETO
    key that is not retired, the signature with the feed's implicit
    assertion, the payload's exact shape, ``iss``, ``exp``/``iat`` with the
    leeway, and that it answers the cursor ``asked``."""
    if not isinstance(feed, str):
        raise FeedRefused("the feed is not a string")
    if len(feed) > MAX_FEED_LEN:
        raise FeedRefused("the feed is too large")
    if not feed.startswith(PASETO_HEADER):
        raise FeedRefused("the feed is not a v4.public token")
    try:
        kid, footer, message = paseto_key_id(feed)
    except InvalidToken as e:
        raise FeedRefused(f"feed: {e.detail}") from None
    entry = keys.paseto.get(kid)
    if entry is None:
        raise FeedRefused("the feed is signed by an unknown key", unknown_key=True)
    if entry.status == "retired" or not entry.usable:
        raise FeedRefused("the feed is signed by a retired key")
    try:
        payload = verify_paseto_signature(entry.key, message, footer, FEED_ASSERTION)
    except InvalidToken as e:
        raise FeedRefused(f"feed: {e.detail}") from None
    try:
        issuer, page = _parse(payload)
    except ValueError:
        raise FeedRefused("the feed payload is missing fields, has unknown ones or values of the wrong type") from None
    if issuer != policy.issuer:
        raise FeedRefused("the feed issuer is wrong")
    if now > page.expires_at + policy.leeway:
        raise FeedRefused("the feed page has expired")
    if page.issued_at > now + policy.leeway:
        raise FeedRefused("the feed page was issued in the future")
    if page.since != asked:
        raise FeedRefused("the feed page answers another cursor than the one asked for")
    return page


@dataclass(frozen=True)
class Denylist:
    """Revoked token ids (``jti`` → (from, exp); from ``-inf``: at once) and
    app cutoffs (``client_id`` → (cutoff, exp)). Immutable: a page makes a
    new one, swapped in whole, so readers never lock."""

    tokens: dict[str, tuple[float, int]] = field(default_factory=dict)
    cutoffs: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens) + len(self.cutoffs)

    def is_revoked(self, token_id: str, subject: str, issued_at: int, now: int) -> bool:
        """Revoked when the id's revocation has taken effect (``now >=
        from``), or the token was issued at or before its app's cutoff."""
        entry = self.tokens.get(token_id)
        if entry is not None and now >= entry[0]:
            return True
        cutoff = self.cutoffs.get(subject)
        return cutoff is not None and issued_at <= cutoff[0]

    def applied(self, page: Page, horizon: int) -> Denylist:
        """This denylist with ``page`` applied — replaced by a full page,
        merged otherwise (the earliest ``from`` and the latest ``exp`` of an
        id; cutoffs only move forward) — and entries that expired before
        ``horizon`` dropped."""
        tokens = {} if page.full else dict(self.tokens)
        cutoffs = {} if page.full else dict(self.cutoffs)
        for jti, start, exp in page.revoked:
            start_at = _MIN if start is None else start
            old = tokens.get(jti)
            tokens[jti] = (start_at, exp) if old is None else (min(old[0], start_at), max(old[1], exp))
        for client, cutoff, exp in page.cutoffs:
            old_cut = cutoffs.get(client)
            cutoffs[client] = (cutoff, exp) if old_cut is None else (max(old_cut[0], cutoff), max(old_cut[1], exp))
        return Denylist(
            {k: v for k, v in tokens.items() if v[1] >= horizon},
            {k: v for k, v in cutoffs.items() if v[1] >= horizon},
        )
