"""Typed KFA records, decoded leniently where the API's types are loose.

The KFA answers plain JSON (not FHIR) with a few documented type quirks
(``reference/satusehat-clinical.md`` §6): ``dosage_form`` is ``{"code": false, "name":
false}`` on devices, ``atc_l1.parent_code`` is ``false`` at the top of the tree, ``level``
is a string, prices are floats (whole numbers arrive as ints), and timestamps are naive
``"YYYY-MM-DD HH:MM:SS"`` text with no zone, kept as text here (see :func:`parse_timestamp`).
So every field defaults to ``None``, the places known to hold a boolean instead of text
are typed ``str | bool | None``, unknown fields are ignored, and a record that still does
not fit is repaired field by field (:mod:`satusehat_async.kfa.decode`) rather than lost.

One :class:`Product` serves both the v2 detail (``/kfa-v2/products``) and the list items
(``/kfa-v2/products/all``, which carry a subset of the detail's fields). The Structs are
``kw_only`` and ``omit_defaults`` (encoding one back gives only what the server sent, or
was set) and ``gc=False``: decoded records never form reference cycles, so the collector
need not track the many small objects a catalogue crawl makes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

__all__ = [
    "ActiveIngredient",
    "Atc",
    "Coded",
    "FarmalkesType",
    "IdentifierId",
    "JknPrice",
    "JknPricePage",
    "Named",
    "Packaging",
    "PriceProvince",
    "Product",
    "ProductDetail",
    "ProductPage",
    "ProductTemplate",
    "Replacement",
    "ReplacementRef",
    "Ucum",
    "parse_timestamp",
]

Loose = str | bool | None
"""Text where the API may put ``false`` instead (``dosage_form``, ``parent_code``)."""


class _Record(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Common base: keyword-only, defaults omitted on encoding, no GC tracking."""


class Named(_Record):
    """An object holding only a name (``uom``, ``atc_ddd``)."""

    name: str | None = None


class Coded(_Record):
    """A code and its name; either may be ``false`` (``dosage_form`` of a device)."""

    code: Loose = None
    name: Loose = None


class FarmalkesType(_Record):
    """The product type: ``code`` (``medicine``, ``vaccine``, ``device``...), ``name``
    (``Obat``, ``Alat Kesehatan``...) and ``group`` (``farmasi`` or ``alkes``)."""

    code: str | None = None
    name: str | None = None
    group: str | None = None


class Ucum(_Record):
    """The UCUM unit of the strength (``cs_code`` ``"mg"``)."""

    cs_code: str | None = None
    ci_code: str | None = None
    name: str | None = None


class Atc(_Record):
    """One level of the ATC classification. ``level`` is text (``"1"``..``"5"``);
    ``parent_code`` is ``false`` at level 1."""

    name: str | None = None
    code: str | None = None
    level: str | None = None
    parent_code: Loose = None
    comment: str | None = None


class IdentifierId(_Record):
    """One of the product's codes in another system (NIE BPOM, LKPP, KFA itself)."""

    name: str | None = None
    code: str | None = None
    source_name: str | None = None
    url: str | None = None


class Packaging(_Record):
    """A packaging of the product (KFA code ``94…``/``84…``) and its price."""

    name: str | None = None
    kfa_code: str | None = None
    pack_price: float | None = None
    uom_id: str | None = None
    qty: float | None = None


class ProductTemplate(_Record):
    """The product's template (KFA code ``92…`` for farmasi, ``82…`` for alkes)."""

    kfa_code: str | None = None
    name: str | None = None
    state: str | None = None
    active: bool | None = None
    display_name: str | None = None
    updated_at: str | None = None


class ActiveIngredient(_Record):
    """An active ingredient (KFA code ``91…``) and its strength."""

    kfa_code: str | None = None
    active: bool | None = None
    state: str | None = None
    zat_aktif: str | None = None
    kekuatan_zat_aktif: str | None = None
    updated_at: str | None = None


class ReplacementRef(_Record):
    """What replaces a withdrawn product or template."""

    kfa_code: str | None = None
    name: str | None = None
    reason: str | None = None


class Replacement(_Record):
    """The replacement of the product and of its template (both usually null)."""

    product: ReplacementRef | None = None
    template: ReplacementRef | None = None


class Product(_Record):
    """One KFA product (a variant): the v2 detail's fields, all optional.

    ``kfa_code`` is ``"/"`` for devices without a variant code: use
    :func:`~satusehat_async.kfa.product_key` for a product's identity.
    """

    name: str | None = None
    kfa_code: str | None = None
    active: bool | None = None
    state: str | None = None
    image: str | None = None
    updated_at: str | None = None
    farmalkes_type: FarmalkesType | None = None
    ucum: Ucum | None = None
    dosage_form: Coded | None = None
    controlled_drug: Coded | None = None
    rute_pemberian: Coded | None = None
    uom: Named | None = None
    produksi_buatan: str | None = None
    nie: str | None = None
    nama_dagang: str | None = None
    manufacturer: str | None = None
    registrar: str | None = None
    generik: bool | None = None
    rxterm: str | None = None
    dose_per_unit: float | None = None
    fix_price: float | None = None
    het_price: float | None = None
    farmalkes_hscode: str | None = None
    tayang_lkpp: bool | None = None
    kode_lkpp: str | None = None
    score_tkdn: float | None = None
    score_bmp: float | None = None
    score_tkdn_bmp: float | None = None
    med_dev_jenis: str | None = None
    med_dev_subkategori: str | None = None
    med_dev_kategori: str | None = None
    med_dev_kelas_risiko: str | None = None
    klasifikasi_izin: str | None = None
    net_weight: float | None = None
    net_weight_uom_name: str | None = None
    volume: float | None = None
    volume_uom_name: str | None = None
    atc_ddd: Named | None = None
    atc_l1: Atc | None = None
    atc_l2: Atc | None = None
    atc_l3: Atc | None = None
    atc_l4: Atc | None = None
    atc_l5: Atc | None = None
    description: str | None = None
    indication: str | None = None
    warning: str | None = None
    side_effect: str | None = None
    identifier_ids: list[IdentifierId] | None = None
    packaging_ids: list[Packaging] | None = None
    product_template: ProductTemplate | None = None
    active_ingredients: list[ActiveIngredient] | None = None
    dosage_usage: list[Any] | None = None
    cvx_info: dict[str, Any] | None = None
    replacement: Replacement | None = None
    tags: list[Any] | None = None

    @property
    def product_type(self) -> str | None:
        """``"farmasi"`` or ``"alkes"`` (``farmalkes_type.group``), if the record says."""
        return self.farmalkes_type.group if self.farmalkes_type is not None else None


class ProductDetail(_Record):
    """The answer of ``/kfa-v2/products``: the search echoed and the product (``result``)."""

    search_code: str | None = None
    search_identifier: str | None = None
    result: Product | None = None


class _ProductItems(_Record):
    data: list[Product] | None = None


class ProductPage(_Record):
    """One page of ``/kfa-v2/products/all``: ``total`` is the item count of the whole list.

    ``product_type`` and ``page`` are set by the client (the page asked for), whatever the
    answer echoed.
    """

    total: int | None = None
    page: int | None = None
    size: int | None = None
    items: _ProductItems | None = None
    product_type: str | None = None

    @property
    def data(self) -> list[Product]:
        """The page's products (an empty list for none)."""
        items = self.items
        return (items.data or []) if items is not None else []

    @data.setter
    def data(self, products: list[Product]) -> None:
        if self.items is None:
            self.items = _ProductItems()
        self.items.data = products


class PriceProvince(_Record):
    """A province a JKN price region covers."""

    province_code: str | None = None
    province_name: str | None = None


class JknPrice(_Record):
    """One JKN (national health insurance) price of a product in one region and period."""

    product_template_name: str | None = None
    kfa_code: str | None = None
    document_ref: str | None = None
    active: bool | None = None
    region_name: str | None = None
    region_code: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    price_unit: float | None = None
    uom_name: str | None = None
    updated_at: str | None = None
    uom_pack: list[str] | None = None
    province: list[PriceProvince] | None = None


class _PriceItems(_Record):
    data: list[JknPrice] | None = None


class JknPricePage(_Record):
    """One page of ``/kfa/farmalkes-price-jkn`` (``items`` is an object holding ``data``)."""

    total: int | None = None
    page: int | None = None
    limit: int | None = None
    items: _PriceItems | None = None

    @property
    def data(self) -> list[JknPrice]:
        """The page's price rows (an empty list for none)."""
        items = self.items
        return (items.data or []) if items is not None else []

    @data.setter
    def data(self, rows: list[JknPrice]) -> None:
        if self.items is None:
            self.items = _PriceItems()
        self.items.data = rows


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """A KFA timestamp (``"2023-09-21 07:17:24"``, naive, no zone) as a naive datetime.

    Lenient: a date alone, a ``T`` separator or fractions are read too; None for None or
    text that is no timestamp. The zone is not documented (WIB is likely): it stays naive.
    """
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed
