"""The local sandbox: a fake SATUSEHAT (an aiohttp server on 127.0.0.1) for tests and demos.

:class:`LocalSandbox` holds the settings and the stores — the token issuer
(:mod:`.tokens`), the facility registry (:mod:`.registry`), the patient store
(:mod:`.patients`), the store of every other FHIR resource type (:mod:`.resources`), the
fault plan (:mod:`.faults`) and the counters (:mod:`.stats`) — and
serves them: the endpoints are in :mod:`.routes`, the gateway in front of them (latency,
faults, the token check, ambiguous writes) in :mod:`.gateway`. It is an independent oracle
of the API: it shares no protocol code with the client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import socket
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from satusehat_async.sandbox.faults import TRANSIENT_FAULT_KINDS, random_faults
from satusehat_async.sandbox.fhir import SearchLag, check_lag
from satusehat_async.sandbox.gateway import Gateway
from satusehat_async.sandbox.patients import CreateAnswer, PatientStore
from satusehat_async.sandbox.registry import Registry
from satusehat_async.sandbox.resources import ResourceStore, SearchStyle, TransactionStyle
from satusehat_async.sandbox.routes import MSI_PATH, build_app
from satusehat_async.sandbox.stats import SandboxStats
from satusehat_async.sandbox.time_rules import EARLIEST_DATE
from satusehat_async.sandbox.tokens import TokenIssuer, application_name

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = ["MSI_PATH", "LocalSandbox", "Sandbox", "SandboxStats"]


class LocalSandbox:
    """A local SATUSEHAT for tests, demos and benchmarks; see the module documentation.

    Use it as an async context manager (or call :meth:`start` and :meth:`close`)::

        async with LocalSandbox(facilities=2_000) as sb:
            async with sb.client() as client:
                ...

    Args:
        facilities: size of the generated facility registry.
        seed: makes the registry, the patient ids and the random faults reproducible.
        token_ttl: lifetime of access tokens in seconds, measured by ``clock``.
        client_id, client_secret: the credentials the token endpoint accepts.
        latency: seconds added to every request.
        fault_rate: fraction of requests (token requests excepted) answered with a
            random fault drawn from ``fault_kinds``; writes fail before committing.
        fault_kinds: kinds for random faults (default: the transient ones). The
            ambiguous write faults ``commit_then_500``, ``commit_then_504`` and
            ``commit_then_drop`` may be among them: a Patient write that got no other
            fault then commits and fails its answer, with their share of ``fault_rate``.
        retry_after: the ``Retry-After`` header value of 429 answers.
        clock: the time source for token expiry and patient timestamps (seconds).
        port, host: where to listen (port 0: a free port).
        organization_id: the caller's SATUSEHAT organization id: the one local identifiers
            (``http://sys-ids.kemkes.go.id/{kind}/{org}``) must name, else RuleNumber 10117.
        fhir_search_style: how resource searches (every type but Patient) page:
            ``"standard"`` (``_count`` pages, ``next`` links) or ``"satusehat"`` (as
            SATUSEHAT's store was captured: at most 100 entries, the true ``total``, no
            ``link``). Also settable later as ``sb.resources.search_style``.
        create_answer: answer a Patient create with the resource (``"resource"``) or with
            SATUSEHAT's ``{"success": true, ...}`` envelope (``"envelope"``).
        conditional_create: honour ``If-None-Exist`` on creates (Patient and every other
            type) like a standard FHIR server (200 and the existing resource). Off by
            default, like SATUSEHAT, which is not documented to honour it: a duplicate NIK
            then gets the 200 ``{"success": false, ...}`` envelope, and another resource
            whose local identifier exists the 400 ``duplicate`` OperationOutcome.
        search_lag: ``(low, high)`` seconds: a new Patient (or other resource) is found by
            searches only a random ``low`` to ``high`` seconds (by ``clock``, drawn from
            ``seed``) after it was stored, as with the MPI's search index; reads by id (and
            the duplicate rules) see it at once. Also
            settable later as ``sb.patients.search_lag`` and ``sb.resources.search_lag``.
        late_commit: ``(low, high)`` seconds: a ``commit_then_*`` fault answers its error
            at once and commits the write a random ``low`` to ``high`` seconds later (a
            gateway timing out while the backend still works); None: the write commits
            before the error answer. :meth:`settle` waits for such writes.
        transaction_style: how a ``transaction`` Bundle (``POST /fhir-r4/v1``) is answered:
            ``"satusehat"`` (as captured: entries of only ``response``, with SATUSEHAT's
            ``resourceType``/``resourceID`` keys, and ``total``) or ``"standard"`` (FHIR's:
            ``fullUrl``, ``resource`` and ``response`` per entry). Also settable later as
            ``sb.resources.transaction_style``.
        datetime_rule: refuse, on every write of a resource other than a Patient, a
            date-time that is not UTC ``YYYY-MM-DDThh:mm:ss+00:00`` (RuleNumber 10132
            ``format``). Also ``sb.resources.datetime_rule``.
        kfa_products: the size of the generated KFA catalogue (products of both types).
        earliest_date: refuse a date-time before this date (RuleNumber 10132 ``value``;
            SATUSEHAT documents 3 June 2014); None: no bound. Also
            ``sb.resources.earliest_date``.
    """

    #: The stores of the other services (KFA, wilayah, consent, KYC...), by name: each
    #: routes module builds its own on first use.
    extensions: dict[str, Any]

    def __init__(
        self,
        *,
        facilities: int = 10_000,
        seed: int = 1,
        token_ttl: float = 3600.0,
        client_id: str = "sandbox",
        client_secret: str = "sandbox",  # noqa: S107 - a public test credential
        latency: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = TRANSIENT_FAULT_KINDS,
        retry_after: str = "0",
        clock: Callable[[], float] = time.time,
        port: int = 0,
        host: str = "127.0.0.1",
        organization_id: str = "10000004",
        fhir_search_style: SearchStyle = "standard",
        create_answer: CreateAnswer = "resource",
        conditional_create: bool = False,
        search_lag: SearchLag | None = None,
        late_commit: SearchLag | None = None,
        transaction_style: TransactionStyle = "satusehat",
        datetime_rule: bool = True,
        earliest_date: dt.date | None = EARLIEST_DATE,
        kfa_products: int = 3_000,
    ) -> None:
        if latency < 0 or token_ttl <= 0:
            raise ValueError("latency must be >= 0 and token_ttl > 0")
        self.late_commit = check_lag("late_commit", late_commit)
        self.facilities, self.seed, self.latency = facilities, seed, latency
        self.retry_after, self.clock, self.host, self.port = retry_after, clock, host, port
        self.faults, write_faults = random_faults(fault_rate, fault_kinds, seed)
        self.patients = PatientStore(
            seed=seed,
            clock=clock,
            create_answer=create_answer,
            conditional_create=conditional_create,
            search_lag=search_lag,
        )
        self.resources = ResourceStore(
            seed=seed,
            clock=clock,
            organization_id=organization_id,
            search_style=fhir_search_style,
            conditional_create=conditional_create,
            search_lag=search_lag,
            transaction_style=transaction_style,
            datetime_rule=datetime_rule,
            earliest_date=earliest_date,
        )
        self.stats = SandboxStats()
        self.kfa_products, self.extensions = kfa_products, {}
        self._registry: Registry | None = None
        self.tokens = TokenIssuer(
            client_id, client_secret, ttl=token_ttl, clock=clock, application=application_name(seed)
        )
        self._gateway = Gateway(self, write_faults, seed)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def client_id(self) -> str:
        """The client id the token endpoint accepts."""
        return self.tokens.client_id

    @property
    def client_secret(self) -> str:
        """The client secret the token endpoint accepts (a test value, not a secret)."""
        return self.tokens.client_secret

    @property
    def organization_id(self) -> str:
        """The caller's organization id (see ``organization_id=``)."""
        return self.resources.organization_id

    @property
    def token_ttl(self) -> float:
        """Token lifetime in seconds."""
        return self.tokens.ttl

    # -- lifecycle -------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The facilities (generated on first use): indexable, iterable, ``len()``."""
        if self._registry is None:
            self._registry = Registry(self.facilities, self.seed, clock=self.clock)
        return self._registry

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started")
        return self._base_url

    async def start(self) -> None:
        """Generate the registry (if not yet) and start listening."""
        if self._runner is not None:
            return
        if self._registry is None:  # in a thread: a big draw takes seconds
            self._registry = await asyncio.to_thread(
                Registry, self.facilities, self.seed, clock=self.clock
            )
        runner = web.AppRunner(
            build_app(self, self._gateway),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.5,
        )
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = sock.getsockname()[1]
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self._base_url = f"http://{host}:{self.port}"
        self.patients.base_url = self.resources.base_url = self._base_url

    async def close(self) -> None:
        """Stop listening and close every connection (writes still to commit never do)."""
        self._gateway.cancel_late_commits()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> LocalSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def environ(self) -> dict[str, str]:
        """The ``SATUSEHAT_*`` variables that point ``SatuSehatClient.from_env()`` (and the
        command line) at this sandbox: its URL, its test credentials and its organization."""
        return {
            "SATUSEHAT_BASE_URL": self.base_url,
            "SATUSEHAT_CLIENT_ID": self.client_id,
            "SATUSEHAT_CLIENT_SECRET": self.client_secret,
            "SATUSEHAT_ORGANIZATION_ID": self.organization_id,
        }

    def client(self, **kwargs: Any) -> SatuSehatClient:
        """A ``SatuSehatClient`` with the sandbox's credentials, URL and (where the client
        takes one) organization id; not yet entered."""
        from satusehat_async.client import SatuSehatClient

        if "organization_id" in inspect.signature(SatuSehatClient).parameters:
            kwargs.setdefault("organization_id", self.organization_id)
        return SatuSehatClient(self.client_id, self.client_secret, base_url=self.base_url, **kwargs)

    # -- controls --------------------------------------------------------------------
    def inject(
        self,
        kind: str,
        count: int = 1,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with fault ``kind``.

        Kinds: ``"504"``, ``"503"``, ``"502"``, ``"500"``, ``"429"``, ``"drop"``,
        ``"401_expired"``, ``"401_invalid"`` (any request but the token endpoint's unless
        ``path_prefix`` selects it), ``"token_500"`` (the token endpoint only), and
        ``"commit_then_500"``, ``"commit_then_504"``, ``"commit_then_drop"`` (writes only:
        the write is stored, then the answer fails). ``method`` and ``path_prefix``
        narrow the requests a fault applies to; queued faults are used in order.
        """
        self.faults.inject(kind, count, method, path_prefix)

    def expire_tokens(self) -> None:
        """Make every token issued so far expired (answers 401 ``access_token_expired``)."""
        self.tokens.expire_all()

    def add_facilities(
        self, count: int, *, at_front: bool = True, updated_at: str | None = None
    ) -> list[str]:
        """Register ``count`` new facilities; returns their ``kode_satusehat`` codes.

        ``at_front`` puts them before every other facility, so the rows of the pages of a
        crawl in progress shift; ``updated_at`` (``YYYY-MM-DD``) defaults to the clock's
        today, so ``lower_bound_updated_at`` finds them.
        """
        if updated_at is None:
            updated_at = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date().isoformat()
        return self.registry.add(count, at_front=at_front, updated_at=updated_at)

    @property
    def pending_commits(self) -> int:
        """Writes answered with a ``commit_then_*`` fault that ``late_commit`` holds back."""
        return len(self._gateway.late_commits)

    async def settle(self) -> None:
        """Let every held-back write commit, then end every search lag.

        Afterwards the stores are what a client would eventually see: every write
        committed and every record found by searches.
        """
        await self._gateway.settle()
        self.patients.settle()
        self.resources.settle()

    def reset_stats(self) -> None:
        """Start every counter from zero (requests still in flight stay counted)."""
        in_flight = self.stats.in_flight
        self.stats = SandboxStats(in_flight=in_flight, max_in_flight=in_flight)


Sandbox = LocalSandbox
"""The same class as :class:`LocalSandbox` (its first name; both stay)."""
