"""The rows of an :class:`~satusehat_async.paging.OrderedPager`: one by one, or in batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from satusehat_async.paging.closing import Closing
from satusehat_async.paging.pager import OrderedPager
from satusehat_async.paging.stats import PageStats

__all__ = ["RowBatches", "RowStream"]

RowT = TypeVar("RowT")
StatsT = TypeVar("StatsT", bound=PageStats)


class RowStream(Closing, Generic[RowT, StatsT]):
    """Async iterator over the rows of a crawl (each identity once), in page order.

    Wraps an :class:`OrderedPager` (``.pages``) and shares its live ``stats``.
    :meth:`batches` is the same crawl a list of rows at a time.
    """

    def __init__(self, pages: OrderedPager[Any, RowT, StatsT]) -> None:
        self.pages = pages
        self.stats: StatsT = pages.stats
        self._rows_of = pages.source.rows
        self._items: Iterator[RowT] = iter(())

    async def __anext__(self) -> RowT:
        # The hot path of a crawl (once per row): one C-level next() in the common case.
        try:
            return next(self._items)
        except StopIteration:
            pass
        while True:
            page = await self.pages.__anext__()
            self._items = iter(self._rows_of(page))
            for row in self._items:
                return row

    def batches(self) -> RowBatches[RowT, StatsT]:
        """The rest of the crawl as lists of rows: each page's new rows, in order.

        For consumers doing little work per row (counting, writing to a file, bulk
        inserts): one ``await`` per page instead of one per row, and no page object kept
        alive. Rows not yet taken from the current page come first; pages left with no
        new row are skipped. Same crawl, stats and early stop as the stream itself.
        """
        rest = list(self._items)
        self._items = iter(())
        return RowBatches(self.pages, rest)

    async def aclose(self) -> None:
        """Stop the crawl and wait for in-flight requests to unwind."""
        self._items = iter(())
        await self.pages.aclose()


class RowBatches(Closing, Generic[RowT, StatsT]):
    """Async iterator over a crawl's rows a page at a time (``RowStream.batches()``).

    Each item is a non-empty ``list`` of rows (those of one page left after
    deduplication), in page order; ``stats`` is the crawl's, live.
    """

    def __init__(
        self, pages: OrderedPager[Any, RowT, StatsT], first: list[RowT] | None = None
    ) -> None:
        self.pages = pages
        self.stats: StatsT = pages.stats
        self._rows_of = pages.source.rows
        self._first = first or None

    async def __anext__(self) -> list[RowT]:
        if self._first is not None:
            batch, self._first = self._first, None
            return batch
        while True:
            # The page itself is dropped here: only its row list lives on, in the caller.
            rows = self._rows_of(await self.pages.__anext__())
            if rows:
                return rows

    async def aclose(self) -> None:
        """Stop the crawl and wait for in-flight requests to unwind."""
        self._first = None
        await self.pages.aclose()
