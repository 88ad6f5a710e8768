"""The MSI crawl iterators: the paging engine over :class:`FacilityPageSource`.

:class:`FacilityPages` yields pages, :class:`FacilityStream` facilities; how they page
(ordered, a bounded concurrent look-ahead, clean early stop, stale-total and shrink
detection) is :mod:`satusehat_async.paging`'s, what an MSI page is is
:mod:`satusehat_async.msi.source`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from satusehat_async.msi.models import FacilityPage, FacilityT
from satusehat_async.msi.query import FacilityQuery
from satusehat_async.msi.source import FacilityPageSource, facility_keys
from satusehat_async.msi.stats import CrawlStats, TotalPageChange
from satusehat_async.paging.pager import OrderedPager
from satusehat_async.paging.stream import RowStream

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["CrawlStats", "FacilityPages", "FacilityStream", "TotalPageChange"]

# The dedupe keys' old name here (their home is msi.source now).
_keys = facility_keys


class FacilityPages(OrderedPager[FacilityPage[FacilityT], FacilityT, CrawlStats]):
    """Async iterator over the pages of one crawl, in page order, deduplicated.

    Made by :meth:`MSI.pages <satusehat_async.msi.MSI.pages>`. ``stats`` is live. Use
    ``async with`` or ``contextlib.aclosing`` to wait for in-flight requests on an early
    stop; a plain ``break`` cancels them immediately and they unwind in the background.

    ``model`` (default :class:`~satusehat_async.msi.Facility`) is the row Struct: a
    caller's projection holding only the fields it reads decodes faster and keeps less
    (it must hold ``kode_satusehat: str | None``, and every field a default; checked
    here, before anything is sent, see :func:`~satusehat_async.msi.decode.validate_model`).
    Pages are then ``FacilityPage[model]``.
    """

    source: FacilityPageSource[FacilityT]

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
        model: type[FacilityT] | None = None,
    ) -> None:
        source: FacilityPageSource[FacilityT] = FacilityPageSource(url, query, page_size, model)
        super().__init__(
            context,
            source,
            CrawlStats(),
            concurrency=concurrency,
            start_page=start_page,
            seen=_keys(list(seen or ())),
        )
        self.url = url
        self.query = query
        self.page_size = page_size

    @property
    def model(self) -> type[FacilityT]:
        """The row Struct of this crawl."""
        return self.source.model


class FacilityStream(RowStream[FacilityT, CrawlStats]):
    """Async iterator over the facilities of one crawl (each ``kode_satusehat`` once).

    Made by :meth:`MSI.facilities <satusehat_async.msi.MSI.facilities>`; wraps a
    :class:`FacilityPages` (``.pages``) and shares its live ``stats``. For heavy
    consumers, :meth:`batches` yields each page's new facilities as one list.
    """

    pages: FacilityPages[FacilityT]

    def __init__(self, pages: FacilityPages[FacilityT]) -> None:
        super().__init__(pages)
