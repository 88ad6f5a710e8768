"""The rows of an :class:`~satusehat_async.paging.OrderedPager`, one by one."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from satusehat_async.paging.pager import OrderedPager
from satusehat_async.paging.stats import PageStats

__all__ = ["RowStream"]

RowT = TypeVar("RowT")
StatsT = TypeVar("StatsT", bound=PageStats)
_Self = TypeVar("_Self", bound="RowStream[Any, Any]")


class RowStream(Generic[RowT, StatsT]):
    """Async iterator over the rows of a crawl (each identity once), in page order.

    Wraps an :class:`OrderedPager` (``.pages``) and shares its live ``stats``.
    """

    def __init__(self, pages: OrderedPager[Any, RowT, StatsT]) -> None:
        self.pages = pages
        self.stats: StatsT = pages.stats
        self._rows_of = pages.source.rows
        self._items: Iterator[RowT] = iter(())

    def __aiter__(self: _Self) -> _Self:
        return self

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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

    async def aclose(self) -> None:
        """Stop the crawl and wait for in-flight requests to unwind."""
        self._items = iter(())
        await self.pages.aclose()
