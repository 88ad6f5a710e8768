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
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from satusehat_async.errors import APIError, ValidationError, error_from_response
from satusehat_async.msi.models import (
    Facility,
    FacilityPage,
    FacilityT,
    normalise_coordinates,
    to_code,
    to_coordinate,
    to_count,
    to_flag,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["PageDecoder", "decode_page", "page_decoder", "repair", "validate_model"]

logger = logging.getLogger("satusehat_async.msi")

_ANY_DECODER = msgspec.json.Decoder()

_S = TypeVar("_S", bound=msgspec.Struct)

#: The field every facility model must hold: the registry's identity of a facility.
IDENTITY = "kode_satusehat"


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


def _slow_decode(
    body: bytes, url: str, page_type: Any, model: type[FacilityT]
) -> tuple[FacilityPage[FacilityT], int]:
    try:
        raw = _ANY_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise APIError(f"MSI answered with invalid JSON: {exc}", status=200, url=url) from exc
    except RecursionError:  # JSON nested thousands deep: no facility page looks like that
        raise APIError("MSI answered with JSON nested too deep", status=200, url=url) from None
    if not isinstance(raw, dict):
        raise APIError("MSI answered with JSON that is not an object", status=200, url=url)
    records = raw.pop("data", None)
    page: FacilityPage[FacilityT] = repair(page_type, raw)
    if not isinstance(records, list):
        return page, 0
    facilities: list[FacilityT] = []
    repaired = dropped = 0
    for record in records:
        if not isinstance(record, Mapping):
            dropped += 1  # not a facility at all (null, a number...)
            continue
        try:
            facilities.append(msgspec.convert(record, model, strict=False))
        except msgspec.ValidationError:
            facilities.append(repair(model, record))
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


class PageDecoder(Generic[FacilityT]):
    """Decodes MSI answers into pages of ``model`` rows (:func:`page_decoder` caches one).

    Attributes:
        model: the row Struct (:class:`Facility`, or a caller's projection of it).
        key: reads a row's ``kode_satusehat`` (the identity the crawl dedupes by).
    """

    __slots__ = ("_coordinates", "_decoder", "_page_type", "key", "model")

    def __init__(self, model: type[FacilityT]) -> None:
        self.model = model
        self._page_type: Any = FacilityPage[model]  # type: ignore[valid-type]
        # Lax mode: numeric strings become numbers and "true"/"false" bools, in C.
        self._decoder: msgspec.json.Decoder[FacilityPage[FacilityT]] = msgspec.json.Decoder(
            self._page_type, strict=False
        )
        self.key: Callable[[FacilityT], str | None] = attrgetter(_identity_field(model))
        self._coordinates = _has_coordinates(model)

    def decode(
        self, body: bytes, *, headers: Mapping[str, str] | None = None, url: str = ""
    ) -> tuple[FacilityPage[FacilityT], int]:
        """The page in ``body`` and the count of repaired records (see :func:`decode_page`)."""
        try:
            page, repaired = self._decoder.decode(body), 0
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            page, repaired = _slow_decode(body, url, self._page_type, self.model)
        if page.data and self._coordinates:
            normalise_coordinates(page.data)
        if page.status_code is not None and page.status_code >= 400 and not page.data:
            raise error_from_response(page.status_code, headers or {}, body, method="GET", url=url)
        return page, repaired

    def keys(self, rows: Sequence[FacilityT]) -> list[str | None]:
        """The rows' ``kode_satusehat`` codes, in order."""
        return list(map(self.key, rows))


_DECODERS: dict[type[Any], PageDecoder[Any]] = {}
_MAX_DECODERS = 256  # models are classes, normally a handful; a bound all the same


def page_decoder(model: type[FacilityT] | None = None) -> PageDecoder[FacilityT]:
    """The cached :class:`PageDecoder` for ``model`` (None: :class:`Facility`).

    Raises:
        ValidationError: ``model`` cannot hold MSI rows (see :func:`validate_model`).
    """
    cls: type[Any] = Facility if model is None else model
    decoder = _DECODERS.get(cls)
    if decoder is None:
        validate_model(cls)
        if len(_DECODERS) >= _MAX_DECODERS:
            _DECODERS.clear()
        decoder = _DECODERS[cls] = PageDecoder(cls)
    return decoder


def decode_page(
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    model: type[FacilityT] | None = None,
) -> tuple[FacilityPage[FacilityT], int]:
    """Decode one MSI answer into a :class:`FacilityPage` and the count of repaired records.

    Rows are ``model`` Structs (default :class:`Facility`). Whatever JSON value any field
    holds, a record is repaired rather than lost (see :func:`repair`); raises
    :class:`~satusehat_async.errors.APIError` when the body is not a JSON object (or not
    JSON msgspec reads: nested too deep, numbers beyond range), and the matching error
    class when a 2xx answer carries an error envelope
    (``{"status_code": 400, "message": ..., "data": null}``).
    """
    decoder: PageDecoder[FacilityT] = page_decoder(model)
    return decoder.decode(body, headers=headers, url=url)


# -- projections: a caller's Struct instead of Facility -------------------------------------


def _identity_field(model: type[msgspec.Struct]) -> str:
    """The attribute holding ``kode_satusehat`` (its wire name; the attribute may differ)."""
    for field in msgspec.structs.fields(model):
        if field.encode_name == IDENTITY:
            return field.name
    raise ValidationError(f"a facility model must have a {IDENTITY} field")


def _optional(annotation: Any, kind: type) -> bool:
    """Is ``annotation`` exactly ``kind | None`` (``Optional[kind]`` too)?"""
    return set(typing.get_args(annotation)) == {kind, type(None)}


def _has_coordinates(model: type[msgspec.Struct]) -> bool:
    """Does ``model`` carry Facility's float coordinates (then they are normalised)?"""
    types = {f.name: f.type for f in msgspec.structs.fields(model)}
    return _optional(types.get("latitude"), float) and _optional(types.get("longitude"), float)


def validate_model(model: object) -> None:
    """Check that ``model`` can hold MSI rows, before anything is sent.

    A model is a :class:`msgspec.Struct` (not ``array_like``: the wire holds objects) with
    a ``kode_satusehat`` field of type ``str | None`` (the identity each crawl dedupes and
    resumes by), and a default for every field, nested Structs' included: the registry
    may leave any field out or null, and a record is repaired rather than dropped.

    Raises:
        ValidationError: what is wrong with it.
    """
    if not (isinstance(model, type) and issubclass(model, msgspec.Struct)):
        raise ValidationError(f"model must be a msgspec.Struct class, got {model!r}")
    identity = [f for f in msgspec.structs.fields(model) if f.encode_name == IDENTITY]
    if not identity or not _optional(identity[0].type, str):
        raise ValidationError(
            f"model {model.__name__} must have a field {IDENTITY}: str | None "
            "(the identity each crawl deduplicates and resumes by)"
        )
    _check_struct(model, model.__name__, set())


def _check_struct(model: type[msgspec.Struct], path: str, checked: set[type[Any]]) -> None:
    checked.add(model)
    if model.__struct_config__.array_like:
        raise ValidationError(f"{path} ({model.__name__}) is array_like: MSI rows are objects")
    for field in msgspec.structs.fields(model):
        if field.required:
            raise ValidationError(
                f"{path}.{field.name} needs a default (e.g. None): the registry may leave "
                "any field out"
            )
        options = typing.get_args(field.type) or (field.type,)
        for nested in options:
            if (
                isinstance(nested, type)
                and issubclass(nested, msgspec.Struct)
                and nested not in checked
            ):
                _check_struct(nested, f"{path}.{field.name}", checked)
