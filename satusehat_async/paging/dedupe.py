"""Per-crawl deduplication: each row identity is yielded once, whatever the pages repeat."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

from satusehat_async.paging.stats import PageStats

__all__ = ["Dedupe"]

RowT = TypeVar("RowT")


class Dedupe:
    """The identities seen so far in one crawl (plus those it was told were seen)."""

    __slots__ = ("_seen", "_stats")

    def __init__(self, stats: PageStats, seen: Iterable[Hashable | None] = ()) -> None:
        self._stats = stats
        self._seen: set[Hashable | None] = set(seen)

    def __len__(self) -> int:
        return len(self._seen)

    def new_rows(self, rows: list[RowT], keys: list[Hashable | None]) -> list[RowT]:
        """The rows whose key was not seen before (a None key is always kept); counts the
        others in ``stats.duplicates_skipped``. Returns ``rows`` itself when all are new."""
        seen = self._seen
        # The common case in two C passes over the big set: no key seen before, and (the
        # size grows by one per row) none repeated within the page nor missing.
        if seen.isdisjoint(keys):
            before = len(seen)
            seen.update(keys)
            if len(seen) - before == len(keys) and None not in seen:
                return rows
            seen.difference_update(keys)  # undo, then take the careful path
        kept: list[RowT] = []
        for row, key in zip(rows, keys, strict=True):
            if key is not None:
                if key in seen:
                    self._stats.duplicates_skipped += 1
                    continue
                seen.add(key)
            kept.append(row)
        return kept
