"""``client.msi`` end to end against the embedded sandbox: faults, expiring tokens, early stop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from satusehat_async.errors import ServerError, ValidationError
from satusehat_async.msi import MSI, Facility
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox

FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.005)


def expected_codes(sb: Sandbox, jenis: set[str] | None = None, **where: str) -> list[str]:
    codes = []
    for record in sb.registry:
        if jenis is not None and record["jenis_sarana"]["kode"] not in jenis:
            continue
        if any(record[k]["kode"] != v for k, v in where.items()):
            continue
        codes.append(record["kode_satusehat"])
    return codes


def other_tasks() -> set[asyncio.Task[Any]]:
    """Pending tasks of the client side (the in-process sandbox's own handlers excluded)."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and "aiohttp/web" not in _where(t)
    }


def _where(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return code.co_filename if code is not None else ""


def fake_clock() -> Callable[[], float]:
    """A wall clock that advances one second per reading: tokens expire mid-crawl."""
    ticks = itertools.count()
    return lambda: 1_700_000_000.0 + next(ticks)


async def test_client_msi_is_an_msi() -> None:
    async with Sandbox(facilities=10) as sb, sb.client() as client:
        assert isinstance(client.msi, MSI)
        assert client.msi.url == sb.base_url + "/masterdata/v1/mastersaranaindex/mastersarana"


async def test_every_facility_once_in_order_through_faults_and_expiring_tokens() -> None:
    clock = fake_clock()
    options: dict[str, Any] = {"fault_rate": 0.15, "token_ttl": 30.0, "latency": 0.005}
    async with Sandbox(facilities=6000, seed=5, clock=clock, **options) as sb:
        async with sb.client(retry=FAST_RETRY, clock=clock) as client:
            crawl = client.msi.facilities(page_size=200, concurrency=4)
            codes = []
            async for facility in crawl:
                assert isinstance(facility, Facility)
                codes.append(facility.kode_satusehat)
        assert codes == expected_codes(sb)
        stats = crawl.stats
        assert stats.facilities == 6000 and stats.pages == stats.total_page == 30
        assert stats.duplicates_skipped == 0 and not stats.total_page_changed
        assert sum(sb.stats.faults_injected.values()) > 0
        assert stats.retries > 0  # the random faults were ridden through by retries
        assert sb.stats.token_requests > 2  # the 30 s tokens expired mid-crawl
        assert 1 < sb.stats.max_in_flight <= 4


async def test_expired_and_revoked_tokens_mid_crawl_are_ridden_through() -> None:
    async with Sandbox(facilities=3000, seed=2) as sb, sb.client(retry=FAST_RETRY) as client:
        crawl = client.msi.pages(page_size=300, concurrency=3)
        count = 0
        async for page in crawl:
            count += len(page.facilities)
            if page.page == 3:
                sb.expire_tokens()
            if page.page == 6:
                sb.inject("401_invalid", count=2)
        assert count == 3000 and sb.stats.token_requests >= 2


@pytest.mark.parametrize(("concurrency", "connection_limit", "expected"), [(3, 100, 3), (8, 2, 2)])
async def test_in_flight_is_bounded_by_concurrency_and_connection_limit(
    concurrency: int, connection_limit: int, expected: int
) -> None:
    async with Sandbox(facilities=4000, latency=0.02) as sb:
        async with sb.client(connection_limit=connection_limit) as client:
            crawl = client.msi.pages(page_size=250, concurrency=concurrency)
            assert len([p async for p in crawl]) == 16
        assert sb.stats.max_in_flight == expected


async def test_filters_are_sent_and_honoured() -> None:
    async with Sandbox(facilities=5000, seed=3) as sb, sb.client() as client:
        province = sb.registry[0]["provinsi"]["kode"]
        crawl = client.msi.facilities(
            jenis_sarana=[103, 104], kode_provinsi=province, page_size=100, concurrency=2
        )
        codes = [f.kode_satusehat async for f in crawl]
        assert codes == expected_codes(sb, {"103", "104"}, provinsi=province)
        assert codes


async def test_a_page_failing_after_retries_raises_after_the_pages_before_it() -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    async with Sandbox(facilities=2000, seed=4) as sb, sb.client(retry=policy) as client:
        crawl = client.msi.pages(page_size=100, concurrency=2)
        numbers = []
        with pytest.raises(ServerError):
            async for page in crawl:
                numbers.append(page.page)
                if page.page == 3:
                    sb.inject("503", count=1000)
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
        assert numbers[-1] < 20
    assert not other_tasks()


async def test_registry_growing_mid_crawl_is_reported_and_deduplicated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Sandbox(facilities=3000, seed=6) as sb, sb.client() as client:
        before = expected_codes(sb)
        crawl = client.msi.facilities(page_size=250, concurrency=1)
        codes = []
        with caplog.at_level(logging.WARNING, logger="satusehat_async.msi"):
            async for facility in crawl:
                codes.append(facility.kode_satusehat)
                if len(codes) == 500:
                    sb.add_facilities(300, at_front=True)
        assert len(codes) == len(set(codes))  # each kode_satusehat once
        assert set(before) <= set(codes)  # nothing that was there all along is lost
        assert crawl.stats.total_page_changed
        assert crawl.stats.total_page_changes[0].old == 12
        assert crawl.stats.total_page_changes[0].new == 14
        assert crawl.stats.duplicates_skipped > 0
        assert "total_page changed from 12 to 14" in caplog.text


async def test_a_single_page_crawl_sends_one_request() -> None:
    async with Sandbox(facilities=50, latency=0.01) as sb, sb.client() as client:
        await client.get_token()
        sb.reset_stats()
        crawl = client.msi.facilities(page_size=100)
        assert len([f async for f in crawl]) == 50
        assert sb.stats.requests == 1 and crawl.stats.total_page == 1


async def test_validation_error_before_any_request() -> None:
    async with Sandbox(facilities=10) as sb, sb.client() as client:
        with pytest.raises(ValidationError):
            client.msi.facilities(kode_kabkota="32")
        with pytest.raises(ValidationError):
            client.msi.pages(page_size=2001)
        with pytest.raises(ValidationError):
            client.msi.pages(concurrency=0)
        assert sb.stats.requests == 0


async def test_single_page_and_start_page() -> None:
    async with Sandbox(facilities=1000, seed=7) as sb, sb.client() as client:
        page = await client.msi.page(3, page_size=100)
        assert page.page == 3 and page.total_page == 10
        assert [f.kode_satusehat for f in page.facilities] == expected_codes(sb)[200:300]
        tail = [f.kode_satusehat async for f in client.msi.facilities(page_size=100, start_page=9)]
        assert tail == expected_codes(sb)[800:]


async def test_early_stop_with_aclosing_leaves_nothing_running() -> None:
    async with Sandbox(facilities=20_000, latency=0.05) as sb, sb.client() as client:
        async with contextlib.aclosing(client.msi.pages(page_size=500, concurrency=4)) as crawl:
            async for _ in crawl:
                await asyncio.sleep(0.02)
                break
        assert not other_tasks()
        assert sb.stats.requests < 15


EARLY_STOP_SCRIPT = textwrap.dedent(
    """
    import asyncio, contextlib, gc, sys
    from satusehat_async.testing import Sandbox

    def others():
        # Client-side tasks only: the in-process sandbox's handlers are not ours.
        return {
            t for t in asyncio.all_tasks()
            if t is not asyncio.current_task()
            and "aiohttp/web" not in t.get_coro().cr_code.co_filename
        }

    async def settle():
        for _ in range(20):
            if not others():
                return
            await asyncio.sleep(0.01)

    async def main():
        async with Sandbox(facilities=20_000, latency=0.05) as sb:
            async with sb.client() as client:
                # 1. plain break
                async for page in client.msi.pages(page_size=500, concurrency=4):
                    await asyncio.sleep(0.03)
                    break
                await settle()
                assert not others(), others()
                # 2. exception in the consumer
                try:
                    async for f in client.msi.facilities(page_size=500, concurrency=4):
                        await asyncio.sleep(0.03)
                        raise LookupError
                except LookupError:
                    pass
                await settle()
                assert not others(), others()
                # 3. cancellation of the consuming task
                async def consume():
                    async for page in client.msi.pages(page_size=500, concurrency=4):
                        await asyncio.sleep(0.03)
                task = asyncio.create_task(consume())
                await asyncio.sleep(0.2)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                assert not others(), others()
                # 4. aclosing
                async with contextlib.aclosing(client.msi.pages(page_size=500)) as crawl:
                    async for page in crawl:
                        await asyncio.sleep(0.03)
                        break
                assert not others(), others()
        gc.collect()
        print("CLEAN")

    asyncio.run(main())
    """
)


def test_early_stop_is_clean_under_dev_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", EARLY_STOP_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "CLEAN"
    for marker in (
        "Task was destroyed",
        "Unclosed",
        "ResourceWarning",
        "never retrieved",
        "Exception ignored",
        "Traceback",
    ):
        assert marker not in result.stderr, result.stderr
