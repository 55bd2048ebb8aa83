"""What the sync and async verifiers share: the keys and the denylist they
hold, the one check every token goes through, and what to make of each
answer of the service. No I/O here: the two front ends fetch, this decides.

The verify path reads two references (the key set, the denylist), each
replaced whole by a refresh, so it takes no lock."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlsplit, urlunsplit

from ._errors import InvalidToken, LoadError, StaleRevocations
from ._feed import FULL_LIST_EVERY, Denylist, FeedRefused, Page, verify_page
from ._keys import KeySet, read_jwks, read_paserk_set
from ._token import Policy, VerifiedToken, verify_token

PASERK_PATH = "/.well-known/paserk.json"
JWKS_PATH = "/.well-known/jwks.json"
REVOCATIONS_PATH = "/v1/revocations"
#: Key documents longer than this are refused.
MAX_KEYS_LEN = 1024 * 1024
#: The feed's answer: the page and the JSON around it.
MAX_ENVELOPE_LEN = 16 * 1024 * 1024 + 1024


@dataclass(frozen=True)
class Status:
    """What the verifier holds, for a health endpoint or a test."""

    keys: int
    denylist_entries: int
    #: Clock seconds when a feed page last verified; ``None`` before.
    feed_verified_at: Optional[int]
    key_refreshes: int
    last_error: Optional[str]


@dataclass
class Options:
    base_url: str
    policy: Policy
    feed_interval: float
    staleness: float
    key_refresh: float
    key_refresh_min: float
    timeout: float
    clock: Callable[[], float]

    @property
    def paserk_url(self) -> str:
        return self.base_url + PASERK_PATH

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def revocations_url(self) -> str:
        return self.base_url + REVOCATIONS_PATH


def options(
    base_url: str,
    *,
    issuer: str,
    audience: str,
    leeway: int,
    feed_interval: float,
    staleness: float,
    key_refresh: float,
    key_refresh_min: float,
    timeout: float,
    clock: Optional[Callable[[], float]],
) -> Options:
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise ValueError("base_url is the Informly service's URL, e.g. https://tokens.example.com")
    for name, value in (("feed_interval", feed_interval), ("staleness", staleness), ("key_refresh", key_refresh)):
        if not value > 0:
            raise ValueError(f"{name} must be positive")
    return Options(
        base_url=base_url.rstrip("/"),
        policy=Policy(issuer=issuer, audience=audience, leeway=int(leeway)),
        feed_interval=float(feed_interval),
        staleness=float(staleness),
        key_refresh=float(key_refresh),
        key_refresh_min=float(key_refresh_min),
        timeout=float(timeout),
        clock=clock or time.time,
    )


class Core:
    """The state and the rules. Mutated only by the refreshes (one at a time,
    under the front end's locks); read by :meth:`check` without a lock."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.keys = KeySet()
        self.denylist = Denylist()
        #: Clock seconds of the last verified page (stale until the first).
        self.refreshed_at: Optional[int] = None
        self.cursor: Optional[str] = None
        self.issued_at: Optional[int] = None
        self.full_at: Optional[int] = None
        self.key_refreshes = 0
        self.last_key_attempt: Optional[float] = None
        self.last_error: Optional[str] = None

    def now(self) -> int:
        """The clock in whole seconds, the granularity of token times."""
        return math.floor(self.opts.clock())

    # -- verifying ---------------------------------------------------------

    def check(self, token: str, now: int) -> VerifiedToken:
        """The token core, then staleness (fail closed), then the denylist."""
        verified, issued_at = verify_token(self.keys, self.opts.policy, token, now)
        refreshed_at = self.refreshed_at
        if refreshed_at is None or now - refreshed_at > self.opts.staleness:
            raise StaleRevocations()
        if self.denylist.is_revoked(verified.token_id, verified.subject, issued_at, now):
            raise InvalidToken("revoked", "token has been revoked")
        return verified

    # -- keys --------------------------------------------------------------

    def key_refresh_due(self, rate_limited: bool) -> bool:
        """Notes an attempt and says whether to fetch: with ``rate_limited``,
        not within ``key_refresh_min`` of the last attempt (failed or not)."""
        mono = time.monotonic()
        last = self.last_key_attempt
        if rate_limited and last is not None and mono - last < self.opts.key_refresh_min:
            return False
        self.last_key_attempt = mono
        self.key_refreshes += 1
        return True

    def install_keys(self, paserk_body: bytes, jwks_body: bytes) -> None:
        try:
            paseto = read_paserk_set(paserk_body)
        except ValueError as e:
            raise LoadError(f"{redact(self.opts.paserk_url)}: {e}") from None
        try:
            jwt = read_jwks(jwks_body)
        except ValueError as e:
            raise LoadError(f"{redact(self.opts.jwks_url)}: {e}") from None
        self.keys = KeySet(paseto, jwt)

    # -- the feed ----------------------------------------------------------

    def feed_request(self, now: int) -> Optional[str]:
        """The cursor to ask with: none at first, and whenever the full list
        is due again (every ten minutes), the last ``next`` otherwise."""
        if self.full_at is None or now - self.full_at >= FULL_LIST_EVERY:
            return None
        return self.cursor

    def read_feed_answer(self, status: int, body: bytes, asked: Optional[str], now: int) -> Page:
        """The page in the service's answer, verified with the keys held.
        Raises :class:`FeedRefused` (``unknown_key`` set when a key refresh
        may help) or :class:`LoadError`."""
        url = self.opts.revocations_url
        if status == 400 and asked is not None:
            # A cursor the service no longer accepts: start again from the
            # full list.
            self.cursor = None
            self.full_at = None
            raise LoadError("the revocation feed refused our cursor: the next poll asks for the full list")
        if status != 200:
            raise LoadError(f"{redact(url)} answered HTTP {status}")
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            raise LoadError(f"{redact(url)} is not a revocation feed document") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("feed"), str):
            raise LoadError(f"{redact(url)} is not a revocation feed document")
        return verify_page(envelope["feed"], self.keys, self.opts.policy, asked, now)

    def apply_page(self, page: Page, now: int) -> None:
        """Applies a verified page — unless it is older than the last one
        applied (a replayed full page would drop newer entries) — prunes,
        and marks the denylist fresh."""
        if self.issued_at is not None and page.issued_at < self.issued_at:
            raise FeedRefused("the revocation feed page is older than the last one applied")
        self.denylist = self.denylist.applied(page, now - self.opts.policy.leeway)
        if page.full:
            self.full_at = now
        self.cursor = page.next
        self.issued_at = page.issued_at
        self.refreshed_at = now

    def note(self, error: Optional[BaseException]) -> None:
        self.last_error = None if error is None else str(error)

    def status(self) -> Status:
        return Status(
            keys=len(self.keys),
            denylist_entries=len(self.denylist),
            feed_verified_at=self.refreshed_at,
            key_refreshes=self.key_refreshes,
            last_error=self.last_error,
        )


def redact(url: str) -> str:
    """A URL as messages show it: without any ``user:password@``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def feed_failure(error: Exception) -> LoadError:
    """A refused page or a failed fetch, as the error a poll reports."""
    if isinstance(error, LoadError):
        return error
    return LoadError(f"revocation feed refused: {error}")
