"""A product as one flat row: the columns of a CSV export of the catalogue.

Nested objects become prefixed columns (``template_code``), lists are joined with
``"; "`` (``packaging_codes``), and the API's ``false`` placeholders (``dosage_form`` of
a device) become empty cells. ``key`` is :func:`~satusehat_async.kfa.product_key`.
"""

from __future__ import annotations

from satusehat_async.kfa.models import Atc, Coded, Product
from satusehat_async.kfa.source import product_key

__all__ = ["CSV_COLUMNS", "Cell", "product_row"]

Cell = str | float | bool | None

#: The columns of :func:`product_row`, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "key",
    "kfa_code",
    "name",
    "product_type",
    "farmalkes_type",
    "active",
    "state",
    "updated_at",
    "nie",
    "kode_lkpp",
    "nama_dagang",
    "manufacturer",
    "registrar",
    "produksi_buatan",
    "generik",
    "rxterm",
    "dosage_form_code",
    "dosage_form_name",
    "controlled_drug",
    "rute_pemberian",
    "uom",
    "fix_price",
    "het_price",
    "tayang_lkpp",
    "template_code",
    "template_name",
    "packaging_codes",
    "active_ingredients",
    "atc_code",
)

_SEPARATOR = "; "


def _text(value: str | bool | None) -> str | None:
    """Text, or None for the API's ``false`` placeholder."""
    return value if isinstance(value, str) else None


def _coded(value: Coded | None) -> tuple[str | None, str | None]:
    return (None, None) if value is None else (_text(value.code), _text(value.name))


def _atc(product: Product) -> str | None:
    """The code of the deepest ATC level the product carries."""
    levels: tuple[Atc | None, ...] = (
        product.atc_l5,
        product.atc_l4,
        product.atc_l3,
        product.atc_l2,
        product.atc_l1,
    )
    for level in levels:
        if level is not None and level.code:
            return level.code
    return None


def _joined(parts: list[str | None]) -> str | None:
    kept = [part for part in parts if part]
    return _SEPARATOR.join(kept) if kept else None


def product_row(product: Product) -> dict[str, Cell]:
    """``product`` as a flat dict keyed by :data:`CSV_COLUMNS` (None for empty cells)."""
    kind, template = product.farmalkes_type, product.product_template
    form_code, form_name = _coded(product.dosage_form)
    ingredients = [
        " ".join(p for p in (i.zat_aktif, i.kekuatan_zat_aktif) if p)
        for i in product.active_ingredients or []
    ]
    return {
        "key": product_key(product),
        "kfa_code": product.kfa_code,
        "name": product.name,
        "product_type": kind.group if kind is not None else None,
        "farmalkes_type": kind.code if kind is not None else None,
        "active": product.active,
        "state": product.state,
        "updated_at": product.updated_at,
        "nie": product.nie,
        "kode_lkpp": product.kode_lkpp,
        "nama_dagang": product.nama_dagang,
        "manufacturer": product.manufacturer,
        "registrar": product.registrar,
        "produksi_buatan": product.produksi_buatan,
        "generik": product.generik,
        "rxterm": product.rxterm,
        "dosage_form_code": form_code,
        "dosage_form_name": form_name,
        "controlled_drug": _coded(product.controlled_drug)[1],
        "rute_pemberian": _coded(product.rute_pemberian)[1],
        "uom": product.uom.name if product.uom is not None else None,
        "fix_price": product.fix_price,
        "het_price": product.het_price,
        "tayang_lkpp": product.tayang_lkpp,
        "template_code": template.kfa_code if template is not None else None,
        "template_name": template.name if template is not None else None,
        "packaging_codes": _joined([p.kfa_code for p in product.packaging_ids or []]),
        "active_ingredients": _joined(list(ingredients)),
        "atc_code": _atc(product),
    }
