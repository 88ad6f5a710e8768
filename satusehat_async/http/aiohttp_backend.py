"""The aiohttp backend: the only module of the package that uses aiohttp's client.

It owns the ``ClientSession`` and its connector (or borrows a session, which it never
closes), applies proxies and TLS settings, reads every body within the size limit, and
maps aiohttp's failures to our :class:`~satusehat_async.errors.TransportError`.

A body is read in chunks as aiohttp inflates it (gzip, deflate), and reading stops as
soon as the *decompressed* size passes the limit: neither a huge body nor a small gzip
bomb can take more memory than the limit allows.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Sequence

import aiohttp
from yarl import URL

from satusehat_async.errors import (
    ConfigurationError,
    RequestTimeout,
    ResponseTooLarge,
    SatuSehatError,
    TransportError,
    ValidationError,
)
from satusehat_async.http.backend import (
    BackendRequest,
    BackendResponse,
    Timeout,
    response_too_large,
)
from satusehat_async.http.resilience import check_count
from satusehat_async.proxies import ProxyResolver
from satusehat_async.redact import redact_url

__all__ = ["AiohttpBackend", "read_body", "transport_error"]

# On Python 3.10 asyncio.TimeoutError is not the builtin TimeoutError; catch both.
_TIMEOUTS = (asyncio.TimeoutError, TimeoutError)
_IDENTITY = frozenset({"", "identity"})


class AiohttpBackend:
    """Exchanges requests over one aiohttp session.

    Args:
        session: a session to borrow (never closed here; its own proxy settings rule).
        connection_limit: simultaneous connections of the owned session.
        trace_configs: aiohttp trace configs for the owned session.
        proxies: which proxy each request goes through (default: none).
        verify_ssl: True, False, or an ``ssl.SSLContext`` with its own CA bundle.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        proxies: ProxyResolver | None = None,
        verify_ssl: bool | ssl.SSLContext = True,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValidationError(f"session must be an aiohttp.ClientSession, not {type(session)}")
        if isinstance(trace_configs, (str, bytes)) or not isinstance(trace_configs, Sequence):
            raise ValidationError("trace_configs must be a list or tuple")
        for config in trace_configs:
            if not isinstance(config, aiohttp.TraceConfig):
                kind = type(config).__name__
                raise ValidationError(f"trace_configs holds {kind}, not a TraceConfig")
        self.connection_limit = check_count("connection_limit", connection_limit)
        self._borrowed = session
        self._session: aiohttp.ClientSession | None = session
        self._trace_configs = list(trace_configs)
        self.proxies = proxies or ProxyResolver(trust_env=False)
        self._ssl = verify_ssl
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpBackend(borrowed={self._borrowed is not None}, proxies={self.proxies!r})"

    def session(self) -> aiohttp.ClientSession:
        """The session in use, created on first use (inside the running loop)."""
        if self._closed:
            raise SatuSehatError("the client is closed; create a new one")
        if self._session is None or self._session.closed:
            if self._borrowed is not None:
                raise ConfigurationError("the borrowed aiohttp session is closed")
            connector = aiohttp.TCPConnector(limit=self.connection_limit)
            # no trust_env: proxies come from ProxyResolver (aiohttp's would add ~/.netrc)
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=self._trace_configs or None
            )
        return self._session

    def _timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(timeout)
        if found is None:
            # sock_connect, not connect: time queued for a pooled connection is not a
            # failure to connect (and must not make a write look as if it may have left).
            found = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect)
            self._timeouts[timeout] = found
        return found

    async def exchange(self, request: BackendRequest) -> BackendResponse:
        """Send one attempt; the answer read whole within ``request.max_size``."""
        session = self.session()
        url = URL(request.url, encoded=True)
        headers = request.headers
        proxy, proxy_headers = self.proxies.for_url(url)
        if proxy_headers and url.scheme == "http":
            # a plain-HTTP request is itself what the proxy reads (aiohttp sends
            # proxy_headers only with the CONNECT of an https:// request, never onward)
            headers = {**headers, **proxy_headers}
        try:
            async with session.request(
                request.method,
                url,
                data=request.body or None,
                headers=headers,
                timeout=self._timeout(request.timeout),
                allow_redirects=False,
                proxy=proxy,
                proxy_headers=proxy_headers,
                ssl=self._ssl,
            ) as answer:
                body = await _read(answer, request, url)
                return BackendResponse(answer.status, answer.headers, body)
        except ResponseTooLarge:
            raise
        except (*_TIMEOUTS, aiohttp.ClientError) as exc:
            # `from None`: aiohttp's own message may quote the full URL (a NIK in the
            # query) and would reach tracebacks and error trackers through the chain.
            raise transport_error(exc, request.method, url) from None

    async def aclose(self) -> None:
        """Close the owned session (a borrowed one is left open); later exchanges raise."""
        self._closed = True
        session, self._session = self._session, self._borrowed
        if session is not None and session is not self._borrowed and not session.closed:
            await session.close()


async def _read(answer: aiohttp.ClientResponse, request: BackendRequest, url: URL) -> bytes:
    """The whole (decompressed) body, or ResponseTooLarge past ``request.max_size``."""
    limit = request.max_size
    encoding = answer.headers.get("Content-Encoding", "").strip().lower()
    declared = answer.content_length
    if declared is not None and declared > limit and encoding in _IDENTITY:
        raise response_too_large(request, redact_url(url), answer.status)
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_any():
        size += len(chunk)
        if size > limit:
            # the caller's `async with` then drops the half-read connection
            raise response_too_large(request, redact_url(url), answer.status)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(answer: aiohttp.ClientResponse, limit: int, *, method: str, url: str) -> bytes:
    """The whole (decompressed) body of ``answer``, or ResponseTooLarge past ``limit`` bytes.

    A ``Content-Length`` above the limit on an unencoded body is refused before reading.
    ``url`` should be redacted already: it is quoted in the error.
    """
    request = BackendRequest(method, url, {}, b"", Timeout(), max_size=limit)
    return await _read(answer, request, URL(url))


def transport_error(
    exc: TimeoutError | asyncio.TimeoutError | aiohttp.ClientError, method: str, url: URL
) -> TransportError:
    """Map an aiohttp failure to our error; ``sent`` is False only when it never left."""
    where = redact_url(url)
    if isinstance(exc, _TIMEOUTS):
        return RequestTimeout(
            f"{method} {where}: no answer within the timeout",
            method=method,
            url=where,
            kind="timeout",
        )
    # aiohttp's messages may quote the URL with its query (a NIK, a name): keep only the
    # error's kind and the OS's reason, never its text.
    code = getattr(exc, "errno", None)
    reason = errno.errorcode.get(code) if isinstance(code, int) else None
    kind = type(exc).__name__
    detail = f"{kind}: {reason}" if reason else kind
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable, DNS, TLS handshake: the request never left.
        return TransportError(
            f"{method} {where}: cannot connect ({detail})",
            method=method,
            url=where,
            sent=False,
            # a certificate problem does not heal by retrying
            transient=not isinstance(exc, aiohttp.ClientSSLError),
            kind=kind,
        )
    return TransportError(
        f"{method} {where}: connection failed ({detail})",
        method=method,
        url=where,
        sent=True,
        kind=kind,
    )
