"""What an MSI crawl did: :class:`CrawlStats` (the paging engine's stats, in MSI terms)."""

from __future__ import annotations

import dataclasses

from satusehat_async.paging.stats import PageStats, TotalPageChange

__all__ = ["CrawlStats", "TotalPageChange"]


@dataclasses.dataclass
class CrawlStats(PageStats):
    """What a crawl did so far (live while it runs).

    Attributes:
        pages: pages yielded.
        facilities: facilities yielded (after removing duplicates); the engine's ``items``.
        duplicates_skipped: rows whose ``kode_satusehat`` was already yielded (or was
            among the ``seen`` codes given to the crawl).
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
            later page still had rows: the registry changed between the two requests.

    What offset paging can promise (the MSI pages by ``page`` and ``limit``, an offset
    into the matching rows at the moment each request is served): a facility that is in
    the result set for the whole crawl and keeps its position is delivered exactly once.
    A row *added* (or changed into the filter) at a position already read is missed by
    this pass, and it pushes later rows into the next page, where their repeats are removed
    (``duplicates_skipped``). A row *deleted* (or changed out of the filter) at a position
    already read pulls later rows, unchanged ones, into pages already read: those are
    missed, and the answers carry no trace of it unless ``total_page`` goes down or a page
    comes back short before the end (:attr:`possibly_incomplete`); a deletion that changes
    neither cannot be seen at all. Closing the gap: a second pass with
    ``lower_bound_updated_at`` set to the day the first pass started delivers every row
    added or changed meanwhile (merge by ``kode_satusehat``, the later record winning);
    rows missed because *others* were deleted did not change, so only another full pass
    finds them (give it the codes already delivered as ``seen`` and it yields just the
    missing ones), which is worth doing when :attr:`possibly_incomplete` is set.
    """

    @property
    def facilities(self) -> int:
        """Facilities yielded (after removing duplicates)."""
        return self.items

    @facilities.setter
    def facilities(self, value: int) -> None:
        self.items = value
