"""``client.msi``: the Master Sarana Index entry points."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, overload

import msgspec

from satusehat_async.context import context_of
from satusehat_async.errors import ValidationError
from satusehat_async.export.job import Export, ExportResult
from satusehat_async.msi.decode import decode_page
from satusehat_async.msi.export import FacilityExportSource, export_fingerprint
from satusehat_async.msi.models import Facility, FacilityPage
from satusehat_async.msi.pager import FacilityPages, FacilityStream
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery, validate_page_size

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext
    from satusehat_async.msi.filters import FacilityFilters
    from satusehat_async.msi.mirror import SyncReport
    from satusehat_async.msi.stats import CrawlStats

__all__ = ["MSI", "MSI_PATH"]

#: The facility endpoint, under the client's ``masterdata_url``.
MSI_PATH = "/mastersaranaindex/mastersarana"

S = TypeVar("S", bound=msgspec.Struct)


def _seen(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"seen must be an iterable of kode_satusehat strings, got {type(value).__name__}"
        )
    codes = list(value)
    for code in codes:
        if not isinstance(code, str):
            raise ValidationError(f"seen must hold kode_satusehat strings, got {code!r}")
    return codes


def _query(value: object) -> FacilityQuery:
    if not isinstance(value, FacilityQuery):
        raise ValidationError(
            f"query must be a FacilityQuery (FacilityQuery.build(...)), got {type(value).__name__}"
        )
    return value


def _query_of(query: object, filters: Mapping[str, Any]) -> FacilityQuery:
    """``query`` or the query the filter arguments build (not both)."""
    if query is None:
        return FacilityQuery.build(**filters)
    if filters:
        raise ValidationError(
            f"pass either query or filters, not both (got query and {', '.join(filters)})"
        )
    return _query(query)


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer, got {value!r}")
    return value


class MSI:
    """The facility registry. Reached as ``client.msi``; built as ``MSI(client.context)``.

    Every filter takes the API's own parameter name (:class:`FacilityFilters
    <satusehat_async.msi.filters.FacilityFilters>`; see :class:`FacilityQuery` for what
    is accepted). Arguments are validated when the iterator (or export) is created,
    before anything is sent (:class:`~satusehat_async.errors.ValidationError`).
    """

    def __init__(self, context: ResourceContext | SatuSehatClient) -> None:
        # a SatuSehatClient is accepted too (earlier releases took it): its context
        self._context = context_of(context)

    @property
    def url(self) -> str:
        """The facility endpoint URL."""
        return self._context.endpoints.masterdata_url + MSI_PATH

    @overload
    def pages(
        self,
        *,
        page_size: int = ...,
        concurrency: int = ...,
        start_page: int = ...,
        seen: Iterable[str] | None = ...,
        query: FacilityQuery | None = ...,
        model: None = ...,
        **filters: Unpack[FacilityFilters],
    ) -> FacilityPages[Facility]: ...

    @overload
    def pages(
        self,
        *,
        page_size: int = ...,
        concurrency: int = ...,
        start_page: int = ...,
        seen: Iterable[str] | None = ...,
        query: FacilityQuery | None = ...,
        model: type[S],
        **filters: Unpack[FacilityFilters],
    ) -> FacilityPages[S]: ...

    def pages(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        start_page: int = 1,
        seen: Iterable[str] | None = None,
        query: FacilityQuery | None = None,
        model: type[Any] | None = None,
        **filters: Unpack[FacilityFilters],
    ) -> FacilityPages[Any]:
        """Crawl the matching facilities page by page: an async iterator of pages.

        Pages come in page order; after the first (which tells ``total_page``) up to
        ``concurrency`` requests are in flight (never more than the client's
        ``connection_limit``). Each ``kode_satusehat`` appears once per crawl: later
        repeats (rows shifting while the registry changes) are removed from ``data``.
        The API pages by offset: what that can and cannot promise while the registry
        changes, what ``stats`` reports then (``possibly_incomplete``,
        ``stale_total_page``) and how to close the gap is told in
        :class:`~satusehat_async.msi.CrawlStats`.
        Empty pages past the data end the crawl, whatever ``total_page`` says.

        Args:
            page_size: rows per page, the API's ``limit`` (1-2000).
            concurrency: requests in flight for this crawl.
            start_page: first page to fetch (to resume a crawl).
            seen: ``kode_satusehat`` codes already delivered (by an interrupted crawl, say):
                skipped and counted as duplicates.
            query: a prebuilt :class:`FacilityQuery` instead of the filter arguments.
            model: the row Struct (default :class:`Facility`): a projection holding only
                the fields it needs (``kode_satusehat`` among them) decodes faster.
            **filters: the API's filters by their parameter names (``jenis_sarana``: one
                facility type code or several, default 101-104; ``kode_provinsi``,
                ``kode_kabkota``, ``kode_kecamatan``: 2-, 4- and 6-digit region codes...).

        Raises:
            ValidationError: a filter or argument of the wrong type or value (nothing is
                sent).
        """
        return self._crawl(
            _query_of(query, filters), page_size, concurrency, start_page, seen, model
        )

    def _crawl(
        self,
        query: object,
        page_size: object,
        concurrency: object,
        start_page: object,
        seen: object,
        model: type[Any] | None = None,
    ) -> FacilityPages[Any]:
        """The validated crawl of :meth:`pages` (checked in the order of its arguments)."""
        limit = min(_positive("concurrency", concurrency), self._context.connection_limit)
        return FacilityPages(
            self._context,
            self.url,
            _query(query),
            page_size=validate_page_size(page_size),
            concurrency=limit,
            start_page=_positive("start_page", start_page),
            seen=_seen(seen),
            model=model,
        )

    @overload
    def facilities(
        self,
        *,
        page_size: int = ...,
        concurrency: int = ...,
        start_page: int = ...,
        seen: Iterable[str] | None = ...,
        query: FacilityQuery | None = ...,
        model: None = ...,
        **filters: Unpack[FacilityFilters],
    ) -> FacilityStream[Facility]: ...

    @overload
    def facilities(
        self,
        *,
        page_size: int = ...,
        concurrency: int = ...,
        start_page: int = ...,
        seen: Iterable[str] | None = ...,
        query: FacilityQuery | None = ...,
        model: type[S],
        **filters: Unpack[FacilityFilters],
    ) -> FacilityStream[S]: ...

    def facilities(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        start_page: int = 1,
        seen: Iterable[str] | None = None,
        query: FacilityQuery | None = None,
        model: type[Any] | None = None,
        **filters: Unpack[FacilityFilters],
    ) -> FacilityStream[Any]:
        """Crawl the matching facilities one by one: an async iterator of :class:`Facility`
        (or of ``model``).

        Same arguments and behaviour as :meth:`pages`; ``.stats`` and ``.aclose()`` too.
        """
        query = _query_of(query, filters)
        return FacilityStream(self._crawl(query, page_size, concurrency, start_page, seen, model))

    def export(
        self,
        output: str | os.PathLike[str] | BinaryIO,
        *,
        format: str = "ndjson",
        resume: bool = False,
        force: bool = False,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        model: type[msgspec.Struct] | None = None,
        on_page: Callable[[ExportResult], object] | None = None,
        query: FacilityQuery | None = None,
        **filters: Unpack[FacilityFilters],
    ) -> Export[FacilityPage[Any]]:
        """Export the matching facilities to a file (resumably) or a binary stream.

        ``await client.msi.export("rs.csv", format="csv", jenis_sarana=104)`` crawls as
        :meth:`pages` does and writes each page as it comes: NDJSON (one object per
        line) or CSV (a header, nested fields as ``provinsi.kode`` columns; a
        projection's own fields with ``model=``). A file gets a checkpoint beside it
        (``FILE.checkpoint.json``) after every page, so an interrupted export continues
        with ``resume=True`` (the same filters, format, page size and model), skipping
        the facilities already written. An existing file is never overwritten unless
        ``force=True``, and then only once the first page has arrived. Returns an
        :class:`~satusehat_async.export.Export`: awaiting it returns an
        :class:`~satusehat_async.export.ExportResult`; its ``.result`` is live
        (``on_page`` gets it after every page).

        Raises:
            ValidationError: bad filters or arguments, when called (nothing sent).
            ResumeRefused: when awaited: the file exists and neither ``resume`` nor
                ``force`` allows touching it, or its checkpoint is another export's.
            CheckpointError: when awaited: the checkpoint does not match the file (it is
                left untouched).
        """
        chosen = _query_of(query, filters)
        size = validate_page_size(page_size)
        limit = _positive("concurrency", concurrency)
        self._crawl(chosen, size, limit, 1, None, model)  # checks the model, sends nothing

        def crawl(start: int, seen: list[Hashable]) -> FacilityPages[Any]:
            return self._crawl(chosen, size, limit, start, seen, model)

        target: str | Path | BinaryIO = (
            Path(os.fspath(output)) if isinstance(output, (str, os.PathLike)) else output
        )
        return Export(
            target,
            FacilityExportSource(crawl, model),
            fingerprint=export_fingerprint(chosen, model),
            format=format,
            page_size=size,
            resume=resume,
            force=force,
            on_page=on_page,
        )

    async def sync(
        self,
        database: str | os.PathLike[str],
        *,
        full: bool = False,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        on_page: Callable[[str, CrawlStats], None] | None = None,
        query: FacilityQuery | None = None,
        **filters: Unpack[FacilityFilters],
    ) -> SyncReport:
        """Bring a local SQLite mirror of the registry (or of the filtered part) up to date.

        See :func:`satusehat_async.msi.mirror.sync` (incremental by
        ``lower_bound_updated_at``; ``full=True`` crawls everything).
        """
        from satusehat_async.msi import mirror  # SQLite is loaded only when used

        return await mirror.sync(
            self,
            database,
            query=_query_of(query, filters),
            full=full,
            page_size=page_size,
            concurrency=concurrency,
            on_page=on_page,
        )

    async def page(
        self, page: int = 1, *, page_size: int = MAX_PAGE_SIZE, query: FacilityQuery | None = None
    ) -> FacilityPage:
        """Fetch one page of ``query`` (default: every named facility type), as sent."""
        query = _query(query) if query is not None else FacilityQuery.build()
        params = query.params(page=_positive("page", page), page_size=validate_page_size(page_size))
        response = await self._context.send("GET", self.url, params=params)
        result, _ = decode_page(response.body, headers=response.headers, url=self.url)
        result.page = page
        return result
