"""The MSI pager against a scripted server (a MockBackend handler under a real client):
order, concurrency, window, early stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from _support import RecordingSleep

from satusehat_async import RetryPolicy, SatuSehatClient
from satusehat_async.errors import ServerError, ValidationError
from satusehat_async.http import BackendRequest
from satusehat_async.msi.pager import FacilityPages, FacilityStream, TotalPageChange
from satusehat_async.msi.query import FacilityQuery
from satusehat_async.testing import MockBackend

BASE = "https://msi.test"
URL = BASE + "/masterdata/v1/mastersaranaindex/mastersarana"
TOKEN = {"access_token": "tok", "expires_in": "3600"}


class FakeServer:
    """A MockBackend handler serving slices of ``rows`` as MSI pages, with scripted delays,
    failures (503s), extra attempts (503s before the answer) and totals."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        *,
        delay: Callable[[int], float] = lambda page: 0.0,
        fail: set[int] | None = None,
        attempts: Callable[[int], int] = lambda page: 1,
        total: Callable[[int, int], int | None] | None = None,
    ) -> None:
        self.rows = rows
        self.delay = delay
        self.fail = fail or set()
        self.attempts = attempts
        self.total = total
        self.in_flight = 0
        self.max_in_flight = 0
        self.requested: list[int] = []
        self.cancelled: list[int] = []
        self.params: list[dict[str, Any]] = []
        self.before_answer: Callable[[int], None] = lambda page: None
        self._tries: dict[int, int] = {}

    async def __call__(self, request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        if request.url.startswith(BASE + "/oauth2/"):
            return 200, {}, msgspec.json.encode(TOKEN)
        assert request.method == "GET" and request.url.split("?")[0] == URL
        query = request.query
        params: dict[str, Any] = {
            "page": int(query["page"]),
            "limit": int(query["limit"]),
            "jenis_sarana": [int(code) for code in query.getall("jenis_sarana")],
        }
        page, limit = params["page"], params["limit"]
        self.requested.append(page)
        self.params.append(params)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(page))
        except asyncio.CancelledError:
            self.cancelled.append(page)
            raise
        finally:
            self.in_flight -= 1
        self._tries[page] = self._tries.get(page, 0) + 1
        if page in self.fail or self._tries[page] < self.attempts(page):
            return 503, {"Content-Type": "text/plain"}, b"no healthy upstream"
        self.before_answer(page)
        pages = -(-len(self.rows) // limit)
        total = self.total(page, pages) if self.total else pages
        data = self.rows[(page - 1) * limit : page * limit]
        body = {"status_code": 200, "message": "Success", "page": page, "data": data}
        if total is not None:
            body["total_page"] = total
        return 200, {}, msgspec.json.encode(body)


def client_for(handler: FakeServer) -> SatuSehatClient:
    """A client sending through ``MockBackend(handler)``: 3 attempts, no waits, no breaker."""
    return SatuSehatClient(
        "cid",
        "csecret",
        base_url=BASE,
        backend=MockBackend(handler),
        retry=RetryPolicy(max_attempts=3, jitter=None),
        sleep=RecordingSleep(),
        circuit_breaker=None,
    )


def rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"kode_satusehat": str(1_000_000_000 + i), "nama": f"F{i}", "provinsi": {"kode": 32}}
        for i in range(start, start + count)
    ]


def crawl(
    server: FakeServer, *, page_size: int = 10, concurrency: int = 3, **kwargs: Any
) -> FacilityPages:
    kwargs.setdefault("start_page", 1)
    return FacilityPages(
        client_for(server).context,
        URL,
        FacilityQuery.build(jenis_sarana=104),
        page_size=page_size,
        concurrency=concurrency,
        **kwargs,
    )


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_pages_in_order_under_shuffled_latency() -> None:
    rng = random.Random(7)
    delays = {p: rng.uniform(0, 0.02) for p in range(1, 11)}
    server = FakeServer(rows(95), delay=delays.__getitem__)
    pages = crawl(server, concurrency=4)
    numbers, names = [], []
    async for page in pages:
        numbers.append(page.page)
        names += [f.nama for f in page.facilities]
    assert numbers == list(range(1, 11))
    assert names == [f"F{i}" for i in range(95)]
    assert pages.stats.pages == 10 and pages.stats.facilities == 95
    assert pages.stats.total_page == 10 and not pages.stats.total_page_changed
    assert server.max_in_flight == 4
    assert sorted(server.requested) == list(range(1, 11))
    assert server.params[0]["jenis_sarana"] == [104] and server.params[0]["limit"] == 10
    assert pages.stats.elapsed > 0
    assert not other_tasks()


@pytest.mark.parametrize("concurrency", [1, 2, 5])
async def test_in_flight_never_exceeds_concurrency(concurrency: int) -> None:
    server = FakeServer(rows(300), delay=lambda p: 0.001 * (p % 3))
    stream = FacilityStream(crawl(server, concurrency=concurrency))
    count = sum([1 async for _ in stream])
    assert count == 300
    assert server.max_in_flight == concurrency


async def test_look_ahead_window_is_bounded_for_a_slow_consumer() -> None:
    server = FakeServer(rows(1000))
    pages = crawl(server, concurrency=3)
    first = await pages.__anext__()
    assert first.page == 1
    await asyncio.sleep(0.05)  # a consumer busy elsewhere: fetching must stop at the window
    assert max(server.requested) == 1 + 2 * 3
    second = await pages.__anext__()
    await asyncio.sleep(0.05)
    assert second.page == 2 and max(server.requested) == 2 + 2 * 3
    await pages.aclose()
    assert not other_tasks()


async def test_failed_page_raises_at_its_position_and_cleans_up() -> None:
    server = FakeServer(rows(100), fail={6}, delay=lambda p: 0.02 if p < 6 else 0.0)
    pages = crawl(server, concurrency=4)
    seen: list[int] = []
    with pytest.raises(ServerError, match="no healthy upstream"):
        async for page in pages:
            seen.append(page.page or 0)
    assert seen == [1, 2, 3, 4, 5]
    assert not other_tasks()
    assert [p async for p in pages] == []  # closed for good


async def test_aclose_cancels_in_flight_requests_and_waits() -> None:
    server = FakeServer(rows(1000), delay=lambda p: 0.0 if p == 1 else 10.0)
    async with contextlib.aclosing(crawl(server, concurrency=4)) as pages:
        async for _ in pages:
            await asyncio.sleep(0.01)  # the next pages are now in flight
            break
    assert not other_tasks()
    assert sorted(server.cancelled) == [2, 3, 4, 5]


async def test_plain_break_cancels_in_flight_requests() -> None:
    server = FakeServer(rows(1000), delay=lambda p: 0.0 if p == 1 else 10.0)
    async for _ in crawl(server, concurrency=4):
        await asyncio.sleep(0.01)
        break
    # The iterator was dropped at the break: its __del__ cancelled the requests, which
    # unwind on the next turn of the loop.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not other_tasks()
    assert sorted(server.cancelled) == [2, 3, 4, 5]


async def test_exception_in_consumer_cancels_in_flight_requests() -> None:
    server = FakeServer(rows(1000), delay=lambda p: 0.0 if p == 1 else 10.0)

    async def consume() -> None:
        async with crawl(server, concurrency=2) as pages:
            async for _ in pages:
                await asyncio.sleep(0.01)
                raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        await consume()
    assert not other_tasks()
    assert sorted(server.cancelled) == [2, 3]


async def test_cancelling_the_consumer_cancels_the_crawl() -> None:
    server = FakeServer(rows(1000), delay=lambda p: 0.0 if p == 1 else 10.0)
    got: list[int] = []

    async def consume() -> None:
        async for page in crawl(server, concurrency=3):
            got.append(page.page or 0)

    task = asyncio.create_task(consume())
    while not server.requested or len(server.requested) < 4:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == [1]
    assert not other_tasks()
    assert sorted(server.cancelled) == [2, 3, 4]


async def test_duplicates_are_skipped_and_counted() -> None:
    data = rows(30)
    server = FakeServer(data)

    def shift(page: int) -> None:
        if page == 2:  # a facility inserted at the front after page 1 was served
            data.insert(0, rows(1, start=500)[0])

    server.before_answer = shift
    server.delay = lambda p: 0.0 if p < 2 else 0.01 * p
    stream = FacilityStream(crawl(server, concurrency=1))
    codes = [f.kode_satusehat async for f in stream]
    assert len(codes) == len(set(codes))
    assert stream.stats.duplicates_skipped == 1  # F9 ended page 1 and began page 2
    # The insertion moved every row down one: the last one is now on a page 4, and the
    # inserted facility itself fell before the offset (offset paging cannot see it).
    assert stream.stats.pages == 4 and len(codes) == 30 and "1000000500" not in codes
    assert stream.stats.total_page_changes == [TotalPageChange(page=2, old=3, new=4)]


async def test_seen_set_skips_already_delivered_facilities() -> None:
    server = FakeServer(rows(25))
    seen = {"1000000000", "1000000024"}
    stream = FacilityStream(crawl(server, seen=seen))
    codes = [f.kode_satusehat async for f in stream]
    assert len(codes) == 23 and stream.stats.duplicates_skipped == 2
    assert "1000000000" not in codes and "1000000001" in codes


async def test_start_page_resumes(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer(rows(95))
    pages = crawl(server, start_page=7)
    numbers = [p.page async for p in pages]
    assert numbers == [7, 8, 9, 10]
    assert server.requested[0] == 7


async def test_start_page_past_the_end_yields_the_empty_page() -> None:
    server = FakeServer(rows(15))
    pages = [p async for p in crawl(server, start_page=5)]
    assert len(pages) == 1 and pages[0].facilities == []


async def test_total_page_growth_is_followed_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = rows(50)
    server = FakeServer(data)

    def grow(page: int) -> None:
        if page == 3 and len(data) == 50:
            data.extend(rows(20, start=50))

    server.before_answer = grow
    server.delay = lambda p: 0.005 * p
    pages = crawl(server, concurrency=1)
    with caplog.at_level(logging.WARNING, logger="satusehat_async.msi"):
        numbers = [p.page async for p in pages]
    assert numbers == [1, 2, 3, 4, 5, 6, 7]
    assert pages.stats.total_page_changes == [TotalPageChange(page=3, old=5, new=7)]
    assert pages.stats.total_page_changed and pages.stats.total_page == 7
    assert pages.stats.facilities == 70
    assert "total_page changed from 5 to 7 at page 3" in caplog.text


async def test_total_page_shrink_stops_early_and_cancels_the_rest() -> None:
    server = FakeServer(rows(100), total=lambda page, pages: 10 if page == 1 else 4)
    server.delay = lambda p: 0.0 if p < 3 else 0.05
    pages = crawl(server, concurrency=4)
    numbers = [p.page async for p in pages]
    assert numbers == [1, 2, 3, 4]
    assert pages.stats.total_page_changes == [TotalPageChange(page=2, old=10, new=4)]
    assert not other_tasks()


async def test_missing_total_page_crawls_until_a_short_page() -> None:
    server = FakeServer(rows(42), total=lambda page, pages: None)
    pages = crawl(server, concurrency=4)
    numbers = [p.page async for p in pages]
    assert numbers == [1, 2, 3, 4, 5]
    assert pages.stats.facilities == 42 and pages.stats.total_page is None
    assert server.max_in_flight == 1  # nothing to look ahead of


async def test_retries_are_summed_from_attempts() -> None:
    server = FakeServer(rows(50), attempts=lambda p: 3 if p in (2, 4) else 1)
    pages = crawl(server)
    async for _ in pages:
        pass
    assert pages.stats.retries == 4


async def test_an_empty_registry_is_one_empty_page() -> None:
    server = FakeServer([], total=lambda page, pages: 0)
    stream = FacilityStream(crawl(server))
    assert [f async for f in stream] == []
    assert stream.stats.pages == 1 and server.requested == [1]


def test_query_validation_happens_before_iteration() -> None:
    with pytest.raises(ValidationError):
        FacilityQuery.build(kode_provinsi="321")


async def test_dedupe_keeps_codes_that_only_look_alike_apart() -> None:
    data = [
        {"kode_satusehat": "0012"},
        {"kode_satusehat": "12"},
        {"kode_satusehat": "ABC"},
        {"kode_satusehat": "abc"},
        {"kode_satusehat": "١٢"},  # Arabic-Indic digits: not an ASCII code
        {"kode_satusehat": None},
        {"kode_satusehat": None},
        {"kode_satusehat": "12"},
        {"kode_satusehat": "0012"},
        {"kode_satusehat": "ABC"},
    ]
    stream = FacilityStream(crawl(FakeServer(data), page_size=5, seen=["abc"]))
    codes = [f.kode_satusehat async for f in stream]
    assert codes == ["0012", "12", "ABC", "١٢", None, None]
    assert stream.stats.duplicates_skipped == 4


@pytest.mark.parametrize(
    "codes",
    [
        ["1000000001", "1000000002"],
        ["0000000001", "1000000002"],
        ["1", "2", "10"],
        ["0", "00"],
        ["", "1"],
        ["+12", "12"],
        ["1_000", "1000"],
        [" 12", "12"],
        ["12", None],
        ["1234567890", "01234567890"],
        ["01234567890", "12345678901"],
        ["123", "12", "1234"],
        [],
    ],
)
def test_dedupe_keys_are_exact(codes: list[str | None]) -> None:
    from satusehat_async.msi.pager import _keys

    keys = _keys(codes)
    assert len(set(keys)) == len(set(codes))  # distinct codes, distinct keys
    assert _keys(list(codes)) == keys
    for code, key in zip(codes, keys, strict=True):
        assert key == code or str(key) == code
