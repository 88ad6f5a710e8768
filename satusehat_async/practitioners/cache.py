"""A look-up cache with a time to live and one request in flight per key.

:class:`LookupCache` is what keeps ``client.practitioners.by_nik`` to one request per NIK:
a value (or a miss, kept for its own, shorter time) is served from memory until it
expires by the injected clock, and concurrent look-ups of a key not yet cached share
the one request made for it (single flight). A failed look-up is not cached: the next
caller tries again. The cache holds at most ``max_entries`` keys (the least recently
used go first), so a long-lived client's memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from satusehat_async.errors import ValidationError

__all__ = ["LookupCache"]

V = TypeVar("V")


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValidationError(f"{name} must be a number of seconds >= 0, not {value!r:.40}")
    return float(value)


class LookupCache(Generic[V]):
    """Values by key, each kept ``ttl`` seconds (misses ``miss_ttl``), loaded once at a time.

    Args:
        clock: the monotonic clock the times to live are measured with (read at each use).
        ttl: seconds a found value is served from memory (0: not kept).
        miss_ttl: seconds a miss (None) is (0: not kept; asked again each time).
        max_entries: the most keys kept; the least recently used are dropped first.

    Attributes:
        requests: look-ups that went to ``fetch`` (hits and coalesced waits did not).
        hits: look-ups answered from memory.
        coalesced: look-ups that waited for another caller's request in flight.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        ttl: float = 3600.0,
        miss_ttl: float = 300.0,
        max_entries: int = 10_000,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValidationError(f"max_entries must be a whole number >= 1, not {max_entries!r}")
        self._clock = clock
        self.ttl, self.miss_ttl, self.max_entries = ttl, miss_ttl, max_entries
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[V | None]] = {}
        self.requests = self.hits = self.coalesced = 0

    @property
    def ttl(self) -> float:
        """Seconds a found value is served from memory."""
        return self._ttl

    @ttl.setter
    def ttl(self, value: float) -> None:
        self._ttl = _seconds("ttl", value)

    @property
    def miss_ttl(self) -> float:
        """Seconds a miss is remembered."""
        return self._miss_ttl

    @miss_ttl.setter
    def miss_ttl(self, value: float) -> None:
        self._miss_ttl = _seconds("miss_ttl", value)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:  # keys are personal data (NIKs): never shown
        return f"LookupCache({len(self)} entries, ttl={self.ttl:g}s, miss_ttl={self.miss_ttl:g}s)"

    def clear(self) -> None:
        """Forget every cached value (look-ups in flight still finish)."""
        self._entries.clear()

    def forget(self, key: str) -> None:
        """Forget ``key``'s cached value, if any."""
        self._entries.pop(key, None)

    def cached(self, key: str) -> tuple[bool, V | None]:
        """``(True, value)`` if ``key`` is cached and fresh, else ``(False, None)``."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    async def get(self, key: str, fetch: Callable[[], Awaitable[V | None]]) -> V | None:
        """``key``'s value: from memory while fresh, else from ``fetch()`` — called once
        for every caller waiting on the key at the time (its error reaches them all)."""
        found, value = self.cached(key)
        if found:
            self.hits += 1
            return value
        future = self._inflight.get(key)
        if future is None:
            self.requests += 1
            future = asyncio.ensure_future(self._load(key, fetch))
            future.add_done_callback(_retrieve)
            self._inflight[key] = future
        else:
            self.coalesced += 1
        # shielded: one caller cancelled does not cancel the request the others wait on
        return await asyncio.shield(future)

    async def _load(self, key: str, fetch: Callable[[], Awaitable[V | None]]) -> V | None:
        try:
            value = await fetch()
        finally:
            self._inflight.pop(key, None)
        ttl = self.ttl if value is not None else self.miss_ttl
        if ttl > 0:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failed look-up's error as seen (every waiter may have been cancelled)."""
    if not future.cancelled():
        future.exception()
