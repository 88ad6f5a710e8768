"""The concurrent MSI pager: ordered pages, bounded look-ahead, clean early stop.

Page 1 (or ``start_page``) is fetched alone: it tells ``total_page``. The following pages
are scheduled as tasks in a window of ``2 * concurrency`` pages ahead of the consumer;
each task holds the crawl's semaphore only while its request is in flight. A page is
decoded (one cached msgspec decoder, outside the semaphore) when the consumer asks for it,
so the window holds compact bodies and the decoded objects are cache-hot when read.
Pages are yielded strictly in page order, so memory is bounded by the window whatever the
size of the registry (plus the set of codes seen, a few bytes per facility).

The tasks never reference the iterator object, so dropping it (a plain ``break``)
runs ``__del__`` at once, which cancels them; ``aclose()`` (or ``contextlib.aclosing``,
or ``async with``) also waits until they have unwound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, cast

from satusehat_async.msi.decode import decode_page
from satusehat_async.msi.models import Facility, FacilityPage
from satusehat_async.msi.query import FacilityQuery
from satusehat_async.msi.stats import CrawlStats, TotalPageChange

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response

__all__ = ["CrawlStats", "FacilityPages", "FacilityStream", "TotalPageChange"]

logger = logging.getLogger("satusehat_async.msi")


# Longer all-digit codes keep their text: int() refuses over 4,300 digits, and no real code
# comes near (they have 10).
_INT_KEY_DIGITS = 18


def _keys(codes: list[str | None]) -> list[int | str | None]:
    """The dedupe keys of ``kode_satusehat`` codes: ints for the usual all-digit codes.

    New ints rather than the pages' own strings: keeping 500,000 of those alive would pin
    the memory of every page they came from (fragmenting the allocator and measurably
    slowing every later decode), and an int is smaller. A code with a leading zero, a
    sign or anything but ASCII digits keeps its text, so distinct codes never collide.
    """
    if codes and None not in codes:
        # The usual page, checked in bulk (C loops): all ASCII digits, and every int as long
        # as the first code while the total length allows no more: so every code has that
        # length and no leading zero.
        # (bytes.isdigit is a plain C loop; str.isdigit consults Unicode tables per char.)
        texts = cast("list[str]", codes)
        joined = "".join(texts)
        width = len(texts[0])
        if (
            0 < width <= _INT_KEY_DIGITS
            and len(joined) == width * len(texts)
            and joined.isascii()
            and joined.encode().isdigit()
        ):
            try:
                numbers = list(map(int, texts))
            except ValueError:  # an empty code, its length made up by a longer one
                return _keys_one_by_one(codes)
            if min(numbers) >= 10 ** (width - 1):
                return cast("list[int | str | None]", numbers)
    return _keys_one_by_one(codes)


def _keys_one_by_one(codes: list[str | None]) -> list[int | str | None]:
    return [
        int(c)
        if c is not None
        and 0 < len(c) <= _INT_KEY_DIGITS
        and c.isdigit()
        and c.isascii()
        and c[0] != "0"
        else c
        for c in codes
    ]


class _Fetcher:
    """Fetches and decodes one page. Tasks hold this, never the iterator."""

    __slots__ = ("context", "page_size", "query", "semaphore", "url")

    def __init__(
        self, context: ResourceContext, url: str, query: FacilityQuery, page_size: int, limit: int
    ) -> None:
        self.context = context
        self.url = url
        self.query = query
        self.page_size = page_size
        self.semaphore = asyncio.Semaphore(limit)

    async def fetch(self, number: int) -> Response:
        params = self.query.params(page=number, page_size=self.page_size)
        async with self.semaphore:
            return await self.context.send("GET", self.url, params=params)


class FacilityPages:
    """Async iterator over the pages of one crawl, in page order, deduplicated.

    Made by :meth:`MSI.pages <satusehat_async.msi.MSI.pages>`. ``stats`` is live. Use
    ``async with`` or ``contextlib.aclosing`` to wait for in-flight requests on an early
    stop; a plain ``break`` cancels them immediately and they unwind in the background.
    """

    def __init__(
        self,
        context: ResourceContext,
        url: str,
        query: FacilityQuery,
        *,
        page_size: int,
        concurrency: int,
        start_page: int,
        seen: Iterable[str] | None = None,
    ) -> None:
        self.query = query
        self.page_size = page_size
        self.concurrency = concurrency
        self.start_page = start_page
        self.stats = CrawlStats()
        self._seen: set[int | str | None] = set(_keys(list(seen or ())))
        self.url = url
        self._fetcher = _Fetcher(context, url, query, page_size, concurrency)
        self._window = 2 * concurrency
        self._tasks: dict[int, asyncio.Task[Response]] = {}
        self._next_to_schedule = start_page
        self._next_to_yield = start_page
        self._last_page: int | None = None  # None until a page told us
        # The last page yielded with rows, if it was short (a later page with rows then
        # shows the registry moved); whether the page before was short or empty (page 1
        # counts as after "nothing", so an empty page 1 ends the crawl at once).
        self._short_page: int | None = None
        self._after_short = start_page == 1
        self._closed = False

    def __aiter__(self) -> FacilityPages:
        return self

    async def __aenter__(self) -> FacilityPages:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __anext__(self) -> FacilityPage:
        if self._closed:
            raise StopAsyncIteration
        if self.stats.started_at is None:
            self.stats.started_at = time.monotonic()
        number = self._next_to_yield
        if self._last_page is not None and number > self._last_page:
            await self.aclose()
            raise StopAsyncIteration
        self._schedule()
        task = self._tasks[number]
        try:
            # wait() rather than `await task`: a cancelled consumer must not cancel this
            # page first (freeing its slot for a later page) but the whole window at once.
            if not task.done():
                await asyncio.wait((task,))
            if self._closed:  # aclose() from another task while we waited: a clean end
                raise StopAsyncIteration
            response = task.result()
            del self._tasks[number]
            self._next_to_yield = number + 1
            if self._last_page is not None:
                self._schedule()  # the next request starts while this page is decoded
            # Decoded here, outside the semaphore and just before the consumer reads it:
            # the window holds compact bodies, and the page's objects are cache-hot.
            page, repaired = decode_page(response.body, headers=response.headers, url=self.url)
        except StopAsyncIteration:
            raise
        except BaseException:
            # A failed page (after the transport's retries), or the consumer was cancelled:
            # the crawl is over either way.
            await self.aclose()
            raise
        page.page = number
        await self._account(page, number, response.attempts, repaired)
        if self._closed:  # closed by another task during the accounting
            raise StopAsyncIteration
        self._schedule()  # a grown total_page may open the window further
        return page

    def _schedule(self) -> None:
        if self._last_page is None:
            limit = self._next_to_yield  # total unknown: one page at a time
        else:
            limit = min(self._next_to_yield + self._window - 1, self._last_page)
        while self._next_to_schedule <= limit:
            number = self._next_to_schedule
            self._tasks[number] = asyncio.ensure_future(self._fetcher.fetch(number))
            self._next_to_schedule += 1

    async def _account(self, page: FacilityPage, number: int, attempts: int, repaired: int) -> None:
        stats = self.stats
        stats.pages += 1
        stats.retries += attempts - 1
        stats.repaired_records += repaired
        rows = page.data or []
        page.data = self._dedupe(rows)
        stats.facilities += len(page.data)
        await self._follow_total(page.total_page, number, len(rows))
        await self._watch_short_and_empty(number, len(rows))

    async def _follow_total(self, total: int | None, number: int, rows: int) -> None:
        stats = self.stats
        if total is None:
            if stats.total_page is None:
                # The server gave no total: keep going while pages come back full.
                self._last_page = None if rows >= self.page_size else number
            return
        if stats.total_page is None:
            stats.total_page = self._last_page = total
            return
        if total != stats.total_page:
            stats.total_page_changes.append(TotalPageChange(number, stats.total_page, total))
            logger.warning(
                "MSI total_page changed from %d to %d at page %d: the registry changed "
                "during the crawl (rows may shift between pages; duplicates are skipped)",
                stats.total_page,
                total,
                number,
            )
            stats.total_page = self._last_page = total
            if self._next_to_schedule > total + 1:
                await self._cancel_beyond(total)

    async def _watch_short_and_empty(self, number: int, rows: int) -> None:
        """Notice short pages before the end, and stop at empty pages past the data.

        An empty page right after a short (or empty) one is past the end of the data,
        whatever ``total_page`` says: a stale, over-reported count would otherwise have
        the crawl request empty pages up to it (or for ever, if it keeps growing).
        """
        stats = self.stats
        if rows:
            if self._short_page is not None:
                # A short page, then one with rows: the registry moved between the two.
                stats.short_pages.append(self._short_page)
                logger.warning(
                    "MSI page %d came back short (rows were deleted or moved during the "
                    "crawl): facilities may have been missed",
                    self._short_page,
                )
            self._short_page = number if rows < self.page_size else None
            self._after_short = rows < self.page_size
            return
        if self._short_page is None:
            self._short_page = number  # an empty page before rows is a short one too
        last = self._last_page if stats.total_page is not None else None  # a promise made
        if last is not None and number <= last:
            stats.empty_pages += 1
            if self._after_short and number < last:
                stats.stale_total_page = True
                logger.warning(
                    "MSI page %d is empty although total_page says %d: stopping (the count "
                    "is stale)",
                    number,
                    last,
                )
                self._last_page = number
                await self._cancel_beyond(number)
        self._after_short = True

    def _dedupe(self, facilities: list[Facility]) -> list[Facility]:
        seen = self._seen
        keys = _keys([facility.kode_satusehat for facility in facilities])
        # The common case in two C passes over the big set: no code seen before, and (the
        # size grows by one per row) none repeated within the page nor missing.
        if seen.isdisjoint(keys):
            before = len(seen)
            seen.update(keys)
            if len(seen) - before == len(keys) and None not in seen:
                return facilities
            seen.difference_update(keys)  # undo, then take the careful path
        kept: list[Facility] = []
        for facility, key in zip(facilities, keys, strict=True):
            if key is not None:
                if key in seen:
                    self.stats.duplicates_skipped += 1
                    continue
                seen.add(key)
            kept.append(facility)
        return kept

    async def _cancel_beyond(self, last: int) -> None:
        """``total_page`` shrank: drop the pages scheduled past the new end."""
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


class FacilityStream:
    """Async iterator over the facilities of one crawl (each ``kode_satusehat`` once).

    Made by :meth:`MSI.facilities <satusehat_async.msi.MSI.facilities>`; wraps a
    :class:`FacilityPages` (``.pages``) and shares its live ``stats``.
    """

    def __init__(self, pages: FacilityPages) -> None:
        self.pages = pages
        self.stats = pages.stats
        self._items: Iterator[Facility] = iter(())

    def __aiter__(self) -> FacilityStream:
        return self

    async def __aenter__(self) -> FacilityStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __anext__(self) -> Facility:
        # The hot path of a crawl (once per facility): one C-level next() in the common case.
        try:
            return next(self._items)
        except StopIteration:
            pass
        while True:
            page = await self.pages.__anext__()
            self._items = iter(page.data or ())
            for facility in self._items:
                return facility

    async def aclose(self) -> None:
        """Stop the crawl and wait for in-flight requests to unwind."""
        self._items = iter(())
        await self.pages.aclose()
