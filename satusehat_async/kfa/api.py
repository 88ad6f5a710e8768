"""``client.kfa``: products by code, the whole catalogue, JKN prices."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from satusehat_async.context import context_of
from satusehat_async.errors import NotFoundError, ValidationError
from satusehat_async.export.job import Export, ExportResult
from satusehat_async.kfa.decode import decode_detail, decode_price_page
from satusehat_async.kfa.export import ProductExportSource, export_fingerprint
from satusehat_async.kfa.models import JknPrice, Product, ProductPage
from satusehat_async.kfa.pager import ProductPages, ProductStream
from satusehat_async.kfa.query import (
    PRODUCT_TYPES,
    Identifier,
    ProductFilters,
    ProductQuery,
    ProductType,
    validate_code,
    validate_kfa_code,
    validate_page_size,
    validate_region,
)
from satusehat_async.kfa.source import compact_keys

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext

__all__ = ["KFA", "PRICE_PATH", "PRODUCTS_PATH", "PRODUCT_PATH"]

#: Under the client's ``base_url``: the v2 detail, the v2 list, the v1 JKN price.
PRODUCT_PATH = "/kfa-v2/products"
PRODUCTS_PATH = "/kfa-v2/products/all"
PRICE_PATH = "/kfa/farmalkes-price-jkn"
_MAX_PRICE_PAGES = 1000  # a guard against a server that never says the list ended


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer, got {value!r}")
    return value


def _seen(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"seen must be an iterable of product keys, got {type(value).__name__}"
        )
    return compact_keys(value)


def _not_found(error: NotFoundError) -> bool:
    """Whether a 404 means "no such product" rather than a wrong URL.

    The API documents no "not found" answer. A 404 with an empty body, a gateway
    ``fault``, or FastAPI's unknown-route ``{"detail": "Not Found"}`` is a wrong URL (or
    an API the client may not use) and stays an error; any other JSON 404 is the
    product that is not there.
    """
    body = error.body
    if not isinstance(body, Mapping) or "fault" in body:
        return False
    return body.get("detail") != "Not Found"


class KFA:
    """The Kamus Farmasi dan Alat Kesehatan. Reached as ``client.kfa``.

    Built as ``KFA(client.context)`` (a client is accepted too). Every argument is
    checked before anything is sent (:class:`~satusehat_async.errors.ValidationError`).
    """

    #: The product types a crawl with ``product_type=None`` covers, in order.
    PRODUCT_TYPES = PRODUCT_TYPES

    def __init__(self, context: ResourceContext | SatuSehatClient) -> None:
        self._context = context_of(context)

    def _url(self, path: str) -> str:
        return self._context.endpoints.base_url.rstrip("/") + path

    async def product(self, code: str, identifier: Identifier = "kfa") -> Product | None:
        """The product with ``code`` in ``identifier``'s system, or None if there is none.

        Args:
            code: a KFA code (8 digits), a BPOM NIE (``"GKL2012431917A1"``) or an LKPP
                e-catalogue code (digits), as ``identifier`` says.
            identifier: ``"kfa"``, ``"nie"`` or ``"lkpp"``.

        Not found is an empty or absent ``result`` (as peers read it), or a 404 answered
        with a JSON body; a 404 with an empty body or a gateway fault (a wrong URL, no
        KFA role) raises :class:`~satusehat_async.errors.NotFoundError`.

        Raises:
            ValidationError: an unknown identifier or a code not in its form (nothing sent).
        """
        kind, text = validate_code(identifier, code)
        url = self._url(PRODUCT_PATH)
        try:
            response = await self._context.send(
                "GET", url, params={"identifier": kind, "code": text}
            )
        except NotFoundError as error:
            if _not_found(error):
                return None
            raise
        return decode_detail(response.body, url=url)

    def pages(
        self,
        *,
        page_size: int = 100,
        concurrency: int = 4,
        start_page: int = 1,
        start_type: ProductType | None = None,
        seen: Iterable[str] | None = None,
        **filters: Unpack[ProductFilters],
    ) -> ProductPages:
        """Crawl the catalogue page by page: an async iterator of :class:`ProductPage`.

        Each product type is one paged list (``product_type`` is required by the API):
        ``product_type=None`` crawls ``farmasi``, then ``alkes``. Pages come in order;
        after each type's first page (which tells ``total``, the item count) up to
        ``concurrency`` requests are in flight (never more than the client's
        ``connection_limit``), in a window of ``2 * concurrency`` pages, so memory stays
        bounded whatever the catalogue's size. Each product
        (:func:`~satusehat_async.kfa.product_key`) appears once: repeats (rows shifting
        while the catalogue changes) are removed from ``data`` and counted in
        ``stats.duplicates_skipped``.

        Args:
            product_type: ``"farmasi"``, ``"alkes"`` or None (both).
            farmalkes_type: e.g. ``"medicine"``, ``"vaccine"``, ``"device"``.
            keyword: a search text.
            template_code, packaging_code: a template (``92…``/``82…``) or packaging
                (``94…``/``84…``) KFA code.
            from_date, to_date: ``YYYY-MM-DD`` (or a ``date``): updated in that range.
            page_size: products per page, the API's ``size`` (1-1000).
            concurrency: requests in flight for this crawl.
            start_page: the first page of the first type crawled (to resume).
            start_type: with ``product_type=None``, the type to start at (to resume an
                every-type crawl in ``alkes``: ``start_type="alkes"``).
            seen: product keys already delivered: skipped and counted as duplicates.

        ``product_type`` to ``to_date`` are the filters
        (:class:`~satusehat_async.kfa.query.ProductFilters`), taken as ``**filters``.

        Raises:
            ValidationError: an argument of the wrong type or value (nothing is sent).
        """
        query = ProductQuery.build(**filters)
        return self._crawl(query, page_size, concurrency, start_page, start_type, seen)

    def _crawl(
        self,
        query: ProductQuery,
        page_size: object,
        concurrency: object,
        start_page: object,
        start_type: object,
        seen: object,
    ) -> ProductPages:
        """The validated crawl of :meth:`pages` (checked in the order of its arguments)."""
        size = validate_page_size(page_size)
        limit = min(_positive("concurrency", concurrency), self._context.connection_limit)
        start = _positive("start_page", start_page)
        if start_type is not None and start_type not in query.product_types:
            raise ValidationError(
                f"start_type must be one of {query.product_types}, got {start_type!r}"
            )
        return ProductPages(
            self._context,
            self._url(PRODUCTS_PATH),
            query,
            page_size=size,
            concurrency=limit,
            start_page=start,
            start_type=start_type if isinstance(start_type, str) else None,
            seen=_seen(seen),
        )

    def products(
        self,
        *,
        page_size: int = 100,
        concurrency: int = 4,
        start_page: int = 1,
        start_type: ProductType | None = None,
        seen: Iterable[str] | None = None,
        **filters: Unpack[ProductFilters],
    ) -> ProductStream:
        """Crawl the catalogue product by product: an async iterator of :class:`Product`.

        Same arguments and behaviour as :meth:`pages`; ``.stats``, ``.aclose()`` and
        ``async with`` too.
        """
        query = ProductQuery.build(**filters)
        return ProductStream(
            self._crawl(query, page_size, concurrency, start_page, start_type, seen)
        )

    def export(
        self,
        output: str | os.PathLike[str] | BinaryIO,
        *,
        format: str = "ndjson",
        resume: bool = False,
        force: bool = False,
        page_size: int = 100,
        concurrency: int = 4,
        on_page: Callable[[ExportResult], object] | None = None,
        **filters: Unpack[ProductFilters],
    ) -> Export[ProductPage]:
        """Export the catalogue (every product type unless filtered) to a file or a stream.

        ``await client.kfa.export("kfa.csv", format="csv")`` crawls as :meth:`pages`
        (farmasi, then alkes; each product once, in order) and writes each page as it
        comes: NDJSON (one product per line, as the server sent it) or CSV (the flat
        :data:`~satusehat_async.kfa.CSV_COLUMNS`). A file gets a checkpoint beside it
        (``FILE.checkpoint.json``: the type and page to continue from) after every page:
        ``resume=True`` (same filters, format, page size) continues an interrupted
        export, skipping the products written (:func:`~satusehat_async.kfa.product_key`).
        An existing file is overwritten only with ``force=True``, once the first page
        came. Awaiting the returned :class:`~satusehat_async.export.Export` gives an
        :class:`~satusehat_async.export.ExportResult` (``stats``: a
        :class:`~satusehat_async.kfa.KfaCrawlStats`); ``on_page`` gets it live.

        Raises:
            ValidationError: bad filters or arguments, when called (nothing sent).
            ResumeRefused: when awaited: the file exists and neither ``resume`` nor
                ``force`` allows touching it, or its checkpoint is another export's
                (:class:`~satusehat_async.errors.CheckpointError`: one not matching it).
        """
        query = ProductQuery.build(**filters)
        self._crawl(query, page_size, concurrency, 1, None, None)  # checks them, sends nothing

        def crawl(start_type: str | None, start_page: int, seen: list[str]) -> ProductPages:
            return self._crawl(query, page_size, concurrency, start_page, start_type, seen)

        source = ProductExportSource(crawl, format)
        target = Path(os.fspath(output)) if isinstance(output, (str, os.PathLike)) else output
        return Export(
            target,
            source,
            fingerprint=export_fingerprint(query, source.format),
            format=source.format,
            page_size=validate_page_size(page_size),
            resume=resume,
            force=force,
            on_page=on_page,
        )

    async def prices(
        self, kfa_code: str, region_code: str | None = None, *, page_size: int = 100
    ) -> list[JknPrice]:
        """The JKN prices of a product (every page of ``/kfa/farmalkes-price-jkn``).

        Args:
            kfa_code: the product's (or its template's) KFA code.
            region_code: ``"regional1"``..``"regional6"``, or None for every region.
            page_size: rows per request, the API's ``limit`` (1-1000).

        Raises:
            ValidationError: a bad code, region or size (nothing is sent).
        """
        params: dict[str, str | int] = {"kfa_code": validate_kfa_code(kfa_code)}
        region = validate_region(region_code)
        if region is not None:
            params["region_code"] = region
        size = validate_page_size(page_size)
        url = self._url(PRICE_PATH)
        rows: list[JknPrice] = []
        for page in range(1, _MAX_PRICE_PAGES + 1):
            response = await self._context.send(
                "GET", url, params={"page": page, "limit": size, **params}
            )
            answer = decode_price_page(response.body, url=url)
            data = answer.data
            rows.extend(data)
            total = answer.total
            # The end: an empty page, the count reached, or (no count) a short page.
            if not data or (page * size >= total if total is not None else len(data) < size):
                break
        return rows
