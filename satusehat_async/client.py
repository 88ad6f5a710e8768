"""``SatuSehatClient``: one shared session, one token cache, the resource APIs."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from yarl import URL

from satusehat_async import __version__
from satusehat_async.auth import (
    AccessToken,
    TokenProvider,
    TokenStore,
    decode_token_response,
    token_cache_key,
)
from satusehat_async.config import Endpoints, Environment, Settings
from satusehat_async.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    SatuSehatError,
    ValidationError,
)
from satusehat_async.metrics import Hook, Metrics, redact_url
from satusehat_async.options import (
    DEFAULT_MAX_RESPONSE_SIZE,
    Default,
    check_arguments,
    check_count,
    check_seconds,
    optional_seconds,
)
from satusehat_async.proxies import ProxyResolver
from satusehat_async.resilience import CircuitBreaker, RateLimiter
from satusehat_async.retry import RetryPolicy
from satusehat_async.transport import Params, Transport

if TYPE_CHECKING:
    from satusehat_async.msi import MSI
    from satusehat_async.patients import Patients

__all__ = ["SatuSehatClient"]

logger = logging.getLogger("satusehat_async")

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_USERINFO = re.compile(r"//[^/?#@]*@")


def _warn_plain_http(endpoints: Endpoints) -> None:
    for url in (endpoints.auth_url, endpoints.fhir_url, endpoints.masterdata_url):
        parsed = URL(url)
        if parsed.scheme == "http" and parsed.host not in _LOOPBACK:
            logger.warning(
                "%s uses plain HTTP: credentials and health data would travel unencrypted",
                redact_url(parsed.with_query(None)),
            )


def _origin(url: str | URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) — the port made explicit (443 for https), as browsers compare."""
    parsed = url if isinstance(url, URL) else URL(url)
    return (parsed.scheme, (parsed.host or "").lower(), parsed.port)


# The token endpoint is said to allow about one attempt a minute after a failure: one
# spaced retry for a passing fault, then TokenProvider holds back (15, 30, 60 s).
TOKEN_RETRY = RetryPolicy(max_attempts=2, base_delay=2.0, max_delay=2.0, max_time=30.0)


class SatuSehatClient:
    """An asyncio client for SATUSEHAT.

    Use it as an async context manager; it owns one ``aiohttp.ClientSession`` (or
    borrows ``session``, which it never closes) and one token cache shared by every
    concurrent caller.

    Args:
        client_id, client_secret: OAuth 2.0 client credentials (never logged or shown).
        environment: ``"sandbox"`` (default), ``"production"`` or an :class:`Environment`.
        base_url: overrides the environment's base URL.
        auth_url, fhir_url, masterdata_url: each overrides its own part.
        session: an ``aiohttp.ClientSession`` to borrow.
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
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"{name} must be a non-empty string")
        check_arguments(
            urls={
                "base_url": base_url,
                "auth_url": auth_url,
                "fhir_url": fhir_url,
                "masterdata_url": masterdata_url,
            },
            session=session,
            connection_limit=connection_limit,
            retry=retry,
            circuit_breaker=circuit_breaker,
            hooks=hooks,
            trace_configs=trace_configs,
            token_store=token_store,
            callables={"clock": clock, "sleep": sleep, "monotonic": monotonic},
            flags={"trust_env": trust_env},
            proxy=proxy,
            verify_ssl=verify_ssl,
        )
        total = optional_seconds("timeout", timeout)
        connect = optional_seconds("connect_timeout", connect_timeout)
        check_seconds("refresh_margin", refresh_margin, positive=False)
        check_count("max_response_size", max_response_size)
        if verify_ssl is False:
            logger.warning("TLS certificate verification is OFF: anyone on the path can listen")
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
        self._borrowed_session = session
        self._session: aiohttp.ClientSession | None = session
        self._trace_configs = list(trace_configs)
        self._closed = False
        # the token goes only to these origins: scheme, host and port must all match
        self._trusted_origins = frozenset(
            _origin(url)
            for url in (
                self.endpoints.base_url,
                self.endpoints.auth_url,
                self.endpoints.fhir_url,
                self.endpoints.masterdata_url,
            )
        )
        _warn_plain_http(self.endpoints)
        self.metrics = Metrics()
        self.tokens = TokenProvider(
            self._fetch_token,
            store=token_store,
            key=token_cache_key(self.endpoints.auth_url, self._client_id),
            clock=clock or time.time,
            refresh_margin=refresh_margin,
            on_refresh=self._count_refresh,
            secrets=(self._client_secret,),
        )
        ticks = monotonic or time.monotonic
        self.transport = Transport(
            self._get_session,
            tokens=self.tokens,
            retry=retry or RetryPolicy(),
            breaker=(CircuitBreaker() if isinstance(circuit_breaker, Default) else circuit_breaker),
            limiter=RateLimiter(rate_limit) if rate_limit is not None else None,
            # sock_connect, not connect: time queued for a pooled connection is not a
            # failure to connect (and must not make a write look as if it may have left).
            timeout=aiohttp.ClientTimeout(total=total, sock_connect=connect),
            sleep=sleep or asyncio.sleep,
            monotonic=ticks,
            hooks=[self.metrics.observe, *hooks],
            user_agent=f"satusehat-async/{__version__}",
            max_response_size=max_response_size,
            # environment proxies for the owned session only: a borrowed one has its own
            proxies=ProxyResolver(proxy, trust_env=trust_env and session is None),
            verify_ssl=verify_ssl,
        )
        breaker = self.transport.breaker
        self.metrics.circuits = breaker.states if breaker is not None else None
        self._msi: MSI | None = None
        self._patients: Patients | None = None

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
        **kwargs: Any,
    ) -> SatuSehatClient:
        """Build a client from ``SATUSEHAT_*`` environment variables (see :class:`Settings`).

        URL arguments given here win over the variables, and ``proxy`` over the proxy
        variables; other keyword arguments go to the constructor (``token_store=``,
        ``rate_limit=``...).
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
    def masterdata_url(self) -> str:
        """The master-data base (``.../masterdata/v1``)."""
        return self.endpoints.masterdata_url

    # -- lifecycle ---------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise SatuSehatError(
                "the client is closed; use a new one, or 'async with client' to reopen it"
            )
        if self._session is None or self._session.closed:
            if self._borrowed_session is not None:
                raise ConfigurationError("the borrowed aiohttp session is closed")
            connector = aiohttp.TCPConnector(limit=self.connection_limit)
            # no trust_env: proxies come from ProxyResolver (aiohttp's would add ~/.netrc)
            self._session = aiohttp.ClientSession(
                connector=connector, trace_configs=self._trace_configs or None
            )
        return self._session

    async def __aenter__(self) -> SatuSehatClient:
        self._closed = False
        self._get_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the owned session (a borrowed one is left open). Later calls raise."""
        self._closed = True
        session, self._session = self._session, self._borrowed_session
        if session is not None and session is not self._borrowed_session and not session.closed:
            await session.close()

    # -- tokens ------------------------------------------------------------------------

    def _count_refresh(self) -> None:
        self.metrics.token_refreshes += 1

    async def _fetch_token(self) -> AccessToken:
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            }
        ).encode()
        try:
            response = await self.transport.send(
                "POST",
                self.auth_url,
                params={"grant_type": "client_credentials"},
                content=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                authenticate=False,
                idempotent=True,
                retry=TOKEN_RETRY,
            )
        except APIError as exc:
            if isinstance(exc, AuthenticationError):
                raise
            raise AuthenticationError(
                f"token request refused: {exc.message}",
                status=exc.status,
                request_id=exc.request_id,
                body=exc.body,
                method=exc.method,
                url=exc.url,
            ) from None
        return decode_token_response(response.body, now=self.tokens.clock())

    async def get_token(self) -> AccessToken:
        """A valid access token (cached; fetched once for all concurrent callers)."""
        return await self.tokens.token()

    # -- raw requests ------------------------------------------------------------------

    def url_for(self, path_or_url: str) -> str:
        """Resolve ``"/path"`` against :attr:`base_url`; absolute URLs pass through.

        A URL carrying credentials (``user:password@``) is refused without quoting them.
        """
        if not isinstance(path_or_url, str):
            raise ValidationError(f"expected a path or URL string, not {type(path_or_url)}")
        shown = _USERINFO.sub("//***@", path_or_url)
        if shown != path_or_url:
            raise ValidationError(f"URLs carrying credentials are refused: {shown!r}")
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        if path_or_url.startswith("/"):
            return self.base_url + path_or_url
        raise ValidationError(
            f"expected a path starting with '/' or an absolute URL, got {shown!r}"
        )

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
            origin = _origin(url)
            if origin not in self._trusted_origins:
                scheme, host, port = origin
                raise ValidationError(
                    f"refusing to send the SATUSEHAT token to {host} ({scheme}, port {port}), "
                    "which is not a configured endpoint; pass authenticate=False to call it "
                    "without"
                )
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

    # -- resources ---------------------------------------------------------------------

    @property
    def msi(self) -> MSI:
        """The Master Sarana Index (facility registry)."""
        if self._msi is None:
            from satusehat_async.msi import MSI

            self._msi = MSI(self)
        return self._msi

    @property
    def patients(self) -> Patients:
        """The Master Patient Index (FHIR Patient)."""
        if self._patients is None:
            from satusehat_async.patients import Patients

            self._patients = Patients(self)
        return self._patients
