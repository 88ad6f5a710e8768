"""Access tokens: decoding, the token store seam, and single-flight refresh.

One :class:`TokenProvider` per client hands out a cached token. Refresh is
single-flight: concurrent callers that find no fresh token queue on one
``asyncio.Lock`` and on the store's own lock (a Redis lock when the store is shared
across processes), re-read the store once they hold it, and only the first one
actually asks the token endpoint; callers that waited share its outcome.

A token answer's ``expires_in`` is believed when it is a number of seconds (SATUSEHAT
sends a string) of at least one second, cut to a day; anything else counts as unknown
and means an hour (see :func:`token_lifetime`). A token value unfit for a header, and
any echo of the client secret in an error, never get past this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from satusehat_async.errors import (
    APIError,
    AuthenticationError,
    CircuitOpenError,
    SatuSehatError,
    TransportError,
)
from satusehat_async.redact import scrub_secrets, scrubbed_error

# scrub_secrets lives in satusehat_async.redact (every redaction in one place); it stays
# importable from here, where it was first published.
_scrubbed_error = scrubbed_error

if TYPE_CHECKING:
    from satusehat_async.redis_store import RedisTokenStore as RedisTokenStore

__all__ = [
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_TOKEN_LIFETIME",
    "MIN_TOKEN_LIFETIME",
    "AccessToken",
    "MemoryTokenStore",
    "RedisTokenStore",
    "TokenProvider",
    "TokenStore",
    "decode_token_response",
    "scrub_secrets",
    "token_cache_key",
    "token_lifetime",
    "usable_token",
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


DEFAULT_TOKEN_LIFETIME = 3600.0
"""Seconds a token is assumed to live when the answer's ``expires_in`` is unusable."""
MIN_TOKEN_LIFETIME = 1.0
"""The shortest ``expires_in`` believed; shorter (0, negative) counts as unusable."""
MAX_TOKEN_LIFETIME = 86_400.0
"""The longest lifetime used: a longer ``expires_in`` (``1e300``) is cut to one day."""

# A decimal number of seconds as a JSON number or string carries it; "nan", "inf",
# "Infinity", words, booleans, lists are not numbers (Python's float() would take some).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A token goes verbatim into a header: visible ASCII only (RFC 6750's b64token and more),
# so CR/LF, spaces, controls and non-ASCII never reach it.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class _TokenAnswer(msgspec.Struct):
    """Both token answers: SATUSEHAT's (numbers as strings, ``issued_at`` in ms) and RFC 6749's.

    Fields stay raw JSON so that a hostile value (``1e400``, a list, nesting) is judged
    here, field by field, instead of failing the whole answer.
    """

    access_token: msgspec.Raw = msgspec.Raw(b"null")
    expires_in: msgspec.Raw = msgspec.Raw(b"null")
    issued_at: msgspec.Raw = msgspec.Raw(b"null")
    token_type: msgspec.Raw = msgspec.Raw(b"null")


_token_decoder = msgspec.json.Decoder(_TokenAnswer)


def _raw_string(raw: msgspec.Raw) -> str | None:
    """A raw JSON value's content if it is a string, else None."""
    data = bytes(raw).strip()
    if not data.startswith(b'"'):
        return None
    try:
        return msgspec.json.decode(data, type=str)
    except msgspec.DecodeError:  # pragma: no cover - msgspec hands out valid JSON only
        return None


def _raw_text(raw: msgspec.Raw) -> str | None:
    """A raw JSON value as text: a string's content or a number's literal; else None."""
    string = _raw_string(raw)
    if string is not None:
        return string.strip()
    text = bytes(raw).strip().decode("ascii", errors="replace")
    return text if _DECIMAL.fullmatch(text) else None


def _seconds(raw: msgspec.Raw) -> float | None:
    """A JSON number (or numeric string) of seconds, ``inf`` when beyond a double."""
    text = _raw_text(raw)
    if text is None or not _DECIMAL.fullmatch(text):
        return None
    return float(text)  # a decimal literal never gives nan; an overflow gives inf


def token_lifetime(expires_in: object) -> float:
    """The lifetime in seconds to use for a token answer's ``expires_in``.

    A decimal number of seconds (a JSON number, or a string as SATUSEHAT sends it:
    ``"14399"``) from :data:`MIN_TOKEN_LIFETIME` up is believed, capped at
    :data:`MAX_TOKEN_LIFETIME`; anything else (missing, ``0``, negative, ``"nan"``,
    ``"inf"``, a word, a boolean) means unknown: :data:`DEFAULT_TOKEN_LIFETIME`.
    """
    if isinstance(expires_in, msgspec.Raw):
        seconds = _seconds(expires_in)
    elif isinstance(expires_in, (int, float, str)) and not isinstance(expires_in, bool):
        text = str(expires_in).strip()
        seconds = float(text) if _DECIMAL.fullmatch(text) else None
    else:
        seconds = None
    if seconds is None or not seconds >= MIN_TOKEN_LIFETIME:
        return DEFAULT_TOKEN_LIFETIME
    return min(seconds, MAX_TOKEN_LIFETIME)


def usable_token(value: object) -> bool:
    """Whether ``value`` may go into an ``Authorization`` header: visible ASCII, not blank."""
    return isinstance(value, str) and _TOKEN_CHARS.fullmatch(value) is not None


def decode_token_response(body: bytes, *, now: float) -> AccessToken:
    """Decode a token endpoint's success body. Pure; raises AuthenticationError on nonsense.

    The lifetime follows :func:`token_lifetime`; an ``access_token`` that is missing,
    blank, not a string or not fit for a header (CR/LF, spaces, controls) is refused.
    """
    try:
        answer = _token_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        # The message names the problem, never the body (it may hold the token).
        raise AuthenticationError(
            f"token endpoint answered an unreadable body ({type(exc).__name__})", status=200
        ) from None
    access_token = _raw_string(answer.access_token)
    if access_token is None:
        raise AuthenticationError("token endpoint answered no access_token", status=200)
    if not usable_token(access_token):
        raise AuthenticationError(
            "token endpoint answered an access_token unfit for a header "
            "(blank, or with spaces, line breaks or control characters)",
            status=200,
        )
    issued_ms = _seconds(answer.issued_at)
    issued_at = issued_ms / 1000.0 if issued_ms is not None and math.isfinite(issued_ms) else None
    token_type = (_raw_string(answer.token_type) or "").strip()
    if not usable_token(token_type) or token_type.lower() in ("bearertoken", "bearer"):
        token_type = "Bearer"
    return AccessToken(
        access_token=access_token,
        issued_at=now,
        expires_at=now + token_lifetime(answer.expires_in),
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
        secrets: values (the client secret) that must never appear in an error or a log
            line, even when the token endpoint echoes them back; they are scrubbed, as is
            the value of any ``client_secret`` field.

    Callers waiting while a fetch is under way share its outcome (the token, or the
    error), so any number of concurrent callers costs one token request, whatever the
    token's lifetime.
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
        secrets: Sequence[str] = (),
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
        self._secrets = tuple(secrets)
        self._lock = asyncio.Lock()
        self._cached: AccessToken | None = None
        self._failures = 0
        self._rejections = 0  # consecutive refusals of the credentials (logged once)
        self._failed_until = 0.0
        self._last_error: SatuSehatError | None = None
        # Single flight: every fetch bumps the generation and leaves its outcome here.
        self._generation = 0
        self._outcome: AccessToken | SatuSehatError | None = None
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
        generation = self._generation
        async with self._lock:
            outcome = self._outcome
            if self._generation != generation and outcome is not None:
                # A fetch ended while we waited: its outcome is ours too.
                if isinstance(outcome, AccessToken):
                    return outcome
                raise copy.copy(outcome)
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
            failure: SatuSehatError | None = None
            try:
                token = await self._fetch()
                if not usable_token(token.access_token):
                    raise AuthenticationError(
                        "the token fetched is unfit for a header (blank, or with spaces, "
                        "line breaks or control characters)",
                        status=200,
                    )
            except SatuSehatError as exc:
                # A scrubbed copy, raised outside this block: the original (which may
                # echo the secret) stays out of the exception chain.
                failure = _scrubbed_error(exc, self._secrets)
            self._generation += 1
            if failure is not None:
                serving = stale if stale is not None and self.clock() < stale.expires_at else None
                self._outcome = serving or failure  # what the waiters get, too
                self._record_failure(failure, serving)
                if serving is not None:
                    return serving
                raise failure
            self._outcome = token
            self._failures = self._rejections = 0
            self._failed_until = 0.0
            self._last_error = None
            self.refreshes += 1
            if self._on_refresh is not None:
                self._on_refresh()
            await self._safe_store_set(token)
        self._cached = token
        logger.debug("token refreshed; valid for %.0fs", token.lifetime)
        return token

    def _record_failure(self, exc: SatuSehatError, serving: AccessToken | None) -> None:
        """Hold back from the token endpoint: it is said to punish retries after a failure.

        Hold back only when the endpoint was reached: a refused connection or an open
        circuit sent nothing it could punish. The log line says what callers meet now;
        it is a WARNING only when no caller sees the failure (a still valid token keeps
        serving), since a raised error speaks for itself. Refused credentials are
        logged once until a token is fetched again.
        """
        if (isinstance(exc, TransportError) and not exc.sent) or isinstance(exc, CircuitOpenError):
            return
        self._failures += 1
        delay = min(self._max_cooldown, self._cooldown * 2 ** (self._failures - 1))
        rejected = isinstance(exc, AuthenticationError) and exc.status in (400, 401, 403)
        if rejected:
            delay = self._max_cooldown  # wrong credentials will not fix themselves
            self._rejections += 1
        self._failed_until = self.clock() + delay
        self._last_error = exc
        what = "token endpoint rejected the credentials" if rejected else "token request failed"
        if serving is not None:
            then = f"the current token serves for {serving.expires_at - self.clock():.0f}s more"
        else:
            then = "calls until then fail fast"
        level = logging.WARNING if serving is not None else logging.INFO
        if rejected and self._rejections > 1:
            level = logging.DEBUG
        logger.log(level, "%s (%s); not asking it again for %.0fs: %s", what, exc, delay, then)

    async def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` after a 401, unless a newer token already replaced it."""
        async with self._lock:
            if self._cached is not None and self._cached.access_token == access_token:
                self._cached = None
            outcome = self._outcome
            if isinstance(outcome, AccessToken) and outcome.access_token == access_token:
                self._outcome = None  # callers still waiting must not be handed it
            with contextlib.suppress(Exception):
                await self.store.delete(self._key, access_token)

    async def _safe_store_get(self) -> AccessToken | None:
        try:
            token = await self.store.get(self._key)
        except Exception as exc:  # a shared store being down must not fail the call
            logger.warning("token store unavailable (%s); using the in-process cache", exc)
            return self._cached
        if token is not None and not usable_token(token.access_token):
            return None  # a damaged or poisoned entry: fetch a new one
        return token

    async def _safe_store_set(self, token: AccessToken) -> None:
        try:
            await self.store.set(self._key, token)
        except Exception as exc:
            logger.warning("token store unavailable (%s); token kept in process only", exc)


def _cooldown_error(previous: SatuSehatError, wait: float) -> SatuSehatError:
    """The error raised while holding back: the same kind as the failure that caused it."""
    text = f"token endpoint failed recently, not asking again for {wait:.0f}s: "
    if isinstance(previous, APIError):
        # message, not str(): status and request id are carried (and shown) by the error
        return AuthenticationError(
            text + previous.message,
            status=previous.status,
            request_id=previous.request_id,
            body=previous.body,
        )
    if isinstance(previous, TransportError):
        return type(previous)(
            text + str(previous), method=previous.method, url=previous.url, sent=False
        )
    return SatuSehatError(text + str(previous))


def __getattr__(name: str) -> Any:
    # RedisTokenStore lives in its own module so `redis` stays an optional extra.
    if name == "RedisTokenStore":
        import importlib

        return importlib.import_module("satusehat_async.redis_store").RedisTokenStore
    raise AttributeError(name)
