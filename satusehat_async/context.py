"""What resource code may use of the client: :class:`ResourceContext`.

Resource APIs (MSI, Patients, and every one after them) receive a context, never the
whole client: one way to send a request with its options, the endpoints, the limits, the
retry policy with its clock and sleep, and keyed locks. The client is the composition
root that builds it (:class:`~satusehat_async.client.SatuSehatClient`); a test can build
one over a :class:`~satusehat_async.testing.MockBackend` transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from satusehat_async.http.options import RequestOptions
from satusehat_async.idempotency.memory import CreateMemory

if TYPE_CHECKING:
    from satusehat_async.config import Endpoints
    from satusehat_async.http.response import Response
    from satusehat_async.http.retry import RetryPolicy
    from satusehat_async.http.transport import Transport
    from satusehat_async.params import Params

__all__ = ["KeyedLocks", "ResourceContext", "context_of"]


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, dropped again when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for ``key`` for the duration of the block."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class ResourceContext:
    """The narrow view of the client that resource code works with.

    Attributes:
        endpoints: the resolved URLs (``fhir_url``, ``masterdata_url``, ...).
        connection_limit: simultaneous connections of the client (a crawl's concurrency
            never exceeds it).
        organization_id: the organization the client's credentials belong to, if known.
        locks: keyed locks shared by every resource of this client (e.g. one create per
            identifier at a time).
        creates: the client's memory of duplicate-safe creates (records created lately,
            outcomes left unknown; see :mod:`satusehat_async.idempotency`).
    """

    def __init__(
        self,
        transport: Transport,
        endpoints: Endpoints,
        *,
        connection_limit: int,
        organization_id: str | None = None,
    ) -> None:
        self._transport = transport
        self.endpoints = endpoints
        self.connection_limit = connection_limit
        self.organization_id = organization_id
        self.locks = KeyedLocks()
        self.creates = CreateMemory()

    def __repr__(self) -> str:
        return f"ResourceContext(fhir_url={self.endpoints.fhir_url!r})"

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        options: RequestOptions | None = None,
    ) -> Response:
        """Send one logical request through every stage (auth, retries, breaker...)."""
        request = self._transport.prepare(
            method, url, params=params, json=json, content=content, headers=headers
        )
        return await self._transport.send_request(request, options or RequestOptions())

    def record_outcome(self, url: str, *, ok: bool) -> None:
        """Report the outcome of a call sent with ``count_failure=False`` to the breaker."""
        self._transport.record_outcome(url, ok=ok)

    # Read on every use: tests swap the transport's clock and sleep after construction.
    @property
    def retry(self) -> RetryPolicy:
        """The client's retry policy (the default of every request)."""
        return self._transport.retry

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        """The injected sleep (``asyncio.sleep`` unless a test replaces it)."""
        return self._transport.sleep

    @property
    def monotonic(self) -> Callable[[], float]:
        """The injected monotonic clock that measures retry budgets."""
        return self._transport.monotonic

    @property
    def max_response_size(self) -> int:
        """The largest answer the client reads, in bytes."""
        return int(self._transport.max_response_size)


def context_of(owner: object) -> ResourceContext:
    """The context of ``owner``: a :class:`ResourceContext` itself, or a client's
    ``.context`` (resource APIs took the whole client in earlier releases)."""
    return cast(ResourceContext, getattr(owner, "context", owner))
