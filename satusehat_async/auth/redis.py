"""A token store shared through Redis, so every worker process uses one access token.

Install the extra: ``pip install 'satusehat-async[redis]'``. This module imports the
``redis`` package only when a store is built, so it is importable (and
``satusehat_async.auth`` exports :class:`RedisTokenStore`) without it. Then::

    from satusehat_async import SatuSehatClient
    from satusehat_async.auth import RedisTokenStore

    store = RedisTokenStore("redis://127.0.0.1:6379/0")
    client = SatuSehatClient.from_env(token_store=store)

How it behaves:

* Tokens are stored as msgspec JSON under the key the client chooses (a hash of the
  token endpoint and client id), expiring in Redis when the token expires.
* ``lock(key)`` is a redis-py :class:`redis.asyncio.lock.Lock` with an expiry (renewed
  while held), taken after an in-process ``asyncio.Lock`` (so one task per process
  waits on Redis). The :class:`~satusehat_async.auth.TokenProvider` re-reads the store
  once it holds the lock, so when N processes need a token at once, one asks the token
  endpoint and the others reuse what it stored.
* ``delete(key, access_token)`` is an atomic compare-and-delete (a Lua script): a
  process that got a 401 with an old token never deletes the newer token another
  process already stored.
* Redis being down never fails a call: every operation falls back to an in-process
  copy of the tokens and the in-process lock, with one warning per outage. While Redis
  is known to be down it is not asked again for ``retry_interval`` seconds, so an
  unreachable host costs at most one timeout per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import msgspec

from satusehat_async.auth.decode import MAX_TOKEN_LIFETIME, usable_token
from satusehat_async.auth.tokens import AccessToken
from satusehat_async.errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.lock import Lock
    from redis.commands.core import AsyncScript

__all__ = ["RedisTokenStore"]

# The name earlier releases logged under (and that log filters may select).
logger = logging.getLogger("satusehat_async.redis_store")

_INSTALL_HINT = "RedisTokenStore needs the redis package: pip install 'satusehat-async[redis]'"

# Delete the stored token only if it still is the one the caller saw rejected.
_COMPARE_AND_DELETE = """
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, token = pcall(cjson.decode, stored)
if ok and type(token) == 'table' and token['access_token'] == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AccessToken)


def _ttl_ms(remaining: float) -> int | None:
    """A PX value Redis accepts for a token with ``remaining`` seconds to live, or None.

    Redis refuses a non-positive or overflowing expiry, so the value is between 1 ms and
    :data:`~satusehat_async.auth.MAX_TOKEN_LIFETIME` (tokens from a custom fetch are not
    clamped like decoded ones; an endless one is kept for the maximum, a NaN not at all).
    """
    if math.isnan(remaining) or remaining <= 0:
        return None
    return max(1, int(min(remaining, MAX_TOKEN_LIFETIME) * 1000))


def _reason(exc: ValueError) -> str:
    """redis-py's or urllib's complaint about a URL, unless it quotes the authority."""
    text = str(exc)
    return text if "@" not in text and "//" not in text else type(exc).__name__


def _redact_url(url: str) -> str:
    """``url`` with the password (in the authority or a ``password=`` query) shown as ``***``."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            redacted = [(k, "***" if k.lower() == "password" else v) for k, v in pairs]
            query = urllib.parse.urlencode(redacted, safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class RedisTokenStore:
    """A :class:`~satusehat_async.auth.TokenStore` in Redis, shared by every process using it.

    Args:
        url: a redis-py URL (``redis://[user:password@]host:port/db``, ``rediss://``,
            ``unix://``). Optional when ``client`` is given.
        prefix: prepended to every key, to share one Redis between applications.
        lock_timeout: the refresh lock's maximum life in seconds (a crashed holder
            releases it by expiring).
        wait_timeout: how long a process waits for another one's refresh before it
            refreshes on its own. The holder renews the lock while alive, so this only
            bounds the wait on a live but very slow holder.
        socket_timeout: seconds to connect and to wait for each Redis answer.
        retry_interval: after a Redis failure, seconds during which Redis is not asked
            again and the in-process fallback serves.
        client: a ``redis.asyncio.Redis`` to borrow (never closed by :meth:`aclose`).
        clock: wall clock in epoch seconds, for the keys' time to live.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "",
        lock_timeout: float = 10.0,
        wait_timeout: float = 60.0,
        socket_timeout: float = 1.0,
        retry_interval: float = 5.0,
        client: Redis | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:
            raise ConfigurationError(_INSTALL_HINT) from exc
        if lock_timeout <= 0:
            raise ConfigurationError("lock_timeout must be positive")
        if wait_timeout < 0:
            raise ConfigurationError("wait_timeout must not be negative")
        self._owns_client = client is None
        if client is None:
            if not url:
                raise ConfigurationError("RedisTokenStore needs a Redis URL or a client")
            try:
                client = Redis.from_url(
                    url,
                    socket_timeout=socket_timeout,
                    socket_connect_timeout=socket_timeout,
                    # One quick retry heals a pooled connection that Redis closed (restart);
                    # redis-py's default (10 with backoff) would stall a call while Redis is
                    # down.
                    retry=Retry(NoBackoff(), 1),
                )
            except ValueError as exc:
                # The reason, never the URL: it may hold the password.
                raise ConfigurationError(f"invalid Redis URL: {_reason(exc)}") from None
        self._redis: Redis = client
        self._url = _redact_url(url) if url else None
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self.retry_interval = retry_interval
        self._clock = clock
        self._delete_script: AsyncScript = client.register_script(_COMPARE_AND_DELETE)
        # The fallback: the latest token seen per key, and the in-process half of the lock.
        self._local_tokens: dict[str, AccessToken] = {}
        self._local_locks: dict[str, asyncio.Lock] = {}
        self._degraded = False
        self._skip_until = 0.0

    def __repr__(self) -> str:
        where = repr(self._url) if self._url is not None else "<borrowed client>"
        state = ", degraded" if self._degraded else ""
        return f"RedisTokenStore({where}, prefix={self.prefix!r}{state})"

    @property
    def degraded(self) -> bool:
        """True while Redis is failing and the in-process fallback serves."""
        return self._degraded

    @property
    def redis(self) -> Redis:
        """The underlying ``redis.asyncio.Redis`` client."""
        return self._redis

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    # -- health ------------------------------------------------------------------------

    def _should_try(self) -> bool:
        return not self._degraded or time.monotonic() >= self._skip_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._skip_until = time.monotonic() + self.retry_interval
        if not self._degraded:
            self._degraded = True
            # redis-py's messages name host and port, never the password.
            logger.warning(
                "Redis token store unavailable (%s: %s: %s); falling back to the in-process "
                "token cache and lock",
                operation,
                type(exc).__name__,
                exc,
            )
        else:
            logger.debug("Redis token store still unavailable (%s: %s)", operation, exc)

    def _succeeded(self) -> None:
        if self._degraded:
            self._degraded = False
            logger.warning("Redis token store reachable again; sharing tokens through it")

    # -- TokenStore --------------------------------------------------------------------

    async def get(self, key: str) -> AccessToken | None:
        """The token in Redis (or, while Redis is down, the last one this process saw)."""
        if not self._should_try():
            return self._local_tokens.get(key)
        try:
            raw = await self._redis.get(self._name(key))
        except Exception as exc:
            self._failed("GET", exc)
            return self._local_tokens.get(key)
        self._succeeded()
        if raw is None:
            self._local_tokens.pop(key, None)
            return None
        try:
            token = _decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            token = None
        if token is None or not usable_token(token.access_token):  # damaged or poisoned
            logger.warning("ignoring an unreadable token entry in Redis")
            return None
        self._local_tokens[key] = token
        return token

    async def set(self, key: str, token: AccessToken) -> None:
        """Store ``token`` (kept in process too), expiring in Redis when the token expires."""
        self._local_tokens[key] = token
        ttl_ms = _ttl_ms(token.expires_at - self._clock())
        if ttl_ms is None or not self._should_try():
            return
        try:
            await self._redis.set(self._name(key), _encoder.encode(token), px=ttl_ms)
        except Exception as exc:
            self._failed("SET", exc)
        else:
            self._succeeded()

    async def delete(self, key: str, access_token: str) -> None:
        """Forget the stored token if it still is ``access_token`` (atomic compare-and-delete)."""
        local = self._local_tokens.get(key)
        if local is not None and local.access_token == access_token:
            del self._local_tokens[key]
        if not self._should_try():
            return
        try:
            await self._delete_script(keys=[self._name(key)], args=[access_token])
        except Exception as exc:
            self._failed("DELETE", exc)
        else:
            self._succeeded()

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Exclusive refresh right for ``key`` across every process sharing this Redis.

        Tasks of one process queue on an ``asyncio.Lock`` first; the one holding it takes
        the Redis lock, and keeps renewing its expiry while it is held (a slow token
        endpoint does not let the lock lapse; a crashed process loses it after
        ``lock_timeout``). If Redis fails, the in-process lock alone is held (one warning
        per outage). If another process holds the Redis lock longer than
        ``wait_timeout``, the caller goes ahead without it rather than failing.
        """
        local = self._local_locks.setdefault(key, asyncio.Lock())
        async with local:
            held = await self._acquire(key)
            if held is None:
                yield
                return
            renewing = asyncio.ensure_future(self._keep_alive(held))
            try:
                yield
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await self._release(held)

    async def _keep_alive(self, lock: Lock) -> None:
        """Reset the lock's expiry to ``lock_timeout`` every third of it, while it is held."""
        from redis.exceptions import LockError

        while True:
            await asyncio.sleep(self.lock_timeout / 3)
            try:
                await lock.reacquire()
            except LockError:
                return  # lost it (expired during a stall): release will say so
            except Exception as exc:
                self._failed("LOCK RENEW", exc)
                return

    async def _acquire(self, key: str) -> Lock | None:
        if not self._should_try():
            return None
        lock = self._redis.lock(
            self._name(key) + ":lock",
            timeout=self.lock_timeout,
            sleep=0.05,
            blocking_timeout=self.wait_timeout,
            thread_local=False,  # acquired and released by the same task, not thread
        )
        try:
            acquired = await lock.acquire()
        except Exception as exc:
            self._failed("LOCK", exc)
            return None
        self._succeeded()
        if not acquired:
            logger.warning(
                "another process held the token refresh lock for over %.1fs; refreshing without it",
                self.wait_timeout,
            )
            return None
        return lock

    async def _release(self, lock: Lock) -> None:
        from redis.exceptions import LockError

        try:
            await lock.release()
        except LockError:
            logger.warning(
                "the token refresh lock expired before the refresh ended "
                "(lock_timeout=%.1fs is shorter than the token request took)",
                self.lock_timeout,
            )
        except Exception as exc:
            self._failed("UNLOCK", exc)

    # -- lifecycle ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the Redis connections this store opened (a borrowed client stays open)."""
        if self._owns_client:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisTokenStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
