"""The request as stages: every request of the client runs through :class:`Transport`.

    send(method, url, ...)                  arguments -> Request + RequestOptions
    └ send_request                          1. circuit breaker: admit, record the outcome
      └ _send_handling_retries              2. THE retry loop (RetryPolicy / RetryBudget)
        └ _send_handling_auth               3. bearer token, one 401 replay (BearerFlow)
          └ _send_single_request            4. rate limit, observe (log + hooks)
            └ backend.exchange              5. the I/O seam (AiohttpBackend, MockBackend)
        classify                            6. pure: answer -> Response or the error

Each stage is a short method or a pure function of its own module; the decisions
(retry? which error? token problem?) are the pure modules' — :mod:`.retry`,
:mod:`.classify`, :mod:`.bearer`, :mod:`satusehat_async.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from yarl import URL

from satusehat_async.errors import APIError, SatuSehatError, TransportError
from satusehat_async.http.backend import (
    DEFAULT_MAX_RESPONSE_SIZE,
    Backend,
    BackendRequest,
    BackendResponse,
    Timeout,
)
from satusehat_async.http.bearer import Authorize, BearerFlow
from satusehat_async.http.classify import classify
from satusehat_async.http.observe import observe
from satusehat_async.http.options import RequestOptions, as_timeout
from satusehat_async.http.request import Request, build_request, host_of
from satusehat_async.http.resilience import CircuitBreaker, RateLimiter
from satusehat_async.http.response import Response
from satusehat_async.http.retry import RetryPolicy, is_idempotent, may_retry
from satusehat_async.metrics import Hook
from satusehat_async.params import Params
from satusehat_async.redact import redact_url

if TYPE_CHECKING:
    from satusehat_async.auth import TokenProvider

__all__ = ["Transport"]

logger = logging.getLogger("satusehat_async.transport")

Sleep = Callable[[float], Awaitable[None]]


class Transport:
    """Sends requests with authentication, retries, a circuit breaker and a rate limit.

    Created and owned by :class:`~satusehat_async.client.SatuSehatClient`; resource code
    reaches it as ``client.transport``. ``sleep`` and ``monotonic`` are read on every
    request, so a test may swap them after construction.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        tokens: TokenProvider | None,
        retry: RetryPolicy,
        breaker: CircuitBreaker | None,
        limiter: RateLimiter | None,
        timeout: Timeout,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        hooks: Sequence[Hook] = (),
        user_agent: str = "satusehat-async",
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        connection_limit: int | None = None,
    ) -> None:
        self.backend = backend
        # Authenticated attempts take a slot before their token, so none waits for a
        # pooled connection (or the rate limit) holding a token that expires meanwhile.
        # Token requests take none: a waiter holding a slot never starves the refresh.
        self._slots = asyncio.Semaphore(connection_limit) if connection_limit else None
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
        self.closed = False
        """Set by the client when it closes: every later request raises."""

    def __repr__(self) -> str:
        return f"Transport(retry={self.retry!r}, breaker={self.breaker!r})"

    @property
    def proxies(self) -> Any:
        """The backend's proxy resolver, if it has one."""
        return getattr(self.backend, "proxies", None)

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
        timeout: Any = None,
        count_failure: bool = True,
    ) -> Response:
        """Send one logical request; return its 2xx answer or raise the mapped error.

        ``params`` list values repeat the key; ``json`` is encoded (msgspec Structs
        welcome) or ``content`` sent raw. The other keywords are the fields of
        :class:`~satusehat_async.http.options.RequestOptions`.
        """
        request = self.prepare(
            method, url, params=params, json=json, content=content, headers=headers
        )
        options = RequestOptions(
            idempotent=idempotent,
            authenticate=authenticate,
            retry=retry,
            timeout=as_timeout(timeout),
            count_failure=count_failure,
        )
        return await self.send_request(request, options)

    def prepare(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        """The request to send, with this client's ``User-Agent``; bad input raises
        ValidationError before anything is sent."""
        return build_request(
            method,
            url,
            params=params,
            json=json,
            content=content,
            headers=headers,
            user_agent=self._user_agent,
        )

    async def send_request(self, request: Request, options: RequestOptions) -> Response:
        """Stage 1, the circuit breaker: admit the call, then record its final outcome.

        Outcomes are logical calls, not attempts. Errors getting a token propagate
        unrecorded (they are not this host's outcome).
        """
        if self.closed:
            raise SatuSehatError("the client is closed (it stays closed); create a new one")
        host = request.host
        probe = self.breaker.check(host) if self.breaker is not None else False
        recorded = False
        try:
            outcome = await self._send_handling_retries(request, options)
            failed = not isinstance(outcome, Response) and outcome.host_unhealthy
            if options.count_failure or not failed:
                self._record(host, ok=not failed)
                recorded = True
            if isinstance(outcome, Response):
                return outcome
            raise outcome
        finally:
            if probe and not recorded and self.breaker is not None:
                self.breaker.release(host)  # cancelled or not counted: let another call try

    async def _send_handling_retries(
        self, request: Request, options: RequestOptions
    ) -> Response | SatuSehatError:
        """Stage 2, the one retry loop: attempts until an answer, a final error or no budget."""
        policy = options.retry or self.retry
        idempotent = is_idempotent(request.method, options.idempotent)
        budget = policy.start(self.monotonic)
        flow = BearerFlow(self.tokens) if options.authenticate and self.tokens else None
        while True:
            attempt = budget.attempts + 1
            outcome = await self._send_handling_auth(request, options, flow, attempt)
            if isinstance(outcome, Response):
                return outcome
            if not may_retry(outcome, idempotent=idempotent, policy=policy):
                return outcome
            wait = budget.next_wait(outcome)
            if wait is None:
                return outcome
            logger.info(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                request.method,
                redact_url(request.url),
                _short(outcome),
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            await self.sleep(wait)

    async def _send_handling_auth(
        self, request: Request, options: RequestOptions, flow: BearerFlow | None, attempt: int
    ) -> Response | SatuSehatError:
        """Stage 3, the bearer token (with its one replay); then the answer classified."""

        def exchange(authorize: Authorize | None) -> Awaitable[BackendResponse | TransportError]:
            return self._send_single_request(request, options, authorize, attempt)

        if flow is None:
            answer = await exchange(None)
        else:
            answer = await flow.send(exchange, f"{request.method} {request.url.host}")
        if isinstance(answer, TransportError):
            return answer
        return classify(answer, method=request.method, url=str(request.url), attempts=attempt)

    async def _send_single_request(
        self,
        request: Request,
        options: RequestOptions,
        authorize: Authorize | None,
        attempt: int,
    ) -> BackendResponse | TransportError:
        """Stage 4, one attempt: a connection slot, the rate limit, then the token (as late
        as possible, so it is fresh when it leaves), the exchange and its observation."""
        if authorize is None or self._slots is None:
            return await self._exchange(request, options, authorize, attempt)
        async with self._slots:
            return await self._exchange(request, options, authorize, attempt)

    async def _exchange(
        self,
        request: Request,
        options: RequestOptions,
        authorize: Authorize | None,
        attempt: int,
    ) -> BackendResponse | TransportError:
        if self.limiter is not None:
            await self.limiter.acquire()
        headers = request.headers
        if authorize is not None:
            headers = {**headers, **(await authorize())}
        wire = BackendRequest(
            request.method,
            str(request.url),
            headers,
            request.body,
            options.timeout or self.timeout,
            self.max_response_size,
        )
        begin = self.monotonic()
        status: int | None = None
        request_id: str | None = None
        error: str | None = None
        try:
            answer = await self.backend.exchange(wire)
        except TransportError as exc:
            error = exc.kind
            return exc
        else:
            status = answer.status
            request_id = answer.headers.get("X-Request-Id")
            return answer
        finally:
            observe(
                self.hooks,
                method=request.method,
                url=request.url,
                status=status,
                duration=self.monotonic() - begin,
                attempt=attempt,
                request_id=request_id,
                error=error,
            )

    def record_outcome(self, url: str, *, ok: bool) -> None:
        """Record a logical call's outcome for ``url``'s host in the circuit breaker.

        For callers that sent with ``count_failure=False`` and then learnt the truth (a
        create found by its reconciling search is ``ok=True``). No-op without a breaker.
        """
        self._record(host_of(URL(url)), ok=ok)

    def _record(self, host: str, *, ok: bool) -> None:
        if self.breaker is None:
            return
        if ok:
            self.breaker.record_success(host)
        else:
            self.breaker.record_failure(host)


def _short(error: SatuSehatError) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.status}"
    return type(error).__name__
