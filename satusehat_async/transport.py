"""The one request choke point: auth header, 401 replay, retries, breaker, rate limit, logging.

Everything that speaks HTTP goes through :meth:`Transport.send`. It is the only module
that touches aiohttp; decisions (what to retry, how long to wait, which error an
answer is) are delegated to the pure modules :mod:`~satusehat_async.retry` and
:mod:`~satusehat_async.errors`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
from yarl import URL

from satusehat_async.body import DEFAULT_MAX_RESPONSE_SIZE, Response, consent_error, read_body
from satusehat_async.errors import (
    APIError,
    RequestTimeout,
    ResponseTooLarge,
    SatuSehatError,
    TransportError,
    ValidationError,
    error_from_response,
)
from satusehat_async.metrics import Hook, RequestEvent, endpoint_label, redact_url
from satusehat_async.params import Params, ParamValue, encode_params
from satusehat_async.proxies import ProxyResolver
from satusehat_async.resilience import CircuitBreaker, RateLimiter
from satusehat_async.retry import RetryPolicy, is_idempotent, is_retryable

if TYPE_CHECKING:
    from satusehat_async.auth import TokenProvider

__all__ = ["ParamValue", "Params", "Response", "Transport", "encode_params", "transport_error"]
# Response lives in satusehat_async.body; it is re-exported here, where callers import it.

logger = logging.getLogger("satusehat_async.transport")

Sleep = Callable[[float], Awaitable[None]]

_json_encoder = msgspec.json.Encoder()
# On Python 3.10 asyncio.TimeoutError is not the builtin TimeoutError; catch both.
_TIMEOUTS = (asyncio.TimeoutError, TimeoutError)


def _host(url: URL) -> str:
    return f"{url.host}:{url.explicit_port}" if url.explicit_port else str(url.host)


class Transport:
    """Sends requests with authentication, retries, a circuit breaker and a rate limit.

    Created and owned by :class:`~satusehat_async.client.SatuSehatClient`; resource code
    reaches it as ``client.transport``.
    """

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        *,
        tokens: TokenProvider | None,
        retry: RetryPolicy,
        breaker: CircuitBreaker | None,
        limiter: RateLimiter | None,
        timeout: aiohttp.ClientTimeout,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        hooks: Sequence[Hook] = (),
        user_agent: str = "satusehat-async",
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        proxies: ProxyResolver | None = None,
        verify_ssl: bool | ssl.SSLContext = True,
    ) -> None:
        self._session = session
        self.tokens = tokens
        self.retry = retry
        self.breaker = breaker
        self.limiter = limiter
        self.timeout = timeout
        self.sleep = sleep
        self.monotonic = monotonic
        """The injected monotonic clock (seconds) that budgets and timings are measured on."""
        self.hooks: list[Hook] = list(hooks)
        self._user_agent = user_agent
        self.max_response_size = max_response_size
        """Largest body (decompressed, in bytes) read before raising ResponseTooLarge."""
        self.proxies = proxies or ProxyResolver(trust_env=False)
        self._ssl = verify_ssl

    def __repr__(self) -> str:
        return f"Transport(retry={self.retry!r}, breaker={self.breaker!r})"

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticate: bool = True,
        retry: RetryPolicy | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        count_failure: bool = True,
    ) -> Response:
        """Send one logical request; return its 2xx answer or raise the mapped error.

        Args:
            params: query parameters; list values repeat the key.
            json: a body to encode as JSON (msgspec Structs welcome).
            content: a raw body (instead of ``json``).
            idempotent: may the request be re-sent after it may have reached the server?
                None decides by method (GET/HEAD/PUT/DELETE/OPTIONS). A non-idempotent
                request is re-sent only when it provably never left (connection refused).
            authenticate: add the bearer token, and on a 401 refresh it and replay once.
            retry: override the client's retry policy for this request.
            count_failure: record a final failure in the circuit breaker. False lets a
                caller that may still reconcile the outcome (an ambiguous create) report it
                itself with :meth:`record_outcome`; successes are recorded either way.
        """
        method = method.upper()
        if json is not None and content is not None:
            raise ValidationError("pass json or content, not both")
        body = _json_encoder.encode(json) if json is not None else content
        request_headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if json is not None:
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        target = URL(url)
        if target.user is not None or target.password is not None:
            # aiohttp would turn them into a Basic header (clashing with the bearer one)
            raise ValidationError("URLs carrying credentials (user:password@) are refused")
        if params:
            target = target.update_query(encode_params(params))
        host = _host(target)
        probe = self.breaker.check(host) if self.breaker is not None else False
        recorded = False
        try:
            outcome = await self._exchange(
                method, target, body, request_headers, idempotent, authenticate, retry, timeout
            )
            if isinstance(outcome, Response):
                self._record(host, ok=True)
                recorded = True
                return outcome
            failed = _counts_as_failure(outcome)
            if count_failure or not failed:
                self._record(host, ok=not failed)
                recorded = True
            raise outcome
        finally:
            if probe and not recorded and self.breaker is not None:
                self.breaker.release(host)  # cancelled or not counted: let another call try

    async def _exchange(
        self,
        method: str,
        target: URL,
        body: bytes | None,
        request_headers: dict[str, str],
        idempotent: bool | None,
        authenticate: bool,
        retry: RetryPolicy | None,
        timeout: aiohttp.ClientTimeout | None,
    ) -> Response | SatuSehatError:
        """The attempts of one logical request: its answer, or the error that ended them.

        Errors getting a token propagate (they are not this host's outcome).
        """
        policy = retry or self.retry
        may_resend = is_idempotent(method, idempotent)
        started = self.monotonic()
        delays: Iterator[float] = policy.delays()
        attempt = 0
        replayed_401 = False
        while True:
            attempt += 1
            token: str | None = None
            if authenticate and self.tokens is not None:
                token = (await self.tokens.token()).access_token
                request_headers["Authorization"] = f"Bearer {token}"
            if self.limiter is not None:
                await self.limiter.acquire()
            error: SatuSehatError
            try:
                response = await self._attempt(
                    method, target, body, request_headers, timeout or self.timeout, attempt
                )
            except TransportError as exc:
                error = exc
            else:
                status = response.status
                if (
                    status == 401
                    and token is not None
                    and not replayed_401
                    and _token_problem(response)
                ):
                    # Expired or revoked: refresh once and replay, without spending a retry.
                    replayed_401 = True
                    assert self.tokens is not None
                    await self.tokens.invalidate(token)
                    attempt -= 1
                    logger.info("%s %s: 401, refreshing the token, replaying", method, target.host)
                    continue
                if 200 <= status < 300:
                    consent = consent_error(response)
                    if consent is None:
                        return response
                    error = consent
                else:
                    error = error_from_response(
                        status,
                        response.headers,
                        response.body,
                        method=method,
                        url=redact_url(target),
                    )
            if self._may_retry(error, may_resend, policy, attempt, started):
                wait = policy.wait_for(error, next(delays))
                if wait <= policy.max_time - (self.monotonic() - started):
                    logger.info(
                        "%s %s failed (%s); retry %d/%d in %.2fs",
                        method,
                        redact_url(target),
                        _short(error),
                        attempt,
                        policy.max_attempts - 1,
                        wait,
                    )
                    await self.sleep(wait)
                    continue
            return error

    def _may_retry(
        self,
        error: SatuSehatError,
        may_resend: bool,
        policy: RetryPolicy,
        attempt: int,
        started: float,
    ) -> bool:
        if attempt >= policy.max_attempts:
            return False
        if self.monotonic() - started >= policy.max_time:
            return False
        if isinstance(error, TransportError) and not error.transient:
            return False
        return is_retryable(error, idempotent=may_resend, policy=policy)

    def record_outcome(self, url: str, *, ok: bool) -> None:
        """Record a logical call's outcome for ``url``'s host in the circuit breaker.

        For callers that sent with ``count_failure=False`` and then learnt the truth (a
        create found by its reconciling search is ``ok=True``). No-op without a breaker.
        """
        self._record(_host(URL(url)), ok=ok)

    def _record(self, host: str, *, ok: bool) -> None:
        if self.breaker is None:
            return
        if ok:
            self.breaker.record_success(host)
        else:
            self.breaker.record_failure(host)

    async def _attempt(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        attempt: int,
    ) -> Response:
        """One HTTP exchange; connection failures become TransportError."""
        session = self._session()
        begin = self.monotonic()
        status: int | None = None
        request_id: str | None = None
        error_name: str | None = None
        proxy, proxy_headers = self.proxies.for_url(url)
        if proxy_headers and url.scheme == "http":
            # a plain-HTTP request is itself what the proxy reads (aiohttp sends
            # proxy_headers only with the CONNECT of an https:// request, never onward)
            headers = {**headers, **proxy_headers}
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
                proxy_headers=proxy_headers,
                ssl=self._ssl,
            ) as answer:
                status = answer.status
                request_id = answer.headers.get("X-Request-Id")
                where = redact_url(url)
                payload = await read_body(answer, self.max_response_size, method=method, url=where)
                return Response(
                    status=answer.status,
                    headers=answer.headers,
                    body=payload,
                    method=method,
                    url=str(url),
                    attempts=attempt,
                )
        except ResponseTooLarge:
            error_name = "ResponseTooLarge"
            raise
        except (*_TIMEOUTS, aiohttp.ClientError) as exc:
            error_name = "timeout" if isinstance(exc, _TIMEOUTS) else type(exc).__name__
            # `from None`: aiohttp's own message may quote the full URL (a NIK in the query)
            # and would reach tracebacks and error trackers through the chain.
            raise transport_error(exc, method, url) from None
        finally:
            self._observe(method, url, status, begin, attempt, request_id, error_name)

    def _observe(
        self,
        method: str,
        url: URL,
        status: int | None,
        begin: float,
        attempt: int,
        request_id: str | None,
        error_name: str | None,
    ) -> None:
        duration = self.monotonic() - begin
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s in %.1f ms (attempt %d, request id %s)",
                method,
                redact_url(url),
                status if status is not None else error_name,
                duration * 1000,
                attempt,
                request_id,
            )
        if not self.hooks:
            return
        event = RequestEvent(
            method=method,
            url=redact_url(url),
            endpoint=endpoint_label(url),
            status=status,
            duration=duration,
            attempt=attempt,
            request_id=request_id,
            error=error_name,
        )
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # a broken metrics hook must never break a request
                logger.exception("request hook %r failed", hook)


def transport_error(
    exc: TimeoutError | asyncio.TimeoutError | aiohttp.ClientError, method: str, url: URL
) -> TransportError:
    """Map an aiohttp failure to our error; ``sent`` is False only when it never left."""
    where = redact_url(url)
    if isinstance(exc, _TIMEOUTS):
        return RequestTimeout(
            f"{method} {where}: no answer within the timeout", method=method, url=where
        )
    # aiohttp's messages may quote the URL with its query (a NIK, a name): keep only the
    # error's kind and the OS's reason, never its text.
    code = getattr(exc, "errno", None)
    reason = errno.errorcode.get(code) if isinstance(code, int) else None
    detail = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable, DNS, TLS handshake: the request never left.
        return TransportError(
            f"{method} {where}: cannot connect ({detail})",
            method=method,
            url=where,
            sent=False,
            # a certificate problem does not heal by retrying
            transient=not isinstance(exc, aiohttp.ClientSSLError),
        )
    return TransportError(
        f"{method} {where}: connection failed ({detail})",
        method=method,
        url=where,
        sent=True,
    )


def _token_problem(response: Response) -> bool:
    """Is this 401 about the token (expired, invalid) — worth a refresh and a replay?

    A 401 saying the credentials have no API product for this endpoint
    (``InvalidAPICallAsNoApiProductMatchFound``) will not heal with a new token.
    """
    marker = "NoApiProductMatchFound"
    return marker not in response.headers.get("WWW-Authenticate", "") and (
        marker.encode() not in response.body
    )


def _counts_as_failure(error: SatuSehatError) -> bool:
    """Does this final error say the host is unhealthy (as opposed to refusing our input)?"""
    if isinstance(error, ResponseTooLarge):
        return False  # the host answered; the answer is the problem
    if isinstance(error, TransportError):
        return True
    return isinstance(error, APIError) and (error.status >= 500 or error.status in (408, 429))


def _short(error: SatuSehatError) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.status}"
    return type(error).__name__
