"""Decoding of KFA answers: one cached decoder on the fast path, record repair on the slow one.

An answer whose every record fits the Structs is decoded in one ``msgspec`` call (lax
mode: numeric strings become numbers, ``"true"`` a bool). An answer with a record that
does not fit (an object where text belongs, text where a list belongs...) is decoded
generically and each such record is repaired field by field: a value that cannot be
made to fit becomes ``None``, so no product and no page is lost. Only a body that is not
a JSON object is an error.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from satusehat_async.errors import APIError
from satusehat_async.kfa.models import JknPrice, JknPricePage, Product, ProductDetail, ProductPage

__all__ = ["decode_detail", "decode_price_page", "decode_product_page", "repair"]

logger = logging.getLogger("satusehat_async.kfa")

_S = TypeVar("_S", bound=msgspec.Struct)
_ANY = msgspec.json.Decoder()
_PAGE = msgspec.json.Decoder(ProductPage, strict=False)
_DETAIL = msgspec.json.Decoder(ProductDetail, strict=False)
_PRICES = msgspec.json.Decoder(JknPricePage, strict=False)


def _coerce(annotation: Any, value: Any) -> Any:
    """The closest fitting value for one field whose wire value did not fit, else None."""
    options = typing.get_args(annotation) or (annotation,)
    for option in options:
        if isinstance(option, type) and issubclass(option, msgspec.Struct):
            return repair(option, value) if isinstance(value, Mapping) else None
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option) or (Any,)
            if isinstance(item, type) and issubclass(item, msgspec.Struct):
                return [repair(item, v) for v in value if isinstance(v, Mapping)]
    if str in options and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def repair(cls: type[_S], record: Mapping[str, Any]) -> _S:
    """Convert a decoded JSON object to ``cls``, replacing each field that does not fit.

    A field is kept when it converts on its own, coerced when a simple rule applies (a
    number where text belongs becomes its text; nested objects and lists of them are
    repaired in turn) and dropped to ``None`` otherwise.
    """
    try:
        return msgspec.convert(record, cls, strict=False)
    except msgspec.ValidationError:
        pass
    hints = typing.get_type_hints(cls)
    clean: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        if field.encode_name not in record:
            continue
        value = record[field.encode_name]
        try:
            msgspec.convert({field.encode_name: value}, cls, strict=False)
        except msgspec.ValidationError:
            value = _coerce(hints[field.name], value)
        clean[field.encode_name] = value
    return msgspec.convert(clean, cls, strict=False)


def _object(body: bytes, what: str, url: str) -> dict[str, Any]:
    try:
        raw = _ANY.decode(body)
    except msgspec.DecodeError as exc:
        raise APIError(f"KFA {what} is not valid JSON: {exc}", status=200, url=url) from exc
    except RecursionError:
        raise APIError(f"KFA {what} is JSON nested too deep", status=200, url=url) from None
    if not isinstance(raw, dict):
        raise APIError(f"KFA {what} is JSON that is not an object", status=200, url=url)
    return raw


def _products(records: object, where: str) -> tuple[list[Product], int]:
    """Each record as a Product (repaired if need be); non-objects are dropped."""
    if not isinstance(records, list):
        return [], 0
    products: list[Product] = []
    repaired = dropped = 0
    for record in records:
        if not isinstance(record, Mapping):
            dropped += 1
            continue
        try:
            products.append(msgspec.convert(record, Product, strict=False))
        except msgspec.ValidationError:
            products.append(repair(Product, record))
            repaired += 1
    if repaired or dropped:
        logger.warning(
            "KFA %s: repaired %d product(s) that did not fit, dropped %d non-object(s)",
            where,
            repaired,
            dropped,
        )
    return products, repaired + dropped


def decode_product_page(body: bytes, *, url: str = "") -> tuple[ProductPage, int]:
    """One ``/kfa-v2/products/all`` answer and the count of repaired (or dropped) records."""
    try:
        return _PAGE.decode(body), 0
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass
    raw = _object(body, "product page", url)
    items = raw.pop("items", None)
    page = repair(ProductPage, raw)
    records = items.get("data") if isinstance(items, Mapping) else items  # tolerate a list
    products, repaired = _products(records, f"page {page.page}")
    page.data = products
    return page, repaired


def decode_detail(body: bytes, *, url: str = "") -> Product | None:
    """One ``/kfa-v2/products`` answer: the product, or None for an empty or absent
    ``result`` (how the API is taken to say "not found")."""
    try:
        detail = _DETAIL.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        raw = _object(body, "product answer", url)
        result = raw.get("result")
        if not isinstance(result, Mapping):
            return None
        detail = ProductDetail(result=repair(Product, result))
    product = detail.result
    if product is None or product == _EMPTY:
        return None
    return product


_EMPTY = Product()


def decode_price_page(body: bytes, *, url: str = "") -> JknPricePage:
    """One ``/kfa/farmalkes-price-jkn`` answer (rows that do not fit are repaired)."""
    try:
        return _PRICES.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass
    raw = _object(body, "price page", url)
    items = raw.pop("items", None)
    page = repair(JknPricePage, raw)
    records = items.get("data") if isinstance(items, Mapping) else items
    rows = [
        repair(JknPrice, record)
        for record in (records if isinstance(records, list) else [])
        if isinstance(record, Mapping)
    ]
    page.data = rows
    return page
