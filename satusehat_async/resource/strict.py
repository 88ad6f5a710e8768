"""Strict decoding of resources from dicts and JSON: every key must be an element.

msgspec ignores unknown keys when decoding a struct, so ``{"birth_date": ...}`` or
``{"serviceprovider": ...}`` would be sent without that element; here such a key is
refused before anything is sent, naming its path and, where one is close, the element
meant (``did you mean serviceProvider?``). For any resource class; its ``contained``
resources are checked against their own types too, unless the caller keeps them raw
(``check_contained=False``: the Patient's rule, :mod:`satusehat_async.patients.strict`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks
from satusehat_async.resource.kinds import resource_class, resource_type_of

__all__ = ["resource_from_json", "to_resource", "unknown_elements"]

R = TypeVar("R")

# Decimals a caller put in a plain dict keep their digits (msgspec's default is a string).
_mapping_encoder = msgspec.json.Encoder(decimal_format="number")
_any_decoder = msgspec.json.Decoder()
_MAX_LISTED = 10
_MAX_DEPTH = 64  # deeper than any FHIR element path


_infos: dict[type[Any], mi.StructType] = {}
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _type_info(cls: type[Any]) -> mi.StructType:
    info = _infos.get(cls)
    if info is None:
        found = mi.type_info(cls)
        assert isinstance(found, mi.StructType)
        info = _infos[cls] = found
    return info


def _decoder(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    return decoder


_fields_by_struct: dict[type, dict[str, mi.Type]] = {}


def _fields(kind: mi.StructType) -> dict[str, mi.Type]:
    fields = _fields_by_struct.get(kind.cls)
    if fields is None:
        fields = {field.encode_name: field.type for field in kind.fields}
        _fields_by_struct[kind.cls] = fields
    return fields


def _suggestion(key: str, known: Mapping[str, mi.Type]) -> str:
    folded = key.replace("_", "").casefold()
    primitive_ext = key.startswith("_")
    for name in known:
        if name.startswith("_") != primitive_ext:
            continue
        if name.replace("_", "").casefold() == folded.replace("_", ""):
            return f" (did you mean {name}?)"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""


def _contained(value: Any, path: str, found: list[str], depth: int) -> None:
    """A ``contained`` resource (kept raw by the models): check it against its own type."""
    kind = value.get("resourceType") if isinstance(value, dict) else None
    if not isinstance(kind, str):
        return
    try:
        cls = resource_class(kind)
    except ValidationError:
        found.append(f"{path}.resourceType (unknown resource type)")
        return
    _walk(value, _type_info(cls), path, found, depth + 1)


def _walk(
    value: Any, kind: mi.Type, path: str, found: list[str], depth: int = 0, contained: bool = True
) -> None:
    """Append to ``found`` the path of every key of ``value`` that ``kind`` does not declare.

    ``contained``: check ``contained`` resources against their own types (else kept raw).
    """
    if depth > _MAX_DEPTH:
        raise ValidationError(f"not a valid FHIR resource: nested too deeply at {path}")
    if isinstance(kind, mi.UnionType):
        for option in kind.types:
            if (isinstance(value, dict) and isinstance(option, (mi.StructType, mi.RawType))) or (
                isinstance(value, list) and isinstance(option, mi.ListType)
            ):
                _walk(value, option, path, found, depth, contained)
                return
    elif isinstance(kind, mi.StructType) and isinstance(value, dict):
        known = _fields(kind)
        for key, item in value.items():
            if key == kind.tag_field:
                continue
            element = known.get(key)
            if element is None:
                found.append(f"{path}.{key}{_suggestion(str(key), known)}")
            else:
                _walk(item, element, f"{path}.{key}", found, depth + 1, contained)
    elif isinstance(kind, mi.ListType) and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, kind.item_type, f"{path}[{index}]", found, depth + 1, contained)
    elif (
        contained
        and isinstance(kind, mi.RawType)
        and path.rsplit(".", 1)[-1].startswith("contained[")
    ):
        _contained(value, path, found, depth)


def unknown_elements(
    cls: type[Any], plain: Mapping[str, Any], *, check_contained: bool = True
) -> list[str]:
    """The paths (``$.name[0].text_``) of keys in ``plain`` that are not elements of ``cls``.

    ``check_contained=False`` keeps ``contained`` resources raw (not checked).
    """
    found: list[str] = []
    _walk(dict(plain), _type_info(cls), "$", found, contained=check_contained)
    return found


def _shown_kind(kind: object) -> str:
    # a resourceType that is not a short string may be anything (a NIK in the wrong field)
    if isinstance(kind, str) and len(kind) <= 40:
        return redact_niks(repr(kind))
    return type(kind).__name__


def _check_plain(cls: type[Any], plain: Any, check_contained: bool) -> None:
    wanted = resource_type_of(cls)
    if not isinstance(plain, dict):
        raise ValidationError(f"expected a FHIR {wanted} object, not {type(plain).__name__}")
    kind = plain.get("resourceType", wanted)
    if kind != wanted:
        raise ValidationError(f"expected resourceType {wanted!r}, got {_shown_kind(kind)}")
    found = unknown_elements(cls, plain, check_contained=check_contained)
    if found:
        listed = ", ".join(found[:_MAX_LISTED])
        if len(found) > _MAX_LISTED:
            listed += f" and {len(found) - _MAX_LISTED} more"
        raise ValidationError(
            redact_niks(
                f"unknown {wanted} element(s): {listed}; FHIR JSON names are camelCase "
                "(serviceProvider, birthDate) and nothing was sent"
            )
        )


def to_resource(cls: type[R], value: R | Mapping[str, Any], *, check_contained: bool = True) -> R:
    """An instance of ``cls`` from an instance or a FHIR dict (:class:`ValidationError`).

    A dict is decoded strictly: a key that is not an element of the resource (or of the
    datatype it sits in) is refused, naming it, rather than silently dropped;
    ``check_contained=False`` keeps its ``contained`` resources raw.
    """
    if isinstance(value, cls):
        return value
    wanted = resource_type_of(cls)
    if isinstance(value, msgspec.Struct):
        other = getattr(type(value), "__struct_config__", None)
        shown = getattr(other, "tag", None) or type(value).__name__
        raise ValidationError(f"expected a {wanted}, got a {shown}")
    if not isinstance(value, Mapping):
        raise ValidationError(f"expected a {wanted} or a FHIR dict, not {type(value).__name__}")
    try:
        raw = _mapping_encoder.encode(value)
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"not a valid FHIR {wanted}: {redact_niks(str(exc))}") from exc
    except RecursionError:
        raise ValidationError(f"not a valid FHIR {wanted}: nested too deeply") from None
    return resource_from_json(cls, raw, check_contained=check_contained)


def resource_from_json(cls: type[R], data: bytes, *, check_contained: bool = True) -> R:
    """An instance of ``cls`` from FHIR JSON, decoded strictly (:class:`ValidationError`).

    Unknown keys are refused as by :func:`to_resource`; decimals keep their digits.
    """
    wanted = resource_type_of(cls)
    try:
        try:
            plain = _any_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise ValidationError(f"not JSON: {exc}") from exc
        _check_plain(cls, plain, check_contained)
        decoded: R = _decoder(cls).decode(data)
        return decoded
    except msgspec.DecodeError as exc:  # a msgspec.ValidationError: an element's type
        raise ValidationError(f"not a valid FHIR {wanted}: {redact_niks(str(exc))}") from exc
    except RecursionError:
        raise ValidationError(f"not a valid FHIR {wanted}: nested too deeply") from None
