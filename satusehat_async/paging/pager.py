"""The concurrent ordered pager: ordered pages, bounded look-ahead, clean early stop.

Page 1 (or ``start_page``) is fetched alone: it tells ``total_page``. The following pages
are scheduled as tasks in a window of ``2 * concurrency`` pages ahead of the consumer;
each task holds the crawl's semaphore only while its request is in flight. A page is
decoded (by the :class:`~satusehat_async.paging.PageSource`, outside the semaphore) when
the consumer asks for it, so the window holds compact bodies and the decoded objects are
cache-hot when read. Pages are yielded strictly in page order, so memory is bounded by
the window whatever the size of the dataset, plus the identities seen: a plain set for
the first 131,072, then ~16 bytes each (:mod:`satusehat_async.paging.dedupe`).

The tasks never reference the iterator object, so dropping it (a plain ``break``)
runs ``__del__`` at once, which cancels them; ``aclose()`` (or ``contextlib.aclosing``,
or ``async with``) also waits until they have unwound, and ``aclose()`` from another
task ends the consumer's loop cleanly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from satusehat_async.paging.closing import Closing
from satusehat_async.paging.dedupe import Dedupe
from satusehat_async.paging.ends import EndTracker
from satusehat_async.paging.source import PageSource
from satusehat_async.paging.stats import PageStats

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response

__all__ = ["OrderedPager"]

PageT = TypeVar("PageT")
RowT = TypeVar("RowT")
StatsT = TypeVar("StatsT", bound=PageStats)


class _Fetcher:
    """Sends one page's request. Tasks hold this, never the iterator."""

    __slots__ = ("context", "semaphore", "source")

    def __init__(self, context: ResourceContext, source: PageSource[Any, Any], limit: int) -> None:
        self.context = context
        self.source = source
        self.semaphore = asyncio.Semaphore(limit)

    async def fetch(self, number: int) -> Response:
        request = self.source.request(number)
        async with self.semaphore:
            return await self.context.send(request.method, request.url, params=request.params)


class OrderedPager(Closing, Generic[PageT, RowT, StatsT]):
    """Async iterator over the pages of one crawl, in page order, deduplicated.

    Args:
        context: the resource context requests are sent through (auth, retries...).
        source: the endpoint's :class:`~satusehat_async.paging.PageSource`.
        stats: the live statistics to fill (``.stats``).
        concurrency: requests in flight at most (the window is twice as many pages).
        start_page: the first page to fetch (to resume a crawl).
        seen: row identities (as ``source.keys`` makes them) already delivered.

    Use ``async with`` or ``contextlib.aclosing`` to wait for in-flight requests on an
    early stop; a plain ``break`` cancels them immediately and they unwind in the
    background.
    """

    def __init__(
        self,
        context: ResourceContext,
        source: PageSource[PageT, RowT],
        stats: StatsT,
        *,
        concurrency: int,
        start_page: int,
        seen: Iterable[Hashable | None] = (),
    ) -> None:
        self.source = source
        self.concurrency = concurrency
        self.start_page = start_page
        self.stats = stats
        self._dedupe = Dedupe(stats, seen)
        self._end = EndTracker(
            stats,
            page_size=source.page_size,
            start_page=start_page,
            label=source.label,
            rows_name=source.rows_name,
            logger=source.logger,
        )
        self._fetcher = _Fetcher(context, source, concurrency)
        self._window = 2 * concurrency
        self._tasks: dict[int, asyncio.Task[Response]] = {}
        self._next_to_schedule = start_page
        self._next_to_yield = start_page
        self._closed = False

    async def __anext__(self) -> PageT:
        if self._closed:
            raise StopAsyncIteration
        if self.stats.started_at is None:
            self.stats.started_at = time.monotonic()
        number = self._next_to_yield
        last = self._end.last_page
        if last is not None and number > last:
            await self.aclose()
            raise StopAsyncIteration
        self._schedule()
        try:
            page, attempts, repaired = await self._receive(number)
        except BaseException:
            # A failed page (after the transport's retries), or the consumer was cancelled
            # (not a StopAsyncIteration: _receive raises none): the crawl is over either way.
            await self.aclose()
            raise
        if page is None:  # aclose() from another task while we waited: a clean end
            raise StopAsyncIteration
        await self._account(page, number, attempts, repaired)
        if self._closed:  # closed by another task during the accounting
            raise StopAsyncIteration
        self._schedule()  # a grown total_page may open the window further
        return page

    async def _receive(self, number: int) -> tuple[PageT | None, int, int]:
        """Wait for page ``number`` and decode it; (None, 0, 0) once the crawl is closed."""
        task = self._tasks[number]
        # wait() rather than `await task`: a cancelled consumer must not cancel this page
        # first (freeing its slot for a later page) but the whole window at once.
        if not task.done():
            await asyncio.wait((task,))
        if self._closed:
            return None, 0, 0
        response = task.result()
        del self._tasks[number]
        self._next_to_yield = number + 1
        if self._end.last_page is not None:
            self._schedule()  # the next request starts while this page is decoded
        # Decoded here, outside the semaphore and just before the consumer reads it: the
        # window holds compact bodies, and the page's objects are cache-hot.
        page, repaired = self.source.decode(response, number)
        return page, response.attempts, repaired

    def _schedule(self) -> None:
        last = self._end.last_page
        if last is None:
            limit = self._next_to_yield  # total unknown: one page at a time
        else:
            limit = min(self._next_to_yield + self._window - 1, last)
        while self._next_to_schedule <= limit:
            number = self._next_to_schedule
            self._tasks[number] = asyncio.ensure_future(self._fetcher.fetch(number))
            self._next_to_schedule += 1

    async def _account(self, page: PageT, number: int, attempts: int, repaired: int) -> None:
        stats, source = self.stats, self.source
        stats.pages += 1
        stats.retries += attempts - 1
        stats.repaired_records += repaired
        rows = source.rows(page)
        if stats.pages == 1:
            # The crawl's size, told by its first page: the identities' table is then
            # allocated once, at its final size (see paging/dedupe.py for the cost).
            total = source.total_pages(page)
            if total is not None:
                self._dedupe.reserve(total * source.page_size)
        kept = self._dedupe.new_rows(rows, source.keys(rows))
        source.keep_rows(page, kept)
        stats.items += len(kept)
        cut = self._end.observe(source.total_pages(page), number, len(rows))
        if cut is not None and self._next_to_schedule > cut + 1:
            await self._cancel_beyond(cut)

    async def _cancel_beyond(self, last: int) -> None:
        """The crawl now ends at ``last``: drop the pages scheduled past it."""
        doomed = [self._tasks.pop(n) for n in sorted(self._tasks) if n > last]
        for task in doomed:
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        self._next_to_schedule = last + 1

    async def aclose(self) -> None:
        """Stop the crawl: cancel in-flight requests and wait until they have unwound."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._closed = True
        if self.stats.started_at is not None and self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def __del__(self) -> None:
        # A plain `break` drops the iterator without awaiting anything: cancel what is
        # still running (the loop finishes unwinding it) and mark finished failures as
        # retrieved so asyncio does not log them.
        for task in getattr(self, "_tasks", {}).values():
            try:
                if not task.done():
                    task.cancel()
                elif not task.cancelled():
                    task.exception()
            except RuntimeError:  # the loop is already closed
                pass
