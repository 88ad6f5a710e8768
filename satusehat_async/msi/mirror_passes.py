"""The crawls of one mirror sync: full, catch-up, incremental, and the vanish check.

:class:`Crawler` drives :meth:`MSI.pages <satusehat_async.msi.MSI.pages>` and hands each
page to the store through the sync's worker thread. What the passes are for is told in
:mod:`satusehat_async.msi.mirror`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from satusehat_async.msi.mirror_report import PassReport
from satusehat_async.msi.mirror_rows import FacilityRow, flatten
from satusehat_async.msi.mirror_store import MirrorStore
from satusehat_async.msi.models import Facility
from satusehat_async.msi.query import FacilityQuery
from satusehat_async.msi.stats import CrawlStats

if TYPE_CHECKING:
    from satusehat_async.msi.api import MSI

__all__ = ["LOOKUP_LIMIT", "Crawler", "stamp"]

T = TypeVar("T")
Call = Callable[..., Awaitable[Any]]

#: Up to this many facilities a full pass did not find are looked up one by one (one
#: request each); more, and a second full pass with ``seen=`` confirms them instead.
LOOKUP_LIMIT = 32
_CODE = re.compile(r"\d{10}")


def stamp(seconds: float) -> str:
    """ISO 8601 UTC, to the second (``2026-12-02T07:30:00Z``)."""
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def write_page(
    store: MirrorStore,
    facilities: Sequence[Facility],
    status_aktif: bool | None,
    sync_id: int,
    now: str,
) -> None:
    """Flatten and store one page (in the worker thread: flattening is CPU work too).

    With a ``status_aktif`` filter, a record showing the other status is outside the
    mirror (seen by a widened pass) and goes to the store as such.
    """
    rows: list[FacilityRow] = []
    out: list[FacilityRow] = []
    for facility in facilities:
        if facility.kode_satusehat is None:  # no key: nothing to mirror it by
            continue
        aktif = facility.status_aktif
        outside = status_aktif is not None and aktif is not None and aktif is not status_aktif
        (out if outside else rows).append(flatten(facility))
    store.write(rows, out, sync_id, now)


def _report(name: str, query: FacilityQuery, stats: Iterable[CrawlStats]) -> PassReport:
    stats = list(stats)
    return PassReport(
        name=name,
        lower_bound_updated_at=query.lower_bound_updated_at,
        pages=sum(s.pages for s in stats),
        facilities=sum(s.facilities for s in stats),
        duplicates_skipped=sum(s.duplicates_skipped for s in stats),
        retries=sum(s.retries for s in stats),
        possibly_incomplete=any(s.possibly_incomplete for s in stats),
    )


class Crawler:
    """The passes of one sync, and the :class:`PassReport` of each (``passes``)."""

    def __init__(
        self,
        msi: MSI,
        call: Call,
        store: MirrorStore,
        query: FacilityQuery,
        *,
        page_size: int,
        concurrency: int,
        on_page: Callable[[str, CrawlStats], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.msi, self.call, self.store, self.query = msi, call, store, query
        self.page_size, self.concurrency = page_size, concurrency
        self.on_page, self.clock = on_page, clock
        self.passes: list[PassReport] = []
        self.sync_id = 0

    @property
    def widened(self) -> FacilityQuery:
        """The query of the date-bounded passes: without ``status_aktif``, to see closures."""
        return dataclasses.replace(self.query, status_aktif=None)

    async def run(self, sync_id: int, mode: str, lower: str) -> None:
        """Crawl for sync ``sync_id``: an ``incremental`` pass, or a ``full`` one."""
        self.sync_id = sync_id
        since = dataclasses.replace(self.widened, lower_bound_updated_at=lower)
        if mode == "incremental":
            await self._pass("incremental", since)
            return
        await self._pass("full", self.query)
        # the gap of offset paging: rows inserted or changed during the full pass
        await self._pass("catch-up", since)
        await self._confirm_missing()

    async def _crawl(
        self, name: str, query: FacilityQuery, *, page_size: int, seen: list[str] | None = None
    ) -> CrawlStats:
        pages = self.msi.pages(
            query=query, page_size=page_size, concurrency=self.concurrency, seen=seen
        )
        async with pages:
            async for page in pages:
                now = stamp(self.clock())
                await self.call(
                    write_page, self.store, page.facilities, self.query.status_aktif,
                    self.sync_id, now,
                )  # fmt: skip
                if self.on_page is not None:
                    self.on_page(name, pages.stats)
        return pages.stats

    async def _pass(
        self, name: str, query: FacilityQuery, *, seen: list[str] | None = None
    ) -> None:
        stats = await self._crawl(name, query, page_size=self.page_size, seen=seen)
        self.passes.append(_report(name, query, [stats]))

    async def _confirm_missing(self) -> None:
        """Close as vanished only what a second look does not find either.

        Rows deleted during a full pass pull later, unchanged rows into pages already
        read: the pass misses them although they are still there.
        """
        missing: list[str] = await self.call(self.store.unseen, self.sync_id)
        if not missing:
            return
        if len(missing) <= LOOKUP_LIMIT and all(_CODE.fullmatch(code) for code in missing):
            await self._lookup(missing)
        else:
            seen: list[str] = await self.call(lambda: list(self.store.seen_codes(self.sync_id)))
            await self._pass("confirm", self.query, seen=seen)
        missing = await self.call(self.store.unseen, self.sync_id)
        if missing:
            await self.call(self.store.vanish, missing, stamp(self.clock()))

    async def _lookup(self, codes: Sequence[str]) -> None:
        """Ask for each code (outside the ``status_aktif`` filter, to tell why it left)."""
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(code: str) -> CrawlStats:
            async with semaphore:
                query = dataclasses.replace(self.widened, kode_satusehat=code)
                return await self._crawl("lookup", query, page_size=10)

        tasks = [asyncio.ensure_future(one(code)) for code in codes]
        try:
            stats = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self.passes.append(_report("lookup", self.widened, stats))
