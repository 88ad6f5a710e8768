"""``SatuSehatClient``: the composition root — one backend, one token cache, the resource APIs.

The client builds the pieces (the backend, the token provider, the request stages of
:mod:`satusehat_async.http`) and wires them; it holds no HTTP logic of its own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from satusehat_async import __version__
from satusehat_async.auth import AccessToken, TokenProvider, TokenStore, token_cache_key
from satusehat_async.auth.fetch import TOKEN_RETRY as TOKEN_RETRY  # its earlier home
from satusehat_async.auth.fetch import fetch_token
from satusehat_async.auth.origins import Origins, warn_plain_http
from satusehat_async.client_resources import ResourceAccessors
from satusehat_async.config import Endpoints, Environment, Settings, organization_id_setting
from satusehat_async.context import ResourceContext
from satusehat_async.errors import SatuSehatError
from satusehat_async.http.aiohttp_backend import AiohttpBackend
from satusehat_async.http.backend import Backend, Timeout
from satusehat_async.http.resilience import CircuitBreaker, RateLimiter
from satusehat_async.http.retry import RetryPolicy
from satusehat_async.http.transport import Transport
from satusehat_async.metrics import Hook, Metrics
from satusehat_async.options import DEFAULT_MAX_RESPONSE_SIZE, Default, check_arguments
from satusehat_async.params import Params
from satusehat_async.proxies import ProxyResolver

if TYPE_CHECKING:
    import aiohttp


__all__ = ["SatuSehatClient"]


def _aiohttp_backend(
    session: aiohttp.ClientSession | None,
    connection_limit: int,
    trace_configs: Sequence[aiohttp.TraceConfig],
    proxy: str | None,
    trust_env: bool,
    verify_ssl: bool | ssl.SSLContext,
) -> AiohttpBackend:
    """The default backend: aiohttp, owning its session unless one is borrowed."""
    return AiohttpBackend(
        session=session,
        connection_limit=connection_limit,
        trace_configs=trace_configs,
        # environment proxies for the owned session only: a borrowed one has its own
        proxies=ProxyResolver(proxy, trust_env=trust_env and session is None),
        verify_ssl=verify_ssl,
    )


class SatuSehatClient(ResourceAccessors):
    """An asyncio client for SATUSEHAT.

    Use it as an async context manager; it owns one backend (by default an
    :class:`~satusehat_async.http.aiohttp_backend.AiohttpBackend` with its own
    ``aiohttp.ClientSession``, or borrowing ``session``, which it never closes) and one
    token cache shared by every concurrent caller. Once closed it stays closed.

    Args:
        client_id, client_secret: OAuth 2.0 client credentials (never logged or shown).
        environment: ``"sandbox"`` (default), ``"production"`` or an :class:`Environment`.
        base_url: overrides the environment's base URL.
        auth_url, fhir_url, masterdata_url: each overrides its own part.
        session: an ``aiohttp.ClientSession`` to borrow.
        backend: any :class:`~satusehat_async.http.Backend` to send through instead (such
            as :class:`~satusehat_async.testing.MockBackend`); the client does not close
            a backend it was given. ``session``, ``connection_limit``, ``proxy``,
            ``trust_env``, ``verify_ssl`` and ``trace_configs`` configure the default
            backend only.
        token_store: where tokens are cached (default in-process; see ``RedisTokenStore``).
        connection_limit: simultaneous connections of the owned session.
        timeout: total seconds per HTTP attempt (None: no limit); ``connect_timeout``
            for connecting (None: no limit of its own). Zero or negative is refused.
        retry: the :class:`RetryPolicy` (default: 5 attempts, 60 s budget).
        circuit_breaker: a :class:`CircuitBreaker` (default: ``CircuitBreaker()``, judging
            each host by its failure rate), or None to disable it.
        rate_limit: requests per second across every caller of this client (None: no limit).
        max_response_size: the largest answer read, in bytes after decompression (default
            64 MiB); a larger one raises :class:`~satusehat_async.ResponseTooLarge`.
        proxy: an ``http://[user:pass@]host:port`` proxy for every request. Without it the
            owned session honours ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` (read
            once, here) unless ``trust_env=False``; a borrowed session's own settings rule.
        verify_ssl: TLS certificate verification (default on). An ``ssl.SSLContext``
            brings its own CA bundle (a proxy that inspects TLS); False switches
            verification off and logs a warning — never do that in production.
        hooks: callables receiving a :class:`RequestEvent` per HTTP attempt.
        trace_configs: aiohttp trace configs for the owned session (tracing integrations).
        clock: wall clock for token expiry (epoch seconds); ``sleep`` replaces
            ``asyncio.sleep`` between retries; ``monotonic`` replaces ``time.monotonic``
            for retry budgets, the default breaker and the rate limit (tests inject them).
        organization_id: the credentials' Organization id; others' local identifiers are refused.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        environment: str | Environment = Environment.SANDBOX,
        base_url: str | None = None,
        auth_url: str | None = None,
        fhir_url: str | None = None,
        masterdata_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        backend: Backend | None = None,
        token_store: TokenStore | None = None,
        connection_limit: int = 100,
        timeout: float | None = 30.0,
        connect_timeout: float | None = 10.0,
        retry: RetryPolicy | None = None,
        circuit_breaker: CircuitBreaker | Literal[Default.DEFAULT] | None = Default.DEFAULT,
        rate_limit: float | None = None,
        hooks: Sequence[Hook] = (),
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        monotonic: Callable[[], float] | None = None,
        refresh_margin: float = 60.0,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        proxy: str | None = None,
        trust_env: bool = True,
        verify_ssl: bool | ssl.SSLContext = True,
        organization_id: str | None = None,
    ) -> None:
        timeouts = check_arguments(locals())  # every argument, by its name
        self.endpoints = Endpoints.resolve(
            environment,
            base_url=base_url,
            auth_url=auth_url,
            fhir_url=fhir_url,
            masterdata_url=masterdata_url,
        )
        self._client_id = client_id.strip()
        self._client_secret = client_secret.strip()
        self.connection_limit = connection_limit
        self._owns_backend = backend is None
        self.backend: Backend = backend or _aiohttp_backend(
            session, connection_limit, trace_configs, proxy, trust_env, verify_ssl
        )
        self._origins = Origins(self.endpoints)  # the token goes only to these
        warn_plain_http(self.endpoints)
        self.metrics = Metrics()
        self.tokens = self._token_provider(token_store, clock or time.time, refresh_margin)
        self.transport = self._transport(retry, circuit_breaker, rate_limit, timeouts, hooks)
        self.transport.sleep = sleep or asyncio.sleep
        self.transport.monotonic = monotonic or time.monotonic
        self.transport.max_response_size = max_response_size
        self.context = self._resource_context(organization_id)
        self._apis: dict[str, object] = {}  # the resource APIs, built on first use

    def _resource_context(self, organization_id: str | None) -> ResourceContext:
        """What resource APIs see of this client (see :class:`ResourceContext`)."""
        return ResourceContext(
            self.transport,
            self.endpoints,
            connection_limit=self.connection_limit,
            organization_id=organization_id_setting(organization_id, "organization_id"),
        )

    def _token_provider(
        self, store: TokenStore | None, clock: Callable[[], float], refresh_margin: float
    ) -> TokenProvider:
        """The one token cache of this client (single-flight refresh)."""
        return TokenProvider(
            self._fetch_token,
            store=store,
            key=token_cache_key(self.endpoints.auth_url, self._client_id),
            clock=clock,
            refresh_margin=refresh_margin,
            on_refresh=self._count_refresh,
            secrets=(self._client_secret,),
        )

    def _transport(
        self,
        retry: RetryPolicy | None,
        circuit_breaker: CircuitBreaker | Default | None,
        rate_limit: float | None,
        timeout: Timeout,
        hooks: Sequence[Hook],
    ) -> Transport:
        """The request stages, wired to this client's backend, tokens and metrics."""
        breaker = CircuitBreaker() if isinstance(circuit_breaker, Default) else circuit_breaker
        self.metrics.circuits = breaker.states if breaker is not None else None
        return Transport(
            self.backend,
            tokens=self.tokens,
            retry=retry or RetryPolicy(),
            breaker=breaker,
            limiter=RateLimiter(rate_limit) if rate_limit is not None else None,
            timeout=timeout,
            hooks=[self.metrics.observe, *hooks],
            user_agent=f"satusehat-async/{__version__}",
            connection_limit=self.connection_limit,
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        environment: str | Environment | None = None,
        base_url: str | None = None,
        auth_url: str | None = None,
        fhir_url: str | None = None,
        masterdata_url: str | None = None,
        proxy: str | None = None,
        organization_id: str | None = None,
        **kwargs: Any,
    ) -> SatuSehatClient:
        """Build a client from ``SATUSEHAT_*`` environment variables (see :class:`Settings`).

        URL arguments given here win over the variables, and ``proxy`` over the proxy
        variables, ``organization_id`` over ``SATUSEHAT_ORGANIZATION_ID``; other keyword
        arguments go to the constructor (``token_store=``, ``rate_limit=``...).
        """
        settings = Settings.from_env(
            environ,
            environment=environment,
            base_url=base_url,
            auth_url=auth_url,
            fhir_url=fhir_url,
            masterdata_url=masterdata_url,
        )
        ep = settings.endpoints
        return cls(
            settings.client_id,
            settings.client_secret,
            base_url=ep.base_url,
            auth_url=ep.auth_url,
            fhir_url=ep.fhir_url,
            masterdata_url=ep.masterdata_url,
            proxy=proxy,
            organization_id=organization_id or settings.organization_id,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"SatuSehatClient(base_url={self.base_url!r})"

    # -- endpoints -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base URL that ``request("/path")`` resolves against."""
        return self.endpoints.base_url

    @property
    def auth_url(self) -> str:
        """The token endpoint."""
        return self.endpoints.auth_url

    @property
    def fhir_url(self) -> str:
        """The FHIR R4 base (``.../fhir-r4/v1``)."""
        return self.endpoints.fhir_url

    @property
    def organization_id(self) -> str | None:
        """The SATUSEHAT Organization id the credentials belong to (None: not configured)."""
        return self.context.organization_id

    @property
    def masterdata_url(self) -> str:
        """The master-data base (``.../masterdata/v1``)."""
        return self.endpoints.masterdata_url

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Has the client been closed? A closed client refuses every request."""
        return self.transport.closed

    async def __aenter__(self) -> SatuSehatClient:
        if self.transport.closed:
            raise SatuSehatError("the client is closed and cannot be reopened; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the owned backend (a given backend or borrowed session is left open).

        Every later request, and entering ``async with`` again, raises SatuSehatError.
        """
        self.transport.closed = True
        if self._owns_backend:
            await self.backend.aclose()

    # -- tokens ------------------------------------------------------------------------

    def _count_refresh(self) -> None:
        self.metrics.token_refreshes += 1

    async def _fetch_token(self) -> AccessToken:
        return await fetch_token(
            self.transport,
            self.auth_url,
            self._client_id,
            self._client_secret,
            clock=self.tokens.clock,
        )

    async def get_token(self) -> AccessToken:
        """A valid access token (cached; fetched once for all concurrent callers)."""
        return await self.tokens.token()

    # -- raw requests ------------------------------------------------------------------

    def url_for(self, path_or_url: str) -> str:
        """Resolve ``"/path"`` against :attr:`base_url`; absolute URLs pass through.

        A URL carrying credentials (``user:password@``) is refused without quoting them.
        """
        return self._origins.url_for(path_or_url)

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticate: bool | None = None,
    ) -> Any:
        """Send any request through auth, retry and error mapping; return the decoded JSON.

        ``params`` list values repeat the key (``{"jenis_sarana": [103, 104]}``). The
        bearer token goes only to the configured SATUSEHAT origins (scheme, host and port):
        an absolute URL elsewhere raises ValidationError unless ``authenticate=False``.
        """
        url = self.url_for(path_or_url)
        if authenticate is None:
            self._origins.check_token_may_go_to(url)
            authenticate = True
        response = await self.transport.send(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            authenticate=authenticate,
        )
        return response.json()
