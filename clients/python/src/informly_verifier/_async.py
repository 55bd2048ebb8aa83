"""The asyncio verifier: the same rules and state as :class:`Verifier`, with
``httpx.AsyncClient`` for the fetches and one task for the refreshes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Optional

import httpx

from ._core import MAX_ENVELOPE_LEN, MAX_KEYS_LEN, Core, Status, feed_failure, options, redact
from ._errors import InvalidToken, LoadError
from ._feed import FeedRefused
from ._token import VerifiedToken

log = logging.getLogger("informly_verifier")


async def _get(
    client: httpx.AsyncClient, url: str, max_len: int, params: Optional[dict[str, str]] = None
) -> tuple[int, bytes]:
    try:
        async with client.stream("GET", url, params=params) as response:
            body = bytearray()
            if response.status_code == 200:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_len:
                        raise LoadError(f"{redact(url)} answered more than {max_len} bytes")
            return response.status_code, bytes(body)
    except httpx.HTTPError as e:
        raise LoadError(f"cannot fetch {redact(url)}: {type(e).__name__}") from None


class AsyncVerifier:
    """:class:`Verifier` for asyncio: the same options, the methods are
    coroutines. Start it with ``await AsyncVerifier.create(base_url=…)`` or
    ``async with AsyncVerifier(base_url=…) as v:`` (both load the keys and
    the first feed page, and start the background task); ``await
    v.close()`` stops it."""

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
        transport: Optional[httpx.AsyncBaseTransport] = None,
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
        self._transport = transport
        self._background = background
        self._http: Optional[httpx.AsyncClient] = None
        # Made in start(), inside the running loop (Python 3.9 binds a lock
        # to the loop current when it is made).
        self._keys_lock: Optional[asyncio.Lock] = None
        self._feed_lock: Optional[asyncio.Lock] = None
        self._task: Optional[asyncio.Task[None]] = None

    @classmethod
    async def create(cls, base_url: str, **kwargs: Any) -> AsyncVerifier:
        verifier = cls(base_url, **kwargs)
        await verifier.start()
        return verifier

    async def start(self) -> None:
        """Loads the keys and the first feed page (raising :class:`LoadError`
        if it cannot), then starts the background refresh."""
        if self._http is not None:
            return
        self._keys_lock, self._feed_lock = asyncio.Lock(), asyncio.Lock()
        self._http = httpx.AsyncClient(
            timeout=self._core.opts.timeout, transport=self._transport, follow_redirects=False
        )
        try:
            await self._refresh_keys(rate_limited=False)
            await self._poll()
        except BaseException:
            await self._http.aclose()
            self._http = None
            raise
        if self._background:
            self._task = asyncio.create_task(self._run(), name="informly-verifier")

    async def verify(self, token: str) -> VerifiedToken:
        """As :meth:`Verifier.verify`."""
        core = self._core
        now = core.now()
        try:
            return core.check(token, now)
        except InvalidToken as e:
            if e.reason != "unknown_key":
                raise
        try:
            await self._refresh_keys(rate_limited=True)
        except LoadError as refresh_error:
            core.note(refresh_error)
        return core.check(token, now)

    async def refresh_keys(self) -> None:
        await self._refresh_keys(rate_limited=False)

    async def poll_revocations(self) -> None:
        await self._poll()

    def status(self) -> Status:
        return self._core.status()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> AsyncVerifier:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncVerifier({redact(self._core.opts.base_url)!r}, {self.status()})"

    def _lock(self, lock: Optional[asyncio.Lock]) -> asyncio.Lock:
        if lock is None:
            raise LoadError("the verifier is not started: await start() or use AsyncVerifier.create()")
        return lock

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise LoadError("the verifier is not started: await start() or use AsyncVerifier.create()")
        return self._http

    async def _refresh_keys(self, rate_limited: bool) -> bool:
        core = self._core
        async with self._lock(self._keys_lock):
            if not core.key_refresh_due(rate_limited):
                return False
            documents = []
            for url in (core.opts.paserk_url, core.opts.jwks_url):
                status, body = await _get(self._client(), url, MAX_KEYS_LEN)
                if status != 200:
                    raise LoadError(f"{redact(url)} answered HTTP {status}")
                documents.append(body)
            core.install_keys(documents[0], documents[1])
            return True

    async def _poll(self) -> None:
        core = self._core
        async with self._lock(self._feed_lock):
            asked = core.feed_request(core.now())
            params = None if asked is None else {"since": asked}
            status, body = await _get(self._client(), core.opts.revocations_url, MAX_ENVELOPE_LEN, params)
            now = core.now()
            try:
                try:
                    page = core.read_feed_answer(status, body, asked, now)
                except FeedRefused as e:
                    if not e.unknown_key:
                        raise
                    await self._refresh_keys(rate_limited=True)
                    page = core.read_feed_answer(status, body, asked, now)
                core.apply_page(page, now)
            except FeedRefused as e:
                raise feed_failure(e) from None

    async def _run(self) -> None:
        core = self._core
        opts = core.opts
        next_feed = time.monotonic() + opts.feed_interval
        next_keys = time.monotonic() + opts.key_refresh
        while True:
            await asyncio.sleep(max(0.0, min(next_feed, next_keys) - time.monotonic()))
            mono = time.monotonic()
            for due, job in ((next_keys, self._refresh_keys_job), (next_feed, self._poll)):
                if mono >= due:
                    try:
                        await job()
                        core.note(None)
                    except LoadError as e:
                        core.note(e)
                        log.warning("informly verifier: %s", e)
                    except Exception as e:  # never let the task die
                        core.note(e)
                        log.exception("informly verifier: background refresh failed")
            mono = time.monotonic()
            if mono >= next_keys:
                next_keys = mono + opts.key_refresh
            if mono >= next_feed:
                next_feed = mono + opts.feed_interval

    async def _refresh_keys_job(self) -> None:
        await self._refresh_keys(rate_limited=True)
