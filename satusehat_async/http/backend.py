"""The one I/O seam: a :class:`Backend` exchanges a request for a fully read answer.

Everything above it (auth, retries, the breaker, error decoding) is ours and pure
enough to test with :class:`~satusehat_async.testing.MockBackend`; everything below it
is one HTTP library. The shipped backend is
:class:`~satusehat_async.http.aiohttp_backend.AiohttpBackend`.

A backend's contract:

- return the answer whatever its status (a 500 is an answer, not an error);
- read the body whole, decompressed, and raise
  :class:`~satusehat_async.errors.ResponseTooLarge` past ``request.max_size`` bytes;
- raise :class:`~satusehat_async.errors.TransportError` (or its
  :class:`~satusehat_async.errors.RequestTimeout`) when no answer arrived, with
  ``sent=False`` only when the request provably never left;
- never follow redirects, never add credentials of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy, MultiDictProxy
from yarl import URL

from satusehat_async.errors import ResponseTooLarge
from satusehat_async.redact import redact_url

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "Backend",
    "BackendRequest",
    "BackendResponse",
    "Timeout",
    "response_too_large",
]

DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
"""64 MiB: a full 2000-row MSI page is a few MB, so this leaves a wide margin."""


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds allowed for one HTTP attempt (None: no limit).

    ``connect`` bounds establishing a connection only (time spent queued for a pooled
    connection is not counted: it is no failure to connect, and must not make a write
    look as if it may have left).
    """

    total: float | None = 30.0
    connect: float | None = 10.0


@dataclass(frozen=True, slots=True)
class BackendRequest:
    """One HTTP attempt as the backend sees it: everything decided, nothing left to add."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: Timeout
    max_size: int = DEFAULT_MAX_RESPONSE_SIZE

    def __repr__(self) -> str:  # headers carry the bearer token, the URL a NIK: never shown
        return f"BackendRequest({self.method} {redact_url(self.url)!r})"

    @property
    def query(self) -> MultiDictProxy[str]:
        """The URL's query parameters (repeated keys kept), for fakes and tests."""
        return URL(self.url, encoded=True).query

    def json(self) -> Any:
        """The body decoded as JSON (None when there is no body)."""
        return msgspec.json.decode(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class BackendResponse:
    """An answer, fully read: any status, case-insensitive headers, the decompressed body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str] | None, body: bytes) -> BackendResponse:
        """Build one from plain values (headers as any mapping)."""
        if isinstance(headers, CIMultiDictProxy):
            return cls(status, headers, body)
        return cls(status, CIMultiDictProxy(CIMultiDict(headers or {})), body)


@runtime_checkable
class Backend(Protocol):
    """Sends one HTTP attempt. See the module docstring for the contract."""

    async def exchange(self, request: BackendRequest) -> BackendResponse:
        """Send ``request`` and return its answer, read whole (any status)."""

    async def aclose(self) -> None:
        """Release connections; later exchanges may fail."""


def response_too_large(request: BackendRequest, where: str, status: int) -> ResponseTooLarge:
    """The error for an answer over ``request.max_size`` (``where``: the redacted URL)."""
    return ResponseTooLarge(
        f"{request.method} {where}: the answer (HTTP {status}) is larger than "
        f"max_response_size ({request.max_size:,} bytes); reading stopped",
        method=request.method,
        url=where,
        limit=request.max_size,
        status=status,
    )
