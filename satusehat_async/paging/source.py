"""The page source: what the pager must know about one paged endpoint.

The engine (:class:`~satusehat_async.paging.OrderedPager`) knows windows, tasks, order and
the end of a crawl; it knows nothing of the endpoint. A :class:`PageSource` tells it, as
pure policy with no I/O of its own: which request asks for page ``n``, how an answer
becomes a page, where a page says how many pages there are, which rows it holds, and
what identifies a row (for the per-crawl deduplication).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from satusehat_async.http.response import Response

__all__ = ["PageRequest", "PageSource"]

PageT = TypeVar("PageT")
RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The request for one page: sent by the pager through the resource context."""

    url: str
    params: Mapping[str, Any]
    method: str = "GET"


class PageSource(Protocol[PageT, RowT]):
    """How to read one paged endpoint (page numbers from 1, a ``total_page``-like count).

    Attributes:
        label: the endpoint's name in log messages (``"MSI"``).
        rows_name: what its rows are, in log messages (``"facilities"``).
        logger: where the crawl's warnings go (a moving registry, a stale count).
        page_size: rows per full page (a shorter page with rows after it is reported).
    """

    label: str
    rows_name: str
    logger: logging.Logger
    page_size: int

    def request(self, number: int) -> PageRequest:
        """The request for page ``number``."""
        ...

    def decode(self, response: Response, number: int) -> tuple[PageT, int]:
        """Page ``number`` from its answer, and the count of rows repaired while decoding."""
        ...

    def total_pages(self, page: PageT) -> int | None:
        """The number of pages the answer reports (None when it says nothing)."""
        ...

    def rows(self, page: PageT) -> list[RowT]:
        """The rows of a page, in order (an empty list for none)."""
        ...

    def keep_rows(self, page: PageT, rows: list[RowT]) -> None:
        """Replace the page's rows by ``rows`` (those left after deduplication)."""
        ...

    def keys(self, rows: list[RowT]) -> list[Hashable | None]:
        """Each row's identity, in order: a row seen before is dropped; None is never equal
        to anything (a row without identity is always kept)."""
        ...
