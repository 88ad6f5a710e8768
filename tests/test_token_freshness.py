"""A request's token is taken just before it leaves, not before it queues.

Requests waiting for a connection slot (the client's connection limit) or for their turn
under the rate limit must not hold a token that expires while they wait: found by the
chaos soak (480 concurrent creates, 1-second tokens), where a request's replay also
carried an expired token and failed with AuthenticationError.
"""

from __future__ import annotations

import asyncio

from satusehat_async import RequestEvent
from satusehat_async.testing import Sandbox


async def _crawl_pages(client: object, count: int) -> list[int]:
    async def one(page: int) -> int:
        result = await client.msi.page(page=page, page_size=10)  # type: ignore[attr-defined]
        return int(result.page)

    return await asyncio.gather(*(one(page) for page in range(1, count + 1)))


async def test_requests_queued_for_a_connection_take_their_token_when_they_leave() -> None:
    # 24 requests through 2 connections at 50 ms each queue for ~0.6 s; tokens live 0.3 s.
    async with Sandbox(facilities=500, latency=0.05, token_ttl=0.3) as sb:
        events: list[RequestEvent] = []
        async with sb.client(connection_limit=2, hooks=[events.append]) as client:
            pages = await _crawl_pages(client, 24)
        assert sorted(pages) == list(range(1, 25))
        # a token may still die in flight (it lives 0.3 s): rare, and healed by one replay
        assert len([e for e in events if e.status == 401]) <= 4


async def test_requests_queued_by_the_rate_limit_take_their_token_when_they_leave() -> None:
    # 16 requests at 20 per second queue for ~0.8 s; tokens live 0.3 s.
    async with Sandbox(facilities=500, token_ttl=0.3) as sb:
        events: list[RequestEvent] = []
        async with sb.client(rate_limit=20, hooks=[events.append]) as client:
            pages = await _crawl_pages(client, 16)
        assert sorted(pages) == list(range(1, 17))
        # a token may still die in flight (it lives 0.3 s): rare, and healed by one replay
        assert len([e for e in events if e.status == 401]) <= 4
