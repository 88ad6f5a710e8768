"""The client against a small in-test aiohttp server: real sockets, real concurrency."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from _support import FakeClock
from aiohttp import web
from conftest import ServerFactory

from satusehat_async import RetryPolicy, SatuSehatClient


class TokenServer:
    """Issues tokens valid for ``ttl`` seconds of ``clock``; one protected JSON endpoint."""

    def __init__(self, clock: FakeClock, ttl: int = 3600, token_delay: float = 0.05) -> None:
        self.clock = clock
        self.ttl = ttl
        self.token_delay = token_delay
        self.token_requests = 0
        self.tokens: dict[str, float] = {}
        self.unauthorized = 0
        self.served = 0
        self.drop_next = 0
        self.app = web.Application()
        self.app.router.add_post("/oauth2/v1/accesstoken", self.token)
        self.app.router.add_get("/data", self.data)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        assert request.query["grant_type"] == "client_credentials"
        assert form["client_id"] == "cid" and form["client_secret"] == "csecret"
        await asyncio.sleep(self.token_delay)  # a slow token endpoint widens the race
        value = secrets.token_hex(8)
        self.tokens[value] = self.clock() + self.ttl
        return web.json_response(
            {
                "access_token": value,
                "token_type": "BearerToken",
                "expires_in": str(self.ttl),
                "issued_at": str(int(self.clock() * 1000)),
            }
        )

    async def data(self, request: web.Request) -> web.StreamResponse:
        if self.drop_next > 0:
            self.drop_next -= 1
            assert request.transport is not None
            request.transport.close()  # the connection drops with no answer
            return web.Response()
        value = request.headers.get("Authorization", "").removeprefix("Bearer ")
        expires = self.tokens.get(value)
        if expires is None or self.clock() >= expires:
            self.unauthorized += 1
            return web.json_response(
                {
                    "fault": {
                        "faultstring": "Access Token expired",
                        "detail": {"errorcode": "keymanagement.service.access_token_expired"},
                    }
                },
                status=401,
            )
        self.served += 1
        return web.json_response({"ok": True})


def make_client(base: str, clock: FakeClock, **kwargs: Any) -> SatuSehatClient:
    return SatuSehatClient(
        "cid",
        "csecret",
        base_url=base,
        clock=clock,
        retry=RetryPolicy(base_delay=0.01, jitter=None),
        **kwargs,
    )


async def test_500_concurrent_first_calls_one_token_request(serve: ServerFactory) -> None:
    clock = FakeClock()
    server = TokenServer(clock)
    base = await serve(server.app)
    async with make_client(base, clock) as client:
        results = await asyncio.gather(*(client.request("GET", "/data") for _ in range(500)))
    assert all(r == {"ok": True} for r in results)
    assert server.token_requests == 1
    assert server.served == 500
    assert client.metrics.token_refreshes == 1


async def test_token_expiring_mid_run_refreshed_without_failed_call(serve: ServerFactory) -> None:
    clock = FakeClock()
    server = TokenServer(clock, ttl=60, token_delay=0.0)
    base = await serve(server.app)
    async with make_client(base, clock) as client:
        for _ in range(30):
            results = await asyncio.gather(*(client.request("GET", "/data") for _ in range(20)))
            assert all(r == {"ok": True} for r in results)
            clock.advance(7)  # 210 s in all: several 60 s tokens
    assert server.served == 600
    assert server.token_requests >= 4
    assert server.unauthorized == 0  # refreshed early, never sent an expired token


async def test_server_side_revocation_replayed_once(serve: ServerFactory) -> None:
    clock = FakeClock()
    server = TokenServer(clock)
    base = await serve(server.app)
    async with make_client(base, clock) as client:
        assert await client.request("GET", "/data") == {"ok": True}
        server.tokens.clear()  # every token revoked: the next calls meet a 401
        results = await asyncio.gather(*(client.request("GET", "/data") for _ in range(50)))
    assert all(r == {"ok": True} for r in results)
    assert server.token_requests == 2  # one refresh for all 50 concurrent 401s
    assert server.served == 51


async def test_dropped_connection_on_get_is_retried(serve: ServerFactory) -> None:
    clock = FakeClock()
    server = TokenServer(clock)
    base = await serve(server.app)
    async with make_client(base, clock) as client:
        server.drop_next = 2
        assert await client.request("GET", "/data") == {"ok": True}
    assert server.drop_next == 0
    # aiohttp itself re-sends once on a reused keep-alive connection; we retry the rest
    assert client.metrics.retries >= 1


async def test_borrowed_session_is_not_closed(serve: ServerFactory) -> None:
    import aiohttp

    clock = FakeClock()
    server = TokenServer(clock)
    base = await serve(server.app)
    async with aiohttp.ClientSession() as session:
        async with make_client(base, clock, session=session) as client:
            assert await client.request("GET", "/data") == {"ok": True}
        assert not session.closed
        assert await (await session.get(f"{base}/data")).json() is not None


async def test_rate_limit_spaces_requests(serve: ServerFactory) -> None:
    clock = FakeClock()
    server = TokenServer(clock, token_delay=0.0)
    base = await serve(server.app)
    loop = asyncio.get_running_loop()
    async with make_client(base, clock, rate_limit=50.0) as client:
        await client.get_token()
        start = loop.time()
        await asyncio.gather(*(client.request("GET", "/data") for _ in range(11)))
        elapsed = loop.time() - start
    # 11 requests at 50/s need at least 10 intervals of 20 ms
    assert elapsed >= 0.19


@pytest.mark.parametrize("limit", [1, 3])
async def test_connection_limit_is_respected(serve: ServerFactory, limit: int) -> None:
    clock = FakeClock()
    in_flight = 0
    peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return web.json_response({})

    server = TokenServer(clock, token_delay=0.0)
    server.app.router.add_get("/slow", slow)
    base = await serve(server.app)
    async with make_client(base, clock, connection_limit=limit) as client:
        await asyncio.gather(*(client.request("GET", "/slow") for _ in range(20)))
    assert peak == limit
