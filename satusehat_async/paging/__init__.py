"""Paging: crawl a paged endpoint concurrently, in order, each row once.

:class:`OrderedPager` is the engine: page 1 alone (it tells ``total_page``), then pages
fetched concurrently under a semaphore in a bounded look-ahead window and yielded in page
order; an early stop (``break``, ``aclose()`` even from another task) cancels what is in
flight; a stale or shrinking ``total_page`` and short pages are noticed
(:class:`PageStats`). It knows nothing of any endpoint: a :class:`PageSource` says how
to ask for page ``n``, decode it and read its total, rows and row identities.
:class:`RowStream` yields the rows one by one. The MSI's source lives in
:mod:`satusehat_async.msi`.
"""

from __future__ import annotations

from satusehat_async.paging.dedupe import Dedupe
from satusehat_async.paging.ends import EndTracker
from satusehat_async.paging.pager import OrderedPager
from satusehat_async.paging.source import PageRequest, PageSource
from satusehat_async.paging.stats import PageStats, TotalPageChange
from satusehat_async.paging.stream import RowBatches, RowStream

__all__ = [
    "Dedupe",
    "EndTracker",
    "OrderedPager",
    "PageRequest",
    "PageSource",
    "PageStats",
    "RowBatches",
    "RowStream",
    "TotalPageChange",
]
