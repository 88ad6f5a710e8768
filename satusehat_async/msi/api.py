"""``client.msi``: the Master Sarana Index entry points."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from satusehat_async.context import context_of
from satusehat_async.errors import ValidationError
from satusehat_async.msi.decode import decode_page
from satusehat_async.msi.models import FacilityPage
from satusehat_async.msi.pager import FacilityPages, FacilityStream
from satusehat_async.msi.query import (
    MAX_PAGE_SIZE,
    DateLike,
    FacilityQuery,
    JenisSaranaArg,
    validate_page_size,
)

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext

__all__ = ["MSI", "MSI_PATH"]

#: The facility endpoint, under the client's ``masterdata_url``.
MSI_PATH = "/mastersaranaindex/mastersarana"


# The filter arguments of pages() and facilities(): FacilityQuery's fields, by name.
_FILTERS = tuple(field.name for field in dataclasses.fields(FacilityQuery))


def _filters(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The filters among a call's arguments (its ``locals()``), for FacilityQuery.build."""
    return {name: arguments[name] for name in _FILTERS}


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


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer, got {value!r}")
    return value


class MSI:
    """The facility registry. Reached as ``client.msi``; built as ``MSI(client.context)``.

    Every filter takes the API's own parameter name; see :class:`FacilityQuery` for what
    is accepted. Arguments are validated when the iterator is created, before anything
    is sent (:class:`~satusehat_async.errors.ValidationError`).
    """

    def __init__(self, context: ResourceContext | SatuSehatClient) -> None:
        # a SatuSehatClient is accepted too (earlier releases took it): its context
        self._context = context_of(context)

    @property
    def url(self) -> str:
        """The facility endpoint URL."""
        return self._context.endpoints.masterdata_url + MSI_PATH

    def pages(
        self,
        *,
        jenis_sarana: JenisSaranaArg | None = None,
        kode_provinsi: str | int | None = None,
        kode_kabkota: str | int | None = None,
        kode_kecamatan: str | int | None = None,
        kode_satusehat: str | int | None = None,
        kode_sarana: str | None = None,
        nama: str | None = None,
        status_aktif: bool | None = None,
        status_sarana: str | None = None,
        sumber_identifier: str | None = None,
        identifier_kode_sarana: str | None = None,
        lower_bound_updated_at: DateLike | None = None,
        upper_bound_updated_at: DateLike | None = None,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        start_page: int = 1,
        seen: Iterable[str] | None = None,
        query: FacilityQuery | None = None,
    ) -> FacilityPages:
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
            jenis_sarana: one facility type code or several (default: 101-104).
            kode_provinsi, kode_kabkota, kode_kecamatan: 2-, 4- and 6-digit region codes.
            page_size: rows per page, the API's ``limit`` (1-2000).
            concurrency: requests in flight for this crawl.
            start_page: first page to fetch (to resume a crawl).
            seen: ``kode_satusehat`` codes already delivered (by an interrupted crawl, say):
                skipped and counted as duplicates.
            query: a prebuilt :class:`FacilityQuery` instead of the filter arguments.

        The remaining filters are the API's parameters of the same name.

        Raises:
            ValidationError: a filter or argument of the wrong type or value (nothing is
                sent).
        """
        if query is None:
            query = FacilityQuery.build(**_filters(locals()))
        return self._crawl(query, page_size, concurrency, start_page, seen)

    def _crawl(
        self,
        query: object,
        page_size: object,
        concurrency: object,
        start_page: object,
        seen: object,
    ) -> FacilityPages:
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
        )

    def facilities(
        self,
        *,
        jenis_sarana: JenisSaranaArg | None = None,
        kode_provinsi: str | int | None = None,
        kode_kabkota: str | int | None = None,
        kode_kecamatan: str | int | None = None,
        kode_satusehat: str | int | None = None,
        kode_sarana: str | None = None,
        nama: str | None = None,
        status_aktif: bool | None = None,
        status_sarana: str | None = None,
        sumber_identifier: str | None = None,
        identifier_kode_sarana: str | None = None,
        lower_bound_updated_at: DateLike | None = None,
        upper_bound_updated_at: DateLike | None = None,
        page_size: int = MAX_PAGE_SIZE,
        concurrency: int = 4,
        start_page: int = 1,
        seen: Iterable[str] | None = None,
        query: FacilityQuery | None = None,
    ) -> FacilityStream:
        """Crawl the matching facilities one by one: an async iterator of :class:`Facility`.

        Same arguments and behaviour as :meth:`pages`; ``.stats`` and ``.aclose()`` too.
        """
        arguments: dict[str, Any] = dict(locals())
        del arguments["self"]
        return FacilityStream(self.pages(**arguments))

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
