"""Everything that speaks HTTP: the request stages above one I/O seam.

- :mod:`.backend` — the seam: :class:`Backend`, :class:`BackendRequest`, :class:`BackendResponse`.
- :mod:`.aiohttp_backend` — the one module that uses aiohttp's client.
- :mod:`.transport` — the stages: breaker, the one retry loop, bearer auth, rate limit.
- :mod:`.request`, :mod:`.options`, :mod:`.response` — the values flowing through them.
- :mod:`.classify`, :mod:`.bearer` — pure decisions: answer -> Response or error; token problem.
- :mod:`.retry`, :mod:`.resilience` — the retry engine, the circuit breaker, the rate limiter.

The official fake of the seam is :class:`satusehat_async.testing.MockBackend`.
"""

from __future__ import annotations

from satusehat_async.http.backend import Backend, BackendRequest, BackendResponse, Timeout
from satusehat_async.http.options import RequestOptions

__all__ = ["Backend", "BackendRequest", "BackendResponse", "RequestOptions", "Timeout"]
