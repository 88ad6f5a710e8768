"""The sandbox server: an aiohttp application that answers like SATUSEHAT.

Endpoints (at the real paths): the OAuth token, the Master Sarana Index and Patient
(create, search, read, patch). Every answer carries a unique ``X-Request-Id``; every
endpoint but the token's wants a valid ``Authorization: Bearer`` token. Latency, random
transient faults and queued deterministic faults are applied in one middleware.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from satusehat_async.testing.faults import (
    AFTER_COMMIT,
    RANDOM_FAULT_KINDS,
    TOKEN_PATH,
    TRANSIENT_FAULT_KINDS,
    FaultKind,
    FaultPlan,
    fault_response,
)
from satusehat_async.testing.fhir import Answer
from satusehat_async.testing.msi import MsiQueryError, parse_msi_query
from satusehat_async.testing.patients import CreateAnswer, PatientStore, SearchLag, check_lag
from satusehat_async.testing.registry import Registry
from satusehat_async.testing.tokens import TokenIssuer, application_name

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = ["MSI_PATH", "Sandbox", "SandboxStats"]

MSI_PATH = "/masterdata/v1/mastersaranaindex/mastersarana"
PATIENT_PATH = "/fhir-r4/v1/Patient"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_WRITES = frozenset({"POST", "PATCH"})  # the Patient writes (the token POST never gets here)
_REDROP_WINDOW = 2.0  # seconds within which a re-send counts as aiohttp's automatic one
_encode = msgspec.json.Encoder().encode
logger = logging.getLogger("satusehat_async.testing")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SandboxStats:
    """Counters a test can read; :meth:`Sandbox.reset_stats` starts them again."""

    requests: int = 0
    """Every request received, the token endpoint's included."""
    token_requests: int = 0
    requests_by_path: Counter[str] = field(default_factory=Counter)
    """Keyed by method and route, e.g. ``"GET /fhir-r4/v1/Patient/{id}"``."""
    in_flight: int = 0
    """Requests (other than for tokens) being handled right now."""
    max_in_flight: int = 0
    """The most requests (other than for tokens) ever handled at once."""
    patients_stored: int = 0
    """Patients created (committed), whatever the answer said."""
    patches_applied: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    """Faults answered, random and queued, by kind."""


def _json(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=_encode(answer.body),
        content_type="application/json",
        headers=answer.headers,
    )


def _msi_error(message: str) -> web.Response:
    body = {"status_code": 400, "message": message, "data": None}
    return web.Response(status=400, body=_encode(body), content_type="application/json")


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the client sees a server disconnect)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)  # never written: the transport is closed


class Sandbox:
    """A local SATUSEHAT for tests, demos and benchmarks; see the module documentation.

    Use it as an async context manager (or call :meth:`start` and :meth:`close`)::

        async with Sandbox(facilities=2_000) as sb:
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
        create_answer: answer a Patient create with the resource (``"resource"``) or with
            SATUSEHAT's ``{"success": true, ...}`` envelope (``"envelope"``).
        conditional_create: honour ``If-None-Exist`` on Patient creates like a standard
            FHIR server (200 and the existing resource). Off by default, like SATUSEHAT,
            which is not documented to honour it: a duplicate NIK then gets the 200
            ``{"success": false, ...}`` envelope.
        search_lag: ``(low, high)`` seconds: a new Patient is found by searches only a
            random ``low`` to ``high`` seconds (by ``clock``, drawn from ``seed``) after it was
            stored, as with the MPI's search index; reads by id see it at once. Also
            settable later as ``sb.patients.search_lag``.
        late_commit: ``(low, high)`` seconds: a ``commit_then_*`` fault answers its error
            at once and commits the write a random ``low`` to ``high`` seconds later (a
            gateway timing out while the backend still works); None: the write commits
            before the error answer. :meth:`settle` waits for such writes.
    """

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
        create_answer: CreateAnswer = "resource",
        conditional_create: bool = False,
        search_lag: SearchLag | None = None,
        late_commit: SearchLag | None = None,
    ) -> None:
        if latency < 0 or token_ttl <= 0:
            raise ValueError("latency must be >= 0 and token_ttl > 0")
        self.late_commit = check_lag("late_commit", late_commit)
        self.facilities = facilities
        self.seed = seed
        self.latency = latency
        self.retry_after = retry_after
        self.clock = clock
        self.host = host
        self.port = port
        kinds = tuple(fault_kinds)
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        bad = [k for k in kinds if k not in RANDOM_FAULT_KINDS and k not in AFTER_COMMIT]
        if bad:
            allowed = (*RANDOM_FAULT_KINDS, *AFTER_COMMIT)
            raise ValueError(f"not a random fault kind: {bad}; use {allowed}")
        # The plan draws the faults answered before any work; the ambiguous write faults
        # are drawn here, for writes that got none of those.
        self._write_faults = tuple(k for k in AFTER_COMMIT if k in kinds)
        answer_kinds = [k for k in kinds if k not in AFTER_COMMIT]
        self._write_fault_rate = fault_rate * len(self._write_faults) / max(1, len(kinds))
        self._write_random = random.Random(seed * 131 + 3)
        self.faults = FaultPlan(fault_rate if answer_kinds else 0.0, answer_kinds, seed)
        self.patients = PatientStore(
            seed=seed,
            clock=clock,
            create_answer=create_answer,
            conditional_create=conditional_create,
            search_lag=search_lag,
        )
        self._late_random = random.Random(seed * 97 + 5)
        self._late_commits: set[asyncio.Task[None]] = set()
        self.stats = SandboxStats()
        self._registry: Registry | None = None
        self.tokens = TokenIssuer(
            client_id, client_secret, ttl=token_ttl, clock=clock, application=application_name(seed)
        )
        self._redrops: dict[tuple[str, str], float] = {}  # (method, path_qs) -> deadline
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
    def token_ttl(self) -> float:
        """Token lifetime in seconds."""
        return self.tokens.ttl

    # -- lifecycle -------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The facilities (generated on first use): indexable, iterable, ``len()``."""
        if self._registry is None:
            self._registry = Registry(self.facilities, self.seed)
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
            self._registry = await asyncio.to_thread(Registry, self.facilities, self.seed)
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_get(MSI_PATH, self._msi)
        app.router.add_post(PATIENT_PATH, self._create_patient)
        app.router.add_get(PATIENT_PATH, self._search_patients)
        app.router.add_get(PATIENT_PATH + "/", self._search_patients)
        app.router.add_get(PATIENT_PATH + "/{id}", self._read_patient)
        app.router.add_patch(PATIENT_PATH + "/{id}", self._patch_patient)
        app.on_response_prepare.append(self._stamp_request_id)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = sock.getsockname()[1]
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self._base_url = f"http://{host}:{self.port}"
        self.patients.base_url = self._base_url

    async def close(self) -> None:
        """Stop listening and close every connection (writes still to commit never do)."""
        for task in list(self._late_commits):
            task.cancel()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
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
        command line) at this sandbox: its URL and its test credentials."""
        return {
            "SATUSEHAT_BASE_URL": self.base_url,
            "SATUSEHAT_CLIENT_ID": self.client_id,
            "SATUSEHAT_CLIENT_SECRET": self.client_secret,
        }

    def client(self, **kwargs: Any) -> SatuSehatClient:
        """A ``SatuSehatClient`` with the sandbox's credentials and URL (not yet entered)."""
        from satusehat_async.client import SatuSehatClient

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
        return len(self._late_commits)

    async def settle(self) -> None:
        """Let every held-back write commit, then end every search lag.

        Afterwards the store is what a patient client would eventually see: every write
        committed and every record found by searches.
        """
        while self._late_commits:
            await asyncio.gather(*self._late_commits, return_exceptions=True)
        self.patients.settle()

    def reset_stats(self) -> None:
        """Start every counter from zero (requests still in flight stay counted)."""
        in_flight = self.stats.in_flight
        self.stats = SandboxStats(in_flight=in_flight, max_in_flight=in_flight)

    # -- plumbing --------------------------------------------------------------------
    @staticmethod
    async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Request-Id"] = str(uuid.uuid4())

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        stats = self.stats
        path = request.path
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else path
        stats.requests += 1
        stats.requests_by_path[f"{request.method} {route}"] += 1
        is_token = path == TOKEN_PATH
        if is_token:
            stats.token_requests += 1
        else:
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if resource is None:  # a wrong URL (404) or method (405): empty body
                error = request.match_info.http_exception
                return web.Response(status=error.status if error is not None else 404)
            if self._redrop(request):
                return _drop(request)
            fault = self.faults.pick(request.method, path)
            if fault is not None:
                stats.faults_injected[fault] += 1
                return fault_response(fault, self.retry_after) or self._drop(request)
            if not is_token:
                refusal = self.tokens.check(request.headers.get("Authorization"))
                if refusal is not None:
                    return refusal
            fault = self.faults.pick(request.method, path, after_commit=True)
            if fault is None and not is_token and request.method in _WRITES:
                fault = self._random_write_fault()
            if fault is not None and self.late_commit is not None:
                return await self._commit_later(request, handler, fault)
            try:
                response = await handler(request)
            except web.HTTPException as error:  # 405 and friends
                response = web.Response(status=error.status, text=error.text)
            if fault is not None:  # committed: now fail the answer
                stats.faults_injected[fault] += 1
                return fault_response(fault, self.retry_after) or self._drop(request)
            return response
        finally:
            if not is_token:
                self.stats.in_flight -= 1

    def _random_write_fault(self) -> FaultKind | None:
        if not self._write_faults or self._write_random.random() >= self._write_fault_rate:
            return None
        return self._write_faults[int(self._write_random.random() * len(self._write_faults))]

    async def _commit_later(
        self, request: web.Request, handler: Handler, fault: FaultKind
    ) -> web.Response:
        """Answer ``fault`` now; run the write ``late_commit`` seconds later."""
        await request.read()  # kept by aiohttp for the handler that runs after the answer
        assert self.late_commit is not None
        delay = self._late_random.uniform(*self.late_commit)
        task = asyncio.get_running_loop().create_task(self._late(handler, request, delay))
        self._late_commits.add(task)
        task.add_done_callback(self._late_commits.discard)
        self.stats.faults_injected[fault] += 1
        return fault_response(fault, self.retry_after) or self._drop(request)

    @staticmethod
    async def _late(handler: Handler, request: web.Request, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await handler(request)
        except Exception:  # a late write that fails is simply not stored
            logger.exception("sandbox: a held-back write failed")

    def _drop(self, request: web.Request) -> web.Response:
        """Drop the connection; for an idempotent method, also aiohttp's silent re-send.

        aiohttp's client re-sends a GET (PUT, DELETE...) once on a new connection when the
        server disconnects; dropping that re-send too makes the caller really see the
        ``ServerDisconnectedError`` (one injected drop = one failed call).
        """
        if request.method in _IDEMPOTENT:
            self._redrops[(request.method, request.path_qs)] = time.monotonic() + _REDROP_WINDOW
        return _drop(request)

    def _redrop(self, request: web.Request) -> bool:
        """Whether this request is the client's automatic re-send of a dropped one."""
        if not self._redrops:
            return False
        deadline = self._redrops.pop((request.method, request.path_qs), None)
        return deadline is not None and time.monotonic() < deadline

    # -- handlers --------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = request.query.get("grant_type") or form.get("grant_type")
        return self.tokens.issue(grant if isinstance(grant, str) else None, form)

    async def _msi(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            parsed = parse_msi_query(query, query.getall("jenis_sarana", []))
        except MsiQueryError as error:
            return _msi_error(str(error))
        return web.Response(body=self.registry.page(parsed), content_type="application/json")

    async def _create_patient(self, request: web.Request) -> web.Response:
        answer = self.patients.create(
            await request.read(), request.content_type, request.headers.get("If-None-Exist")
        )
        if answer.committed:
            self.stats.patients_stored += 1
        return _json(answer)

    async def _search_patients(self, request: web.Request) -> web.Response:
        return _json(self.patients.search(list(request.query.items())))

    async def _read_patient(self, request: web.Request) -> web.Response:
        return _json(self.patients.read(request.match_info["id"]))

    async def _patch_patient(self, request: web.Request) -> web.Response:
        answer = self.patients.patch(
            request.match_info["id"],
            await request.read(),
            request.content_type,
            request.headers.get("If-Match"),
        )
        if answer.committed:
            self.stats.patches_applied += 1
        return _json(answer)
