"""What a crawl did: counts, ``total_page`` changes, and the traces of a moving dataset."""

from __future__ import annotations

import dataclasses
import time

__all__ = ["PageStats", "TotalPageChange"]


@dataclasses.dataclass(frozen=True)
class TotalPageChange:
    """``total_page`` differed on page ``page`` from what earlier pages said."""

    page: int
    old: int
    new: int


@dataclasses.dataclass
class PageStats:
    """What a crawl by :class:`~satusehat_async.paging.OrderedPager` did so far (live).

    Attributes:
        pages: pages yielded.
        items: rows yielded (after removing duplicates).
        duplicates_skipped: rows whose identity was already yielded (or was among the
            ``seen`` keys given to the crawl).
        repaired_records: rows that did not fit the models and were repaired.
        retries: extra HTTP attempts spent by the transport (sum of ``attempts - 1``).
        total_page: the number of pages the server reports (latest value; None before
            the first page).
        total_page_changes: every change of ``total_page`` during the crawl.
        empty_pages: pages that came back without rows although ``total_page`` promised
            more (past the end of the data).
        stale_total_page: the crawl stopped before the reported ``total_page`` because the
            pages past the data came back empty (the server's count was stale or too big).
        short_pages: pages that came back with fewer than ``page_size`` rows although a
            later page still had rows: the data changed between the two requests.
    """

    pages: int = 0
    items: int = 0
    duplicates_skipped: int = 0
    repaired_records: int = 0
    retries: int = 0
    total_page: int | None = None
    total_page_changes: list[TotalPageChange] = dataclasses.field(default_factory=list)
    empty_pages: int = 0
    stale_total_page: bool = False
    short_pages: list[int] = dataclasses.field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def total_page_changed(self) -> bool:
        """Did ``total_page`` change mid-crawl (the data moved under the crawl)?"""
        return bool(self.total_page_changes)

    @property
    def total_page_shrank(self) -> bool:
        """Did ``total_page`` ever go down mid-crawl (rows were deleted during the crawl)?"""
        return any(change.new < change.old for change in self.total_page_changes)

    @property
    def possibly_incomplete(self) -> bool:
        """Rows may have been missed: the data shrank or shifted under the crawl.

        True when ``total_page`` went down or a page came back short before the end
        (:attr:`short_pages`). Offset paging cannot tell which rows moved: crawl again
        (the endpoint's docs tell how to narrow a second pass).
        """
        return self.total_page_shrank or bool(self.short_pages)

    @property
    def elapsed(self) -> float:
        """Seconds since the first page was asked for (until the end, once finished)."""
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at
