"""Issue 10: the paging engine is generic — a page source that is not the MSI drives it.

``satusehat_async.paging.OrderedPager`` knows windows, order, dedupe and the end of a
crawl; a ``PageSource`` says how to ask for page n and read it. A catalogue-like source
(not the MSI's shape: ``items``/``total_pages``/``code``) runs through a real client over
``MockBackend``; the MSI's iterators are that engine with the MSI's source.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Hashable
from typing import Any

import msgspec
import pytest

from satusehat_async import RetryPolicy, SatuSehatClient
from satusehat_async.http import BackendRequest
from satusehat_async.http.response import Response
from satusehat_async.msi import CrawlStats as PublicCrawlStats
from satusehat_async.msi import FacilityPages, FacilityQuery, FacilityStream
from satusehat_async.msi import pager as msi_pager
from satusehat_async.msi.stats import CrawlStats
from satusehat_async.paging import (
    OrderedPager,
    PageRequest,
    PageStats,
    RowStream,
    TotalPageChange,
)
from satusehat_async.testing import MockBackend

BASE = "https://catalogue.test"
URL = BASE + "/catalogue/v1/products"
logger = logging.getLogger("tests.catalogue")


class Catalogue:
    """A MockBackend handler: ``products`` in pages of ``size``, ``total`` as reported."""

    def __init__(self, products: list[dict[str, Any]], *, total: int | None = None) -> None:
        self.products = products
        self.total = total
        self.requested: list[int] = []
        self.in_flight = self.max_in_flight = 0
        rng = random.Random(3)
        self.delays = [rng.uniform(0, 0.01) for _ in range(100)]

    async def __call__(self, request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        if "/oauth2/" in request.url:
            return 200, {}, msgspec.json.encode({"access_token": "t", "expires_in": "3600"})
        number, size = int(request.query["p"]), int(request.query["size"])
        self.requested.append(number)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delays[number])
        finally:
            self.in_flight -= 1
        items = self.products[(number - 1) * size : number * size]
        total = self.total if self.total is not None else -(-len(self.products) // size)
        return 200, {}, msgspec.json.encode({"items": items, "total_pages": total})


class CataloguePage(msgspec.Struct):
    items: list[dict[str, Any]] = []
    total_pages: int | None = None
    number: int = 0


class CatalogueSource:
    """A page source of another shape than the MSI's: what a KFA-like catalogue needs."""

    label = "Catalogue"
    rows_name = "products"
    logger = logger

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size

    def request(self, number: int) -> PageRequest:
        return PageRequest(URL, {"p": number, "size": self.page_size})

    def decode(self, response: Response, number: int) -> tuple[CataloguePage, int]:
        page = msgspec.json.decode(response.body, type=CataloguePage)
        page.number = number
        return page, 0

    def total_pages(self, page: CataloguePage) -> int | None:
        return page.total_pages

    def rows(self, page: CataloguePage) -> list[dict[str, Any]]:
        return page.items

    def keep_rows(self, page: CataloguePage, rows: list[dict[str, Any]]) -> None:
        page.items = rows

    def keys(self, rows: list[dict[str, Any]]) -> list[Hashable | None]:
        return [row.get("code") for row in rows]


def crawl(
    catalogue: Catalogue, *, concurrency: int = 3, page_size: int = 10
) -> OrderedPager[CataloguePage, dict[str, Any], PageStats]:
    client = SatuSehatClient(
        "cid",
        "csecret",
        base_url=BASE,
        backend=MockBackend(catalogue),
        retry=RetryPolicy(max_attempts=1),
        circuit_breaker=None,
    )
    return OrderedPager(
        client.context,
        CatalogueSource(page_size),
        PageStats(),
        concurrency=concurrency,
        start_page=1,
        seen=["P-seen"],
    )


def products(count: int) -> list[dict[str, Any]]:
    return [{"code": f"P{i:04d}", "name": f"product {i}"} for i in range(count)]


async def test_a_source_that_is_not_the_msi_is_paged_in_order_concurrently() -> None:
    data = products(95)
    data[40] = {"code": "P0003", "name": "a repeat of product 3"}  # moved: seen on page 1
    data[41] = {"code": "P-seen", "name": "delivered by an earlier crawl"}
    data[42] = {"name": "no identity: always kept"}
    catalogue = Catalogue(data)
    pages = crawl(catalogue, concurrency=4)
    numbers, names = [], []
    async for page in pages:
        numbers.append(page.number)
        names += [row["name"] for row in page.items]
    assert numbers == list(range(1, 11))
    expected = [row["name"] for i, row in enumerate(data) if i not in (40, 41)]
    assert names == expected
    assert pages.stats.items == 93 and pages.stats.duplicates_skipped == 2
    assert pages.stats.pages == 10 and pages.stats.total_page == 10
    assert catalogue.max_in_flight == 4 and sorted(catalogue.requested) == numbers
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()


async def test_a_stale_total_ends_a_generic_crawl_at_the_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalogue = Catalogue(products(25), total=40)  # three pages of data, forty promised
    rows = RowStream(crawl(catalogue, concurrency=2))
    with caplog.at_level(logging.WARNING, logger="tests.catalogue"):
        codes = [row["code"] async for row in rows]
    assert codes == [f"P{i:04d}" for i in range(25)]
    assert rows.stats.stale_total_page and rows.stats.empty_pages == 1
    assert max(catalogue.requested) <= 4 + 2 * 2  # stopped near the data, not at page 40
    assert "Catalogue page 4 is empty although total_page says 40" in caplog.text


async def test_a_shrinking_total_is_recorded_with_the_sources_label(
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalogue = Catalogue(products(100))
    pages = crawl(catalogue, concurrency=1)
    first = await pages.__anext__()
    catalogue.total = 3
    with caplog.at_level(logging.WARNING, logger="tests.catalogue"):
        rest = [page.number async for page in pages]
    assert first.number == 1 and rest == [2, 3]
    assert pages.stats.total_page_changes == [TotalPageChange(page=2, old=10, new=3)]
    assert pages.stats.total_page_shrank and pages.stats.possibly_incomplete
    assert "Catalogue total_page changed from 10 to 3 at page 2" in caplog.text


def test_the_msi_crawl_is_the_engine_with_the_msi_source() -> None:
    client = SatuSehatClient("cid", "csecret", base_url=BASE, backend=MockBackend(Catalogue([])))
    pages = FacilityPages(
        client.context, URL, FacilityQuery.build(), page_size=10, concurrency=2, start_page=1
    )
    assert isinstance(pages, OrderedPager) and isinstance(FacilityStream(pages), RowStream)
    assert isinstance(pages.stats, CrawlStats) and isinstance(pages.stats, PageStats)
    # the names of the old pager module still import, and are the same objects
    assert msi_pager.CrawlStats is CrawlStats is PublicCrawlStats
    assert msi_pager.TotalPageChange is TotalPageChange
    assert callable(msi_pager._keys)


def test_crawl_stats_count_facilities_as_the_engines_items() -> None:
    stats = CrawlStats(total_page=4)
    stats.facilities += 3
    assert stats.items == 3 and stats.facilities == 3 and stats.total_page == 4
