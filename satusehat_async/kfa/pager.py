"""The KFA catalogue crawl: the paging engine over one :class:`ProductPageSource` per type.

``/kfa-v2/products/all`` pages one product type at a time (``product_type`` is
required), so a crawl of every type is one :class:`~satusehat_async.paging.OrderedPager`
per type, one after the other (farmasi, then alkes). :class:`ProductPages` yields their
pages in that order, :class:`ProductStream` the products; :class:`KfaCrawlStats` sums
what the crawls did and keeps each one's own statistics in ``by_type``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

from satusehat_async.kfa.models import Product, ProductPage
from satusehat_async.kfa.query import ProductQuery
from satusehat_async.kfa.source import ProductPageSource
from satusehat_async.paging.closing import Closing
from satusehat_async.paging.pager import OrderedPager
from satusehat_async.paging.stats import PageStats

if TYPE_CHECKING:
    from collections.abc import Iterator

    from satusehat_async.context import ResourceContext

__all__ = ["KfaCrawlStats", "ProductPages", "ProductStream"]

_SUMMED = ("pages", "items", "duplicates_skipped", "repaired_records", "retries", "empty_pages")


@dataclasses.dataclass
class KfaCrawlStats(PageStats):
    """What a catalogue crawl did so far (live while it runs), summed over its types.

    The :class:`~satusehat_async.paging.PageStats` fields are sums over the product types
    crawled so far (``total_page`` too: the pages of the types whose first page came);
    ``short_pages`` and ``total_page_changes`` number pages within their type.

    Attributes:
        by_type: each product type's own statistics, in crawl order.
        totals: each product type's ``total`` (its item count) as last answered.
        product_type: the type being crawled (None before the first page).
        next_page: the page of ``product_type`` that comes next: with ``product_type``,
            where a resumed crawl starts (``start_type``, ``start_page``).
        products: products yielded (after removing duplicates); the engine's ``items``.
    """

    by_type: dict[str, PageStats] = dataclasses.field(default_factory=dict)
    totals: dict[str, int] = dataclasses.field(default_factory=dict)
    product_type: str | None = None
    next_page: int | None = None

    @property
    def products(self) -> int:
        """Products yielded (after removing duplicates)."""
        return self.items

    @property
    def total(self) -> int | None:
        """The item count of the types whose first page came (None before any)."""
        return sum(self.totals.values()) if self.totals else None

    def refresh(self) -> None:
        """Recompute the sums from ``by_type``."""
        parts = list(self.by_type.values())
        for name in _SUMMED:
            setattr(self, name, sum(getattr(part, name) for part in parts))
        known = [part.total_page for part in parts if part.total_page is not None]
        self.total_page = sum(known) if known else None
        self.total_page_changes = [c for part in parts for c in part.total_page_changes]
        self.short_pages = [n for part in parts for n in part.short_pages]
        self.stale_total_page = any(part.stale_total_page for part in parts)


class ProductPages(Closing):
    """Async iterator over the pages of a catalogue crawl: each type's pages in order.

    Made by :meth:`KFA.pages <satusehat_async.kfa.KFA.pages>`. Each page is a
    :class:`ProductPage` with its ``product_type`` and ``page`` set; each product
    (:func:`~satusehat_async.kfa.product_key`) appears once: later repeats are removed
    from the page's ``data``. ``stats`` is live. Use ``async with`` (or
    ``contextlib.aclosing``) to wait for in-flight requests on an early stop; a plain
    ``break`` cancels them at once and they unwind in the background.
    """

    def __init__(
        self,
        context: ResourceContext,
        url: str,
        query: ProductQuery,
        *,
        page_size: int,
        concurrency: int,
        start_page: int,
        start_type: str | None,
        seen: list[Hashable | None],
    ) -> None:
        self._context = context
        self.url, self.query, self.page_size = url, query, page_size
        self.concurrency = concurrency
        types = list(query.product_types)
        self._pending = types[types.index(start_type) :] if start_type is not None else types
        self._start_page = start_page
        self._seen = seen
        self._current: OrderedPager[ProductPage, Product, PageStats] | None = None
        self._closed = False
        self.stats = KfaCrawlStats()

    def _next_crawl(self) -> OrderedPager[ProductPage, Product, PageStats] | None:
        if self._closed or not self._pending:
            return None
        product_type = self._pending.pop(0)
        start, self._start_page = self._start_page, 1  # start_page: of the first type only
        source = ProductPageSource(self.url, self.query, product_type, self.page_size)
        pager: OrderedPager[ProductPage, Product, PageStats] = OrderedPager(
            self._context,
            source,
            PageStats(),
            concurrency=self.concurrency,
            start_page=start,
            seen=self._seen,
        )
        self.stats.by_type[product_type] = pager.stats
        self.stats.product_type, self.stats.next_page = product_type, start
        return pager

    async def __anext__(self) -> ProductPage:
        stats = self.stats
        if stats.started_at is None:
            stats.started_at = time.monotonic()
        while True:
            if self._current is None:
                self._current = self._next_crawl()
                if self._current is None:
                    await self.aclose()
                    raise StopAsyncIteration
            try:
                page = await self._current.__anext__()
            except StopAsyncIteration:
                self._current = None
                continue
            except BaseException:
                await self.aclose()
                raise
            if page.total is not None and page.product_type is not None:
                stats.totals[page.product_type] = page.total
            stats.next_page = (page.page or 0) + 1
            stats.refresh()
            return page

    async def aclose(self) -> None:
        """Stop the crawl: cancel in-flight requests and wait until they have unwound."""
        self._closed = True
        self._pending.clear()
        current, self._current = self._current, None
        if current is not None:
            await current.aclose()
        self.stats.refresh()
        if self.stats.started_at is not None and self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()


class ProductStream(Closing):
    """Async iterator over the products of a catalogue crawl (each product once), in order.

    Made by :meth:`KFA.products <satusehat_async.kfa.KFA.products>`; wraps a
    :class:`ProductPages` (``.pages``) and shares its live ``stats``.
    """

    def __init__(self, pages: ProductPages) -> None:
        self.pages = pages
        self.stats: KfaCrawlStats = pages.stats
        self._items: Iterator[Product] = iter(())

    async def __anext__(self) -> Product:
        try:
            return next(self._items)
        except StopIteration:
            pass
        while True:
            page = await self.pages.__anext__()
            self._items = iter(page.data)
            for product in self._items:
                return product

    async def aclose(self) -> None:
        """Stop the crawl and wait for in-flight requests to unwind."""
        self._items = iter(())
        await self.pages.aclose()
