"""The synchronous verifier: httpx for the fetches, one background thread
for the refreshes."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

import httpx

from ._core import MAX_ENVELOPE_LEN, MAX_KEYS_LEN, Core, Status, feed_failure, options, redact
from ._errors import InvalidToken, LoadError
from ._feed import FeedRefused
from ._token import VerifiedToken

log = logging.getLogger("informly_verifier")


def _get(client: httpx.Client, url: str, max_len: int, params: Optional[dict[str, str]] = None) -> tuple[int, bytes]:
    """GETs ``url``, reading at most ``max_len`` bytes of the body."""
    try:
        with client.stream("GET", url, params=params) as response:
            body = bytearray()
            if response.status_code == 200:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_len:
                        raise LoadError(f"{redact(url)} answered more than {max_len} bytes")
            return response.status_code, bytes(body)
    except httpx.HTTPError as e:
        raise LoadError(f"cannot fetch {redact(url)}: {type(e).__name__}") from None


class Verifier:
    """Verifies Informly tokens in process with the service's rules, the
    published keys and the signed revocation feed kept current by a
    background thread.

    ``Verifier(base_url="https://tokens.example.com")`` fetches the keys and
    the first feed page before returning (raising :class:`LoadError` if it
    cannot). Then the feed is polled every ``feed_interval`` seconds (5), the
    keys refreshed every ``key_refresh`` seconds (60) and when a token names
    an unknown key (at most once per ``key_refresh_min``, 10 s, one fetch at a
    time). While the service is unreachable the last keys and denylist keep
    answering; once no feed page has verified for ``staleness`` seconds
    (300), every verification raises :class:`StaleRevocations` (fail closed).

    ``issuer``, ``audience`` and ``leeway`` are the service's ``--issuer``,
    ``--audience`` and leeway. ``clock`` (unix seconds) and ``transport`` (an
    ``httpx`` transport) are for tests. ``close()``, or leaving a ``with``
    block, stops the background refresh.
    """

    def __init__(
        self,
        base_url: str,
        *,
        issuer: str = "informly",
        audience: str = "informly-api",
        leeway: int = 30,
        feed_interval: float = 5.0,
        staleness: float = 300.0,
        key_refresh: float = 60.0,
        key_refresh_min: float = 10.0,
        timeout: float = 10.0,
        clock: Optional[Callable[[], float]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        background: bool = True,
    ) -> None:
        opts = options(
            base_url,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            feed_interval=feed_interval,
            staleness=staleness,
            key_refresh=key_refresh,
            key_refresh_min=key_refresh_min,
            timeout=timeout,
            clock=clock,
        )
        self._core = Core(opts)
        self._http = httpx.Client(timeout=opts.timeout, transport=transport, follow_redirects=False)
        self._keys_lock = threading.Lock()
        self._feed_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        try:
            self._refresh_keys(rate_limited=False)
            self._poll()
        except BaseException:
            self._http.close()
            raise
        if background:
            self._thread = threading.Thread(target=self._run, name="informly-verifier", daemon=True)
            self._thread.start()

    # -- the API -----------------------------------------------------------

    def verify(self, token: str) -> VerifiedToken:
        """Verifies ``token`` now, or raises :class:`InvalidToken` with the
        reason. A token naming a key id we do not know triggers one key
        refresh (rate-limited, shared by concurrent callers) and a second
        look, so tokens of a newly published key verify at once."""
        core = self._core
        now = core.now()
        try:
            return core.check(token, now)
        except InvalidToken as e:
            if e.reason != "unknown_key":
                raise
        try:
            self._refresh_keys(rate_limited=True)
        except LoadError as refresh_error:
            # The keys we had still stand.
            core.note(refresh_error)
        return core.check(token, now)

    def refresh_keys(self) -> None:
        """Fetches the keys now (one fetch at a time; not rate-limited)."""
        self._refresh_keys(rate_limited=False)

    def poll_revocations(self) -> None:
        """Polls the revocation feed now, as the background thread does."""
        self._poll()

    def status(self) -> Status:
        return self._core.status()

    def close(self) -> None:
        """Stops the background refresh. The verifier goes on answering from
        what it holds (and fails closed once the feed is stale)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._core.opts.timeout + 1)
        self._http.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Verifier({redact(self._core.opts.base_url)!r}, {self.status()})"

    # -- refreshes ---------------------------------------------------------

    def _refresh_keys(self, rate_limited: bool) -> bool:
        core = self._core
        with self._keys_lock:
            if not core.key_refresh_due(rate_limited):
                return False
            _, paserk = self._fetch_document(core.opts.paserk_url)
            _, jwks = self._fetch_document(core.opts.jwks_url)
            core.install_keys(paserk, jwks)
            return True

    def _fetch_document(self, url: str) -> tuple[int, bytes]:
        status, body = _get(self._http, url, MAX_KEYS_LEN)
        if status != 200:
            raise LoadError(f"{redact(url)} answered HTTP {status}")
        return status, body

    def _poll(self) -> None:
        core = self._core
        with self._feed_lock:
            asked = core.feed_request(core.now())
            params = None if asked is None else {"since": asked}
            status, body = _get(self._http, core.opts.revocations_url, MAX_ENVELOPE_LEN, params)
            now = core.now()
            try:
                try:
                    page = core.read_feed_answer(status, body, asked, now)
                except FeedRefused as e:
                    if not e.unknown_key:
                        raise
                    # Signed by a key published since our last refresh.
                    self._refresh_keys(rate_limited=True)
                    page = core.read_feed_answer(status, body, asked, now)
                core.apply_page(page, now)
            except FeedRefused as e:
                raise feed_failure(e) from None

    def _run(self) -> None:
        core = self._core
        opts = core.opts
        next_feed = time.monotonic() + opts.feed_interval
        next_keys = time.monotonic() + opts.key_refresh
        while True:
            wait = max(0.0, min(next_feed, next_keys) - time.monotonic())
            if self._stop.wait(wait):
                return
            mono = time.monotonic()
            for due, job in ((next_keys, self._refresh_keys_job), (next_feed, self._poll)):
                if mono >= due:
                    try:
                        job()
                        core.note(None)
                    except LoadError as e:
                        core.note(e)
                        log.warning("informly verifier: %s", e)
                    except Exception as e:  # never let the thread die
                        core.note(e)
                        log.exception("informly verifier: background refresh failed")
            mono = time.monotonic()
            if mono >= next_keys:
                next_keys = mono + opts.key_refresh
            if mono >= next_feed:
                next_feed = mono + opts.feed_interval

    def _refresh_keys_job(self) -> None:
        self._refresh_keys(rate_limited=True)
