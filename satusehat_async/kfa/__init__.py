"""The KFA (Kamus Farmasi dan Alat Kesehatan): products, the catalogue, JKN prices.

``client.kfa`` is a :class:`KFA`: :meth:`KFA.product` (by KFA, NIE or LKPP code),
:meth:`KFA.products` / :meth:`KFA.pages` (the whole catalogue, concurrently, in order,
each product once) and :meth:`KFA.prices` (the JKN prices). A product's identity is
:func:`product_key` (some devices carry ``kfa_code: "/"``); :func:`product_row` flattens
a product into the flat columns of a CSV export (:data:`CSV_COLUMNS`);
:meth:`KFA.export` writes the catalogue to NDJSON or CSV, resumably.
"""

from __future__ import annotations

from satusehat_async.kfa.api import KFA, PRICE_PATH, PRODUCT_PATH, PRODUCTS_PATH
from satusehat_async.kfa.export import ProductExportSource, ProductRow
from satusehat_async.kfa.flatten import CSV_COLUMNS, product_row
from satusehat_async.kfa.models import (
    ActiveIngredient,
    Atc,
    Coded,
    FarmalkesType,
    IdentifierId,
    JknPrice,
    JknPricePage,
    Named,
    Packaging,
    PriceProvince,
    Product,
    ProductDetail,
    ProductPage,
    ProductTemplate,
    Replacement,
    ReplacementRef,
    Ucum,
    parse_timestamp,
)
from satusehat_async.kfa.pager import KfaCrawlStats, ProductPages, ProductStream
from satusehat_async.kfa.query import (
    IDENTIFIERS,
    MAX_PAGE_SIZE,
    PRODUCT_TYPES,
    REGION_CODES,
    ProductQuery,
)
from satusehat_async.kfa.source import ProductPageSource, product_key

__all__ = [
    "CSV_COLUMNS",
    "IDENTIFIERS",
    "KFA",
    "MAX_PAGE_SIZE",
    "PRICE_PATH",
    "PRODUCTS_PATH",
    "PRODUCT_PATH",
    "PRODUCT_TYPES",
    "REGION_CODES",
    "ActiveIngredient",
    "Atc",
    "Coded",
    "FarmalkesType",
    "IdentifierId",
    "JknPrice",
    "JknPricePage",
    "KfaCrawlStats",
    "Named",
    "Packaging",
    "PriceProvince",
    "Product",
    "ProductDetail",
    "ProductExportSource",
    "ProductPage",
    "ProductPageSource",
    "ProductPages",
    "ProductQuery",
    "ProductRow",
    "ProductStream",
    "ProductTemplate",
    "Replacement",
    "ReplacementRef",
    "Ucum",
    "parse_timestamp",
    "product_key",
    "product_row",
]
