"""Where a crawl ends: following ``total_page``, and not trusting it blindly.

Offset paging over data that changes while it is read: the count grows or shrinks
between pages, a page comes back short because rows were deleted before it, and a stale
(over-reported) count would have the crawl ask for empty pages up to it, or for ever if
it keeps growing. :class:`EndTracker` watches every page for these and says where the
crawl must now stop.
"""

from __future__ import annotations

import logging

from satusehat_async.paging.stats import PageStats, TotalPageChange

__all__ = ["EndTracker"]


class EndTracker:
    """Decides the last page of a crawl from what each page says (in page order).

    Attributes:
        last_page: the last page to fetch; None until a page told (then one page at a
            time: nothing to look ahead of).
    """

    def __init__(
        self,
        stats: PageStats,
        *,
        page_size: int,
        start_page: int,
        label: str,
        rows_name: str,
        logger: logging.Logger,
    ) -> None:
        self.stats = stats
        self.page_size = page_size
        self.label = label
        self.rows_name = rows_name
        self.logger = logger
        self.last_page: int | None = None
        # The last page yielded with rows, if it was short (a later page with rows then
        # shows the data moved); whether the page before was short or empty (page 1
        # counts as after "nothing", so an empty page 1 ends the crawl at once).
        self._short_page: int | None = None
        self._after_short = start_page == 1

    def observe(self, total: int | None, number: int, rows: int) -> int | None:
        """Account for page ``number`` (``rows`` rows, reporting ``total`` pages).

        Returns a page past which requests already scheduled are now useless (the count
        shrank, or the data ended early), or None.
        """
        cut = self._follow_total(total, number, rows)
        stale = self._watch_short_and_empty(number, rows)
        return stale if stale is not None else cut

    def _follow_total(self, total: int | None, number: int, rows: int) -> int | None:
        stats = self.stats
        if total is None:
            if stats.total_page is None:
                # The server gave no total: keep going while pages come back full.
                self.last_page = None if rows >= self.page_size else number
            return None
        if stats.total_page is None:
            stats.total_page = self.last_page = total
            return None
        if total == stats.total_page:
            return None
        stats.total_page_changes.append(TotalPageChange(number, stats.total_page, total))
        self.logger.warning(
            "%s total_page changed from %d to %d at page %d: the registry changed "
            "during the crawl (rows may shift between pages; duplicates are skipped)",
            self.label,
            stats.total_page,
            total,
            number,
        )
        stats.total_page = self.last_page = total
        return total

    def _watch_short_and_empty(self, number: int, rows: int) -> int | None:
        """Notice short pages before the end, and stop at empty pages past the data.

        An empty page right after a short (or empty) one is past the end of the data,
        whatever ``total_page`` says.
        """
        if rows:
            self._after_rows(number, rows)
            return None
        stats = self.stats
        if self._short_page is None:
            self._short_page = number  # an empty page before rows is a short one too
        last = self.last_page if stats.total_page is not None else None  # a promise made
        cut = None
        if last is not None and number <= last:
            stats.empty_pages += 1
            if self._after_short and number < last:
                stats.stale_total_page = True
                self.logger.warning(
                    "%s page %d is empty although total_page says %d: stopping (the count "
                    "is stale)",
                    self.label,
                    number,
                    last,
                )
                self.last_page = cut = number
        self._after_short = True
        return cut

    def _after_rows(self, number: int, rows: int) -> None:
        if self._short_page is not None:
            # A short page, then one with rows: the data moved between the two.
            self.stats.short_pages.append(self._short_page)
            self.logger.warning(
                "%s page %d came back short (rows were deleted or moved during the "
                "crawl): %s may have been missed",
                self.label,
                self._short_page,
                self.rows_name,
            )
        self._short_page = number if rows < self.page_size else None
        self._after_short = rows < self.page_size
