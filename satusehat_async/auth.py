"""Access tokens: decoding, the token store seam, and single-flight refresh.

One :class:`TokenProvider` per client hands out a cached token. Refresh is
single-flight: concurrent callers that find no fresh token queue on one
``asyncio.Lock`` and on the store's own lock (a Redis lock when the store is shared
across processes), re-read the store once they hold it, and only the first one
actually asks the token endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from satusehat_async.errors import (
    APIError,
    AuthenticationError,
    CircuitOpenError,
    SatuSehatError,
    TransportError,
)

if TYPE_CHECKING:
    from satusehat_async.redis_store import RedisTokenStore as RedisTokenStore

__all__ = [
    "AccessToken",
    "MemoryTokenStore",
    "RedisTokenStore",
    "TokenProvider",
    "TokenStore",
    "decode_token_response",
    "token_cache_key",
]

logger = logging.getLogger("satusehat_async.auth")

Clock = Callable[[], float]


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """A bearer token and when it expires (epoch seconds, so it can be shared between hosts)."""

    access_token: str
    expires_at: float
    issued_at: float
    token_type: str = "Bearer"
    # The server's own issue time, for information: expiry is computed on our clock from
    # expires_in, so clock skew between us and the server cannot make a token look fresh.
    server_issued_at: float | None = None

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(expires_at={self.expires_at:.0f}, issued_at={self.issued_at:.0f})"

    __str__ = __repr__

    @property
    def lifetime(self) -> float:
        """Seconds between issue and expiry."""
        return max(0.0, self.expires_at - self.issued_at)

    def refresh_at(self, margin: float, fraction: float) -> float:
        """When to refresh: ``margin`` seconds early, at most ``fraction`` of the lifetime early."""
        return self.expires_at - min(margin, self.lifetime * fraction)

    def is_fresh(self, now: float, margin: float, fraction: float) -> bool:
        """Whether the token may be used without refreshing first."""
        return now < self.refresh_at(margin, fraction)


class _TokenAnswer(msgspec.Struct):
    """Both token answers: SATUSEHAT's (numbers as strings, ``issued_at`` in ms) and RFC 6749's."""

    access_token: str
    expires_in: str | int | float | None = None
    issued_at: str | int | float | None = None
    token_type: str | None = None


_token_decoder = msgspec.json.Decoder(_TokenAnswer)


def decode_token_response(body: bytes, *, now: float) -> AccessToken:
    """Decode a token endpoint's success body. Pure; raises AuthenticationError on nonsense."""
    try:
        answer = _token_decoder.decode(body)
        expires_in = float(answer.expires_in) if answer.expires_in not in (None, "") else 3600.0
        issued_at = float(answer.issued_at) / 1000.0 if answer.issued_at not in (None, "") else None
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        # The message names the problem, never the body (it may hold the token).
        raise AuthenticationError(
            f"token endpoint answered an unreadable body ({type(exc).__name__})", status=200
        ) from None
    if not answer.access_token:
        raise AuthenticationError("token endpoint answered an empty access_token", status=200)
    token_type = answer.token_type or "Bearer"
    if token_type.lower() in ("bearertoken", "bearer"):
        token_type = "Bearer"
    return AccessToken(
        access_token=answer.access_token,
        issued_at=now,
        expires_at=now + max(0.0, expires_in),
        token_type=token_type,
        server_issued_at=issued_at,
    )


def token_cache_key(auth_url: str, client_id: str) -> str:
    """The store key of a client's token: a hash, so neither URL nor client id leaks into keys."""
    digest = hashlib.sha256(f"{auth_url}\n{client_id}".encode()).hexdigest()[:32]
    return f"satusehat:token:{digest}"


@runtime_checkable
class TokenStore(Protocol):
    """Where tokens are kept. The in-process default is :class:`MemoryTokenStore`.

    ``lock(key)`` must give mutual exclusion among everything sharing the store (one
    process for the memory store, every process for a Redis store); holders re-read with
    ``get`` before fetching, so waiters reuse the token the first holder stored.
    """

    async def get(self, key: str) -> AccessToken | None:
        """The stored token, or None."""

    async def set(self, key: str, token: AccessToken) -> None:
        """Store a token (implementations may expire it at ``token.expires_at``)."""

    async def delete(self, key: str, access_token: str) -> None:
        """Forget the stored token if it is still ``access_token`` (compare-and-delete)."""

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Exclusive refresh right for ``key``."""


class MemoryTokenStore:
    """The default store: a dict and one asyncio.Lock per key, shared by clients in one process."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore(keys={len(self._tokens)})"

    async def get(self, key: str) -> AccessToken | None:
        return self._tokens.get(key)

    async def set(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    async def delete(self, key: str, access_token: str) -> None:
        current = self._tokens.get(key)
        if current is not None and current.access_token == access_token:
            del self._tokens[key]

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield


class TokenProvider:
    """Hands out a fresh token; refreshes single-flight, early, and politely.

    Args:
        fetch: coroutine asking the token endpoint (raises AuthenticationError or a
            transport error on failure).
        store: where tokens live; shared stores make clients share tokens.
        key: the store key (see :func:`token_cache_key`).
        clock: wall clock in epoch seconds (injectable for tests).
        refresh_margin: refresh this many seconds before expiry...
        refresh_fraction: ...but never earlier than this fraction of the token's lifetime
            before expiry, so a 60-second token is not refreshed on every call.
        failure_cooldown: after the endpoint failed, further fetches are refused for this
            long (doubling per consecutive failure, up to ``max_failure_cooldown``) instead
            of hammering an endpoint known to punish retries.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        store: TokenStore | None = None,
        key: str,
        clock: Clock = time.time,
        refresh_margin: float = 60.0,
        refresh_fraction: float = 0.1,
        failure_cooldown: float = 15.0,
        max_failure_cooldown: float = 60.0,
        on_refresh: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self._key = key
        self.clock = clock
        self._margin = refresh_margin
        self._fraction = refresh_fraction
        self._cooldown = failure_cooldown
        self._max_cooldown = max_failure_cooldown
        self._on_refresh = on_refresh
        self._lock = asyncio.Lock()
        self._cached: AccessToken | None = None
        self._failures = 0
        self._failed_until = 0.0
        self._last_error: SatuSehatError | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenProvider(store={self.store!r}, refreshes={self.refreshes})"

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and token.is_fresh(self.clock(), self._margin, self._fraction)

    async def token(self) -> AccessToken:
        """A token fresh enough to use now, fetching one (once, for everyone) if needed."""
        cached = self._cached
        if self._fresh(cached):
            assert cached is not None
            return cached
        async with self._lock:
            # Re-check: whoever held the lock before us may have refreshed already.
            if self._fresh(self._cached):
                assert self._cached is not None
                return self._cached
            stored = await self._safe_store_get()
            if self._fresh(stored):
                self._cached = stored
                assert stored is not None
                return stored
            return await self._refresh_locked(stale=self._cached or stored)

    async def _refresh_locked(self, stale: AccessToken | None) -> AccessToken:
        now = self.clock()
        if now < self._failed_until and self._last_error is not None:
            if stale is not None and now < stale.expires_at:
                return stale  # still valid, only due for early refresh
            raise _cooldown_error(self._last_error, self._failed_until - now)
        async with self.store.lock(self._key):
            stored = await self._safe_store_get()  # another process may have refreshed
            if self._fresh(stored):
                assert stored is not None
                self._cached = stored
                return stored
            try:
                token = await self._fetch()
            except SatuSehatError as exc:
                # Hold back only when the endpoint was reached: a refused connection or an
                # open circuit sent nothing it could punish.
                unsent = isinstance(exc, TransportError) and not exc.sent
                if not (unsent or isinstance(exc, CircuitOpenError)):
                    self._record_failure(exc)
                if stale is not None and self.clock() < stale.expires_at:
                    return stale
                raise
            self._failures = 0
            self._failed_until = 0.0
            self._last_error = None
            self.refreshes += 1
            if self._on_refresh is not None:
                self._on_refresh()
            await self._safe_store_set(token)
        self._cached = token
        logger.debug("token refreshed; valid for %.0fs", token.lifetime)
        return token

    def _record_failure(self, exc: SatuSehatError) -> None:
        """Hold back from the token endpoint: it is said to punish retries after a failure."""
        self._failures += 1
        delay = min(self._max_cooldown, self._cooldown * 2 ** (self._failures - 1))
        if isinstance(exc, AuthenticationError) and exc.status in (400, 401, 403):
            delay = self._max_cooldown  # wrong credentials will not fix themselves
        self._failed_until = self.clock() + delay
        self._last_error = exc
        logger.warning("token request failed (%s); next attempt in %.0fs", exc, delay)

    async def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` after a 401, unless a newer token already replaced it."""
        async with self._lock:
            if self._cached is not None and self._cached.access_token == access_token:
                self._cached = None
            with contextlib.suppress(Exception):
                await self.store.delete(self._key, access_token)

    async def _safe_store_get(self) -> AccessToken | None:
        try:
            return await self.store.get(self._key)
        except Exception as exc:  # a shared store being down must not fail the call
            logger.warning("token store unavailable (%s); using the in-process cache", exc)
            return self._cached

    async def _safe_store_set(self, token: AccessToken) -> None:
        try:
            await self.store.set(self._key, token)
        except Exception as exc:
            logger.warning("token store unavailable (%s); token kept in process only", exc)


def _cooldown_error(previous: SatuSehatError, wait: float) -> SatuSehatError:
    """The error raised while holding back: the same kind as the failure that caused it."""
    text = f"token endpoint failed recently, not asking again for {wait:.0f}s: {previous}"
    if isinstance(previous, APIError):
        return AuthenticationError(
            text, status=previous.status, request_id=previous.request_id, body=previous.body
        )
    if isinstance(previous, TransportError):
        return type(previous)(text, method=previous.method, url=previous.url, sent=False)
    return SatuSehatError(text)


def __getattr__(name: str) -> Any:
    # RedisTokenStore lives in its own module so `redis` stays an optional extra.
    if name == "RedisTokenStore":
        import importlib

        return importlib.import_module("satusehat_async.redis_store").RedisTokenStore
    raise AttributeError(name)
