"""The token value and where it is kept: :class:`AccessToken`, the :class:`TokenStore` seam.

:class:`MemoryTokenStore` is the in-process default;
:class:`~satusehat_async.auth.redis.RedisTokenStore` shares one token between processes.
Both keep a client's token under :func:`token_cache_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import msgspec

__all__ = ["AccessToken", "MemoryTokenStore", "TokenStore", "token_cache_key"]


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
        """The token kept under ``key``, or None."""
        return self._tokens.get(key)

    async def set(self, key: str, token: AccessToken) -> None:
        """Keep ``token`` under ``key``."""
        self._tokens[key] = token

    async def delete(self, key: str, access_token: str) -> None:
        """Forget the token under ``key`` if it still is ``access_token``."""
        current = self._tokens.get(key)
        if current is not None and current.access_token == access_token:
            del self._tokens[key]

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Exclusive refresh right for ``key`` among the tasks of this process."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield
