"""The KFA catalogue as NDJSON or CSV: the KFA's binding of the generic export engine.

:meth:`KFA.export <satusehat_async.kfa.KFA.export>` puts these together with
:class:`~satusehat_async.export.Export`. A catalogue crawl is made of parts, one per
product type (farmasi, then alkes): the checkpoint keeps the type with the next page
(``part``), and a resume opens :meth:`KFA.pages <satusehat_async.kfa.KFA.pages>` at that
type and page with the keys already written.

A product's identity is :func:`~satusehat_async.kfa.product_key` (some devices carry
``kfa_code: "/"``, so the code alone is not enough). NDJSON records are the products as
decoded (:class:`~satusehat_async.kfa.Product`, only the fields the server sent); their
keys are read back from the fields ``product_key`` uses. CSV rows are
:func:`~satusehat_async.kfa.product_row` (the columns :data:`~satusehat_async.kfa.CSV_COLUMNS`),
whose ``key`` column is the identity itself (:data:`ProductRow` names the columns).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.export.formats import RecordLayout, check_format
from satusehat_async.export.job import Position
from satusehat_async.kfa.flatten import CSV_COLUMNS, Cell, product_row
from satusehat_async.kfa.models import Product, ProductPage
from satusehat_async.kfa.source import product_key

if TYPE_CHECKING:
    from satusehat_async.kfa.pager import ProductPages
    from satusehat_async.kfa.query import ProductQuery

__all__ = [
    "CSV_LAYOUT",
    "NDJSON_LAYOUT",
    "ProductExportSource",
    "ProductRow",
    "export_fingerprint",
    "layout_for",
]

# The layouts' version: a change of what is written (columns, keys) makes older
# checkpoints another crawl's, refused on resume rather than mixed.
_VERSION = 1


class _TemplateKey(msgspec.Struct, gc=False):
    kfa_code: str | None = None


class _ProductKey(msgspec.Struct, gc=False):
    """The fields of an NDJSON record that :func:`product_key` reads."""

    kfa_code: str | None = None
    name: str | None = None
    nie: str | None = None
    manufacturer: str | None = None
    product_template: _TemplateKey | None = None


class _RowKey(msgspec.Struct, gc=False):
    """The ``key`` column of a CSV row."""

    key: str | None = None


def _product_identity(record: Any) -> Hashable | None:
    # product_key reads only the attributes _ProductKey has (a Product or a read-back key)
    key: str | None = product_key(record)
    return key


def _row_identity(record: Any) -> Hashable | None:
    key: str | None = record.key
    return key


#: The flat row of a CSV export: one field per :data:`CSV_COLUMNS` entry, in order.
ProductRow: type[msgspec.Struct] = msgspec.defstruct(
    "ProductRow",
    [(name, Cell, None) for name in CSV_COLUMNS],
    kw_only=True,
    gc=False,
    module=__name__,
)


def _cell(value: Cell) -> str:
    """A CSV cell as the engine writes one (``true``/``false``, empty for None)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class _ProductRows(RecordLayout):
    """The CSV layout, fed :class:`Product` records: each flattened straight into its
    cells by :func:`product_row` (no intermediate :data:`ProductRow`, and no walk of
    attribute paths: a CSV page costs a third of what the generic flattening does)."""

    def _row(self, record: Any) -> list[str]:
        return [_cell(value) for value in product_row(record).values()]


#: NDJSON: one decoded :class:`Product` per line.
NDJSON_LAYOUT = RecordLayout(
    Product, _ProductKey, _product_identity, noun="products", source="catalogue"
)
#: CSV: the :data:`CSV_COLUMNS` of :func:`product_row`.
CSV_LAYOUT: RecordLayout = _ProductRows(
    ProductRow, _RowKey, _row_identity, noun="products", source="catalogue"
)


def layout_for(fmt: str) -> RecordLayout:
    """The layout of an export in ``fmt`` (``ndjson`` or ``csv``).

    Raises:
        ValidationError: another format.
    """
    return NDJSON_LAYOUT if check_format(fmt) == "ndjson" else CSV_LAYOUT


def export_fingerprint(query: ProductQuery, fmt: str) -> str:
    """What a checkpoint must match to be resumed: the filters and what a record holds."""
    layout = layout_for(fmt)
    described = msgspec.json.encode(
        {
            "kfa": _VERSION,
            "product_types": query.product_types,
            "farmalkes_type": query.farmalkes_type,
            "keyword": query.keyword,
            "template_code": query.template_code,
            "packaging_code": query.packaging_code,
            "from_date": query.from_date,
            "to_date": query.to_date,
            "columns": layout.columns,
        }
    )
    return hashlib.sha256(described).hexdigest()[:16]


class ProductExportSource:
    """The catalogue crawl as the export engine reads it.

    ``pages(start_type, start_page, seen)`` opens the crawl (:meth:`KFA.pages` with the
    export's filters, page size and concurrency).
    """

    def __init__(
        self, pages: Callable[[str | None, int, list[str]], ProductPages], fmt: str
    ) -> None:
        self._pages = pages
        self.format = check_format(fmt)
        self.layout = layout_for(self.format)

    def open(self, start: Position, seen: list[Hashable]) -> ProductPages:
        """The crawl from ``start``: (product type or None for the first, page)."""
        part, number = start
        return self._pages(part, number, [str(key) for key in seen])

    def rows(self, page: ProductPage) -> list[Product]:
        """The page's new products (the CSV layout flattens them as it writes them)."""
        return page.data

    def after(self, page: ProductPage, crawl: object) -> Position:
        """A resume continues with the next page of the page's type.

        Past a type's last page that is one request answered empty, after which the
        crawl goes on with the next type: cheaper than missing products added at the end
        of the type meanwhile.
        """
        return page.product_type, (page.page or 0) + 1
