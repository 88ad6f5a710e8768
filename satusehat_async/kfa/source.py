"""The KFA catalogue as a :class:`~satusehat_async.paging.PageSource`, and product identity.

A product's identity is its ``kfa_code`` when it has a real one. Some devices carry
``kfa_code: "/"`` (no variant code): their identity is a composite of the fields that
tell them apart and stay put — the template's code, the name, the NIE and the
manufacturer (:func:`product_key`). A resumable export keys its checkpoint on it.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.kfa.decode import decode_product_page
from satusehat_async.kfa.models import Product, ProductPage
from satusehat_async.kfa.query import ProductQuery
from satusehat_async.paging.source import PageRequest

if TYPE_CHECKING:
    from satusehat_async.http.response import Response

__all__ = ["ProductPageSource", "compact_key", "compact_keys", "product_key"]

logger = logging.getLogger("satusehat_async.kfa")

# What stands in for "no variant code" (the documented one is "/").
_NO_CODE = frozenset({"", "/", "-", "0"})
_encode = msgspec.json.encode


def product_key(product: Product) -> str | None:
    """The identity of ``product`` in a crawl: a string, stable across crawls.

    Its ``kfa_code`` when that is a real code; for a product without one (``"/"``), the
    JSON text of ``["/", template code, name, nie, manufacturer]``. None when even those
    are all missing (such a product cannot be told apart: it is always delivered).
    A product whose name or NIE is edited between two crawls gets a new composite key.
    """
    code = product.kfa_code
    if code is not None and code.strip() not in _NO_CODE:
        return code
    template = product.product_template
    parts = (
        template.kfa_code if template is not None else None,
        product.name,
        product.nie,
        product.manufacturer,
    )
    if all(part is None for part in parts):
        return None
    return _encode(("/", *parts)).decode()


def compact_key(key: str | None) -> Hashable | None:
    """The in-memory form of a key: an int for an all-digit code (smaller than its text,
    and not pinning the page it came from), the text itself otherwise."""
    if key is not None and key.isdigit() and key.isascii() and key[0] != "0" and len(key) <= 18:
        return int(key)
    return key


def compact_keys(keys: Iterable[object]) -> list[Hashable | None]:
    """:func:`compact_key` of each of ``keys`` (the ``seen`` of a crawl), each checked."""
    compacted: list[Hashable | None] = []
    for key in keys:
        if not isinstance(key, str):
            raise ValidationError(f"seen must hold product keys (strings), got {key!r}")
        compacted.append(compact_key(key))
    return compacted


class ProductPageSource:
    """The pages of one product type of a :class:`ProductQuery` at ``url``."""

    __slots__ = ("page_size", "product_type", "query", "url")

    label = "KFA"
    rows_name = "products"
    logger = logger

    def __init__(self, url: str, query: ProductQuery, product_type: str, page_size: int) -> None:
        self.url = url
        self.query = query
        self.product_type = product_type
        self.page_size = page_size

    def request(self, number: int) -> PageRequest:
        """``GET url?page=number&size=...&product_type=...`` with the query's filters."""
        params = self.query.params(self.product_type, page=number, size=self.page_size)
        return PageRequest(self.url, params)

    def decode(self, response: Response, number: int) -> tuple[ProductPage, int]:
        """The page (numbered ``number``) and the count of repaired records."""
        page, repaired = decode_product_page(response.body, url=self.url)
        page.page = number
        page.product_type = self.product_type
        return page, repaired

    def total_pages(self, page: ProductPage) -> int | None:
        """``ceil(total / page_size)``: ``total`` counts items, not pages."""
        total = page.total
        if total is None or total < 0:
            return None
        return -(-total // self.page_size)

    def rows(self, page: ProductPage) -> list[Product]:
        """The page's products."""
        return page.data

    def keep_rows(self, page: ProductPage, rows: list[Product]) -> None:
        """Keep only ``rows`` (the new products) in the page."""
        page.data = rows

    def keys(self, rows: list[Product]) -> list[Hashable | None]:
        """Each product's :func:`product_key`, compacted (:func:`compact_key`)."""
        return [compact_key(product_key(product)) for product in rows]
