"""``MockBackend``: the official fake of the I/O seam — a client that opens no socket.

::

    from satusehat_async import SatuSehatClient
    from satusehat_async.testing import MockBackend

    def handler(request):
        if request.url.endswith("/accesstoken?grant_type=client_credentials"):
            return 200, {}, {"access_token": "t", "expires_in": "3600"}
        return 200, {"X-Request-Id": "r-1"}, {"data": []}

    backend = MockBackend(handler)
    async with SatuSehatClient("id", "secret", backend=backend) as client:
        await client.request("GET", "/masterdata/v1/mastersaranaindex/mastersarana")
    assert backend.requests[-1].headers["Authorization"] == "Bearer t"

The handler (a plain function or a coroutine function) receives each attempt as a
:class:`~satusehat_async.http.BackendRequest` — ``.method``, ``.url`` (a string with
its query), ``.headers``, ``.body`` (bytes, ``b""`` when there is none), plus the
conveniences ``.query`` and ``.json()`` — and returns one of:

- ``(status, headers, body)`` or ``(status, body)``, where ``body`` is
  ``bytes`` (sent as is), ``str`` (UTF-8) or any other value, encoded as JSON (dicts,
  lists, numbers, ``None``, msgspec Structs) with ``Content-Type: application/json``
  unless the headers name one;
- a :class:`~satusehat_async.http.BackendResponse`.

Raising :class:`~satusehat_async.errors.TransportError` (or ``RequestTimeout``) from the
handler simulates a connection failure — ``sent=False`` for one that never left. The
backend enforces the client's ``max_response_size`` as the real one does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async.http.backend import BackendRequest, BackendResponse, response_too_large
from satusehat_async.redact import redact_url

__all__ = ["Handler", "HandlerResult", "MockBackend"]

HandlerResult = BackendResponse | tuple[int, Any] | tuple[int, Mapping[str, str], Any]
Handler = Callable[[BackendRequest], HandlerResult | Awaitable[HandlerResult]]

_json = msgspec.json.Encoder()


def _response(result: object) -> BackendResponse:
    """The handler's return value as a BackendResponse."""
    if isinstance(result, BackendResponse):
        return result
    if not isinstance(result, tuple) or len(result) not in (2, 3):
        raise TypeError(
            "a MockBackend handler returns (status, headers, body), (status, body) or a "
            f"BackendResponse, not {type(result).__name__}"
        )
    status, headers, body = result if len(result) == 3 else (result[0], {}, result[1])
    merged: CIMultiDict[str] = CIMultiDict(headers or {})
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, (bytes, bytearray, memoryview)):
        payload = bytes(body)
    else:
        payload = _json.encode(body)
        merged.setdefault("Content-Type", "application/json")
    return BackendResponse(int(status), CIMultiDictProxy(merged), payload)


class MockBackend:
    """A :class:`~satusehat_async.http.Backend` answering from ``handler`` (see the module).

    Attributes:
        requests: every attempt received, in order (401 replays and retries included).
        closed: whether ``aclose()`` was called.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError("MockBackend needs a handler: request -> (status, headers, body)")
        self.handler = handler
        self.requests: list[BackendRequest] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"MockBackend(requests={len(self.requests)})"

    async def exchange(self, request: BackendRequest) -> BackendResponse:
        """Record ``request`` and answer it from the handler."""
        self.requests.append(request)
        result = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        answer = _response(result)
        if len(answer.body) > request.max_size:
            raise response_too_large(request, redact_url(request.url), answer.status)
        return answer

    async def aclose(self) -> None:
        """Mark the backend closed (it holds no connections)."""
        self.closed = True
