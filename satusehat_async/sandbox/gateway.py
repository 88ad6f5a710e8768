"""The sandbox's gateway: what stands between a request and the endpoints, in one middleware.

In order, for every request: count it, wait the sandbox's ``latency``, answer a wrong
URL or method with an empty 404/405, drop aiohttp's silent re-send of a dropped request,
answer a queued or random fault (before any work), check the bearer token (every
endpoint but the token's), then run the endpoint — and for a write that drew an
ambiguous ``commit_then_*`` fault, commit it and fail the answer (or, with
``late_commit``, fail the answer at once and commit the write a little later).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from satusehat_async.sandbox.faults import TOKEN_PATH, FaultKind, WriteFaults, fault_response
from satusehat_async.sandbox.stats import SandboxStats

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import AbstractResource

    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["Gateway"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# the writes a random ambiguous fault may hit (the token POST never gets here)
_WRITES = frozenset({"POST", "PATCH", "PUT"})
_REDROP_WINDOW = 2.0  # seconds within which a re-send counts as aiohttp's automatic one
logger = logging.getLogger("satusehat_async.sandbox")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering (the client sees a server disconnect)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)  # never written: the transport is closed


def _count(
    stats: SandboxStats, request: web.Request, resource: AbstractResource | None, is_token: bool
) -> None:
    route = resource.canonical if resource is not None else request.path
    stats.requests += 1
    stats.requests_by_path[f"{request.method} {route}"] += 1
    if is_token:
        stats.token_requests += 1
    else:
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)


class Gateway:
    """The middleware of one :class:`~satusehat_async.sandbox.server.LocalSandbox`.

    It reads the sandbox's settings as they are at each request (``latency``,
    ``retry_after``, ``late_commit``, the fault plan, the token issuer, the stats), so
    they may be changed while it serves.
    """

    def __init__(self, sandbox: LocalSandbox, write_faults: WriteFaults, seed: int) -> None:
        self._sandbox = sandbox
        self._write_faults = write_faults
        self._late_random = random.Random(seed * 97 + 5)
        self.late_commits: set[asyncio.Task[None]] = set()
        """Writes answered with a fault that ``late_commit`` holds back, still to commit."""
        self._redrops: dict[tuple[str, str], float] = {}  # (method, path_qs) -> deadline

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count, delay, fault, check the token, then hand over to the endpoint."""
        sandbox = self._sandbox
        stats = sandbox.stats
        resource = request.match_info.route.resource
        is_token = request.path == TOKEN_PATH
        _count(stats, request, resource, is_token)
        try:
            if sandbox.latency:
                await asyncio.sleep(sandbox.latency)
            if resource is None:  # a wrong URL (404) or method (405): empty body
                error = request.match_info.http_exception
                return web.Response(status=error.status if error is not None else 404)
            return await self._admit(request, handler, stats, is_token)
        finally:
            if not is_token:
                sandbox.stats.in_flight -= 1

    async def _admit(
        self, request: web.Request, handler: Handler, stats: SandboxStats, is_token: bool
    ) -> web.StreamResponse:
        sandbox = self._sandbox
        if self._redrop(request):
            return _drop(request)
        fault = sandbox.faults.pick(request.method, request.path)
        if fault is not None:
            return self._fail(request, fault, stats)
        if not is_token:
            refusal = sandbox.tokens.check(request.headers.get("Authorization"))
            if refusal is not None:
                return refusal
        fault = sandbox.faults.pick(request.method, request.path, after_commit=True)
        if fault is None and not is_token and request.method in _WRITES:
            fault = self._write_faults.draw()
        if fault is not None and sandbox.late_commit is not None:
            return await self._commit_later(request, handler, fault)
        try:
            response = await handler(request)
        except web.HTTPException as error:  # 405 and friends
            response = web.Response(status=error.status, text=error.text)
        if fault is not None:  # committed: now fail the answer
            return self._fail(request, fault, stats)
        return response

    def _fail(self, request: web.Request, fault: FaultKind, stats: SandboxStats) -> web.Response:
        """Answer ``fault`` (counted in ``stats``), or drop the connection for a drop."""
        stats.faults_injected[fault] += 1
        return fault_response(fault, self._sandbox.retry_after) or self._drop(request)

    async def _commit_later(
        self, request: web.Request, handler: Handler, fault: FaultKind
    ) -> web.Response:
        """Answer ``fault`` now; run the write ``late_commit`` seconds later."""
        await request.read()  # kept by aiohttp for the handler that runs after the answer
        late_commit = self._sandbox.late_commit
        assert late_commit is not None
        delay = self._late_random.uniform(*late_commit)
        task = asyncio.get_running_loop().create_task(self._late(handler, request, delay))
        self.late_commits.add(task)
        task.add_done_callback(self.late_commits.discard)
        return self._fail(request, fault, self._sandbox.stats)

    @staticmethod
    async def _late(handler: Handler, request: web.Request, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await handler(request)
        except Exception:  # a late write that fails is simply not stored
            logger.exception("sandbox: a held-back write failed")

    async def settle(self) -> None:
        """Wait until every held-back write has run."""
        while self.late_commits:
            await asyncio.gather(*self.late_commits, return_exceptions=True)

    def cancel_late_commits(self) -> None:
        """Cancel every held-back write (it never commits)."""
        for task in list(self.late_commits):
            task.cancel()

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
