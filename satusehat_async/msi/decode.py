"""Decoding of MSI pages: one cached decoder on the fast path, record repair on the slow one.

A page whose every record fits the Structs is decoded in one ``msgspec`` call. A page
with a record that does not fit (a number where a code belongs, ``"true"`` for a flag,
text where an object belongs...) is decoded generically and each such record is repaired
field by field with the normalisers of :mod:`~satusehat_async.msi.models`: a value that
cannot be made to fit becomes ``None`` rather than losing the record or the page. Only a
body that is not a JSON object at all is an error.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from satusehat_async.errors import APIError, error_from_response
from satusehat_async.msi.models import (
    Facility,
    FacilityPage,
    normalise_coordinates,
    to_code,
    to_coordinate,
    to_count,
    to_flag,
)

__all__ = ["decode_page", "repair"]

logger = logging.getLogger("satusehat_async.msi")

# Lax mode: numeric strings become numbers and "true"/"false" bools, in C.
_PAGE_DECODER = msgspec.json.Decoder(FacilityPage, strict=False)
_ANY_DECODER = msgspec.json.Decoder()

_S = TypeVar("_S", bound=msgspec.Struct)


def _coerce(annotation: Any, value: Any) -> Any:
    """The closest fitting value for one field whose wire value did not fit, else None."""
    options = typing.get_args(annotation) or (annotation,)
    for option in options:
        if isinstance(option, type) and issubclass(option, msgspec.Struct):
            return repair(option, value) if isinstance(value, Mapping) else None
    if str in options:
        return to_code(value) if isinstance(value, (int, float)) else None
    if bool in options:
        return to_flag(value)
    if float in options:
        return to_coordinate(value)
    if int in options:
        return to_count(value)
    return None


def repair(cls: type[_S], record: Mapping[str, Any]) -> _S:
    """Convert a decoded JSON object to ``cls``, replacing each field that does not fit.

    A field is kept when it converts on its own, coerced when a simple rule applies (a
    number where text belongs becomes its text; a nested object is repaired in turn) and
    dropped to ``None`` otherwise.
    """
    try:
        return msgspec.convert(record, cls, strict=False)
    except msgspec.ValidationError:
        pass
    clean: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        if field.encode_name not in record:
            continue
        value = record[field.encode_name]
        try:
            msgspec.convert({field.encode_name: value}, cls, strict=False)
        except msgspec.ValidationError:
            value = _coerce(field.type, value)
        clean[field.encode_name] = value
    return msgspec.convert(clean, cls, strict=False)


def _slow_decode(body: bytes, url: str) -> tuple[FacilityPage, int]:
    try:
        raw = _ANY_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise APIError(f"MSI answered with invalid JSON: {exc}", status=200, url=url) from exc
    except RecursionError:  # JSON nested thousands deep: no facility page looks like that
        raise APIError("MSI answered with JSON nested too deep", status=200, url=url) from None
    if not isinstance(raw, dict):
        raise APIError("MSI answered with JSON that is not an object", status=200, url=url)
    records = raw.pop("data", None)
    page = repair(FacilityPage, raw)
    if not isinstance(records, list):
        return page, 0
    facilities: list[Facility] = []
    repaired = dropped = 0
    for record in records:
        if not isinstance(record, Mapping):
            dropped += 1  # not a facility at all (null, a number...)
            continue
        try:
            facilities.append(msgspec.convert(record, Facility, strict=False))
        except msgspec.ValidationError:
            facilities.append(repair(Facility, record))
            repaired += 1
    page.data = facilities
    if not repaired and not dropped:  # only the envelope was repaired
        return page, 0
    logger.warning(
        "MSI page %s: repaired %d record(s) that did not fit, dropped %d non-object(s)",
        page.page,
        repaired,
        dropped,
    )
    return page, repaired + dropped


def decode_page(
    body: bytes, *, headers: Mapping[str, str] | None = None, url: str = ""
) -> tuple[FacilityPage, int]:
    """Decode one MSI answer into a :class:`FacilityPage` and the count of repaired records.

    Whatever JSON value any field holds, a record is repaired rather than lost (see
    :func:`repair`); raises :class:`~satusehat_async.errors.APIError` when the body is not
    a JSON object (or not JSON msgspec reads: nested too deep, numbers beyond range), and
    the matching error class when a 2xx answer carries an error envelope
    (``{"status_code": 400, "message": ..., "data": null}``).
    """
    try:
        page, repaired = _PAGE_DECODER.decode(body), 0
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        page, repaired = _slow_decode(body, url)
    if page.data:
        normalise_coordinates(page.data)
    if page.status_code is not None and page.status_code >= 400 and not page.data:
        raise error_from_response(page.status_code, headers or {}, body, method="GET", url=url)
    return page, repaired
