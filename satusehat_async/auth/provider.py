"""Single-flight refresh: :class:`TokenProvider` hands out one cached token per client.

Refresh is single-flight: concurrent callers that find no fresh token queue on one
``asyncio.Lock`` and on the store's own lock (a Redis lock when the store is shared
across processes), re-read the store once they hold it, and only the first one
actually asks the token endpoint; callers that waited share its outcome. After a
failure the endpoint is left alone on :mod:`~satusehat_async.auth.schedule`'s hold-back.
Any echo of the client secret in an error never gets past this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from satusehat_async.auth.decode import usable_token
from satusehat_async.auth.schedule import TOKEN_HOLD_BACK, HoldBack
from satusehat_async.auth.tokens import AccessToken, MemoryTokenStore, TokenStore
from satusehat_async.errors import (
    APIError,
    AuthenticationError,
    CircuitOpenError,
    SatuSehatError,
    TransportError,
)
from satusehat_async.redact import scrubbed_error

__all__ = ["TokenProvider"]

# The name earlier releases logged under (and that log filters may select).
logger = logging.getLogger("satusehat_async.auth")

Clock = Callable[[], float]


class TokenProvider:
    """Hands out a fresh token; refreshes single-flight, early, and politely.

    Args:
        fetch: coroutine asking the token endpoint (raises AuthenticationError or a
            transport error on failure).
        store: where tokens live; shared stores make clients share tokens.
        key: the store key (see :func:`~satusehat_async.auth.tokens.token_cache_key`).
        clock: wall clock in epoch seconds (injectable for tests).
        refresh_margin: refresh this many seconds before expiry...
        refresh_fraction: ...but never earlier than this fraction of the token's lifetime
            before expiry, so a 60-second token is not refreshed on every call.
        failure_cooldown: after the endpoint failed, further fetches are refused for this
            long (doubling per consecutive failure, up to ``max_failure_cooldown``) instead
            of hammering an endpoint known to punish retries: the
            :class:`~satusehat_async.auth.schedule.HoldBack` kept as :attr:`hold_back`.
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
        failure_cooldown: float = TOKEN_HOLD_BACK.first,
        max_failure_cooldown: float = TOKEN_HOLD_BACK.longest,
        on_refresh: Callable[[], None] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._fetch = fetch
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self._key = key
        self.clock = clock
        self._margin = refresh_margin
        self._fraction = refresh_fraction
        self.hold_back = HoldBack(first=failure_cooldown, longest=max_failure_cooldown)
        """How long the endpoint is left alone after failures (15, 30, 60 s by default)."""
        self._on_refresh = on_refresh
        self._secrets = tuple(secrets)
        self._lock = asyncio.Lock()
        self._cached: AccessToken | None = None
        self._failures = 0  # consecutive failures that reached the endpoint
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
        """Fetch under the store's lock, unless holding back or another process just did."""
        now = self.clock()
        if now < self._failed_until and self._last_error is not None:
            if stale is not None and now < stale.expires_at:
                return stale  # still valid, only due for early refresh
            raise _hold_back_error(self._last_error, self._failed_until - now)
        async with self.store.lock(self._key):
            stored = await self._safe_store_get()  # another process may have refreshed
            if self._fresh(stored):
                assert stored is not None
                self._cached = stored
                return stored
            outcome = await self._fetch_checked()
            self._generation += 1
            if isinstance(outcome, SatuSehatError):
                return self._settle_failure(outcome, stale)
            await self._settle_success(outcome)
        self._cached = outcome
        logger.debug("token refreshed; valid for %.0fs", outcome.lifetime)
        return outcome

    async def _fetch_checked(self) -> AccessToken | SatuSehatError:
        """One fetch: a token fit for a header, or the failure with the secrets scrubbed."""
        try:
            token = await self._fetch()
            if not usable_token(token.access_token):
                raise AuthenticationError(
                    "the token fetched is unfit for a header (blank, or with spaces, "
                    "line breaks or control characters)",
                    status=200,
                )
        except SatuSehatError as exc:
            # A scrubbed copy, returned (raised later, outside this block): the original,
            # which may echo the secret, stays out of the exception chain.
            return scrubbed_error(exc, self._secrets)
        return token

    def _settle_failure(self, failure: SatuSehatError, stale: AccessToken | None) -> AccessToken:
        """Serve the stale token while it is valid, else raise ``failure`` (waiters too)."""
        serving = stale if stale is not None and self.clock() < stale.expires_at else None
        self._outcome = serving or failure  # what the waiters get, too
        self._record_failure(failure, serving)
        if serving is not None:
            return serving
        raise failure

    async def _settle_success(self, token: AccessToken) -> None:
        """Hand ``token`` to the waiters, end any hold-back, count and store it."""
        self._outcome = token
        self._failures = self._rejections = 0
        self._failed_until = 0.0
        self._last_error = None
        self.refreshes += 1
        if self._on_refresh is not None:
            self._on_refresh()
        await self._safe_store_set(token)

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
        rejected = isinstance(exc, AuthenticationError) and exc.status in (400, 401, 403)
        if rejected:
            self._rejections += 1
        delay = self.hold_back.wait(self._failures, rejected=rejected)
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


def _hold_back_error(previous: SatuSehatError, wait: float) -> SatuSehatError:
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
