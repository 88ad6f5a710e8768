"""Strict decoding of Patients from dicts and JSON: every key must be a FHIR element.

msgspec ignores unknown keys when decoding a struct, so ``{"birth_date": ...}`` would be
sent without a birth date; here such a key is refused, naming it (with a suggestion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.inspect as mi

from satusehat_async.errors import ValidationError
from satusehat_async.patients.identifiers import redact_niks
from satusehat_async.patients.models import Patient

__all__ = ["patient_from_json", "to_patient"]

# Decimals a caller put in a plain dict keep their digits (msgspec's default is a string).
_mapping_encoder = msgspec.json.Encoder(decimal_format="number")
_patient_decoder = msgspec.json.Decoder(Patient)
_any_decoder = msgspec.json.Decoder()
_MAX_LISTED = 10

# -- strict decoding of dicts: every key must be a FHIR element of the Patient ---------------

_fields_by_struct: dict[type, dict[str, mi.Type]] = {}
_patient_info: list[mi.StructType] = []


def _patient_type() -> mi.StructType:
    if not _patient_info:
        info = mi.type_info(Patient)
        assert isinstance(info, mi.StructType)
        _patient_info.append(info)
    return _patient_info[0]


def _fields(kind: mi.StructType) -> dict[str, mi.Type]:
    fields = _fields_by_struct.get(kind.cls)
    if fields is None:
        fields = {field.encode_name: field.type for field in kind.fields}
        _fields_by_struct[kind.cls] = fields
    return fields


def _suggestion(key: str, known: Mapping[str, mi.Type]) -> str:
    folded = key.replace("_", "").casefold()
    for name in known:
        if name.startswith("_") == key.startswith("_") and name.casefold() == folded:
            return f" (did you mean {name}?)"
        if name.startswith("_") and key.startswith("_") and name[1:].casefold() == folded:
            return f" (did you mean {name}?)"
    return ""


def _unknown_elements(value: Any, kind: mi.Type, path: str, found: list[str]) -> None:
    """Append to ``found`` the path of every key of ``value`` that ``kind`` does not declare."""
    if isinstance(kind, mi.UnionType):
        for option in kind.types:
            if (isinstance(value, dict) and isinstance(option, mi.StructType)) or (
                isinstance(value, list) and isinstance(option, mi.ListType)
            ):
                _unknown_elements(value, option, path, found)
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
                _unknown_elements(item, element, f"{path}.{key}", found)
    elif isinstance(kind, mi.ListType) and isinstance(value, list):
        for index, item in enumerate(value):
            _unknown_elements(item, kind.item_type, f"{path}[{index}]", found)


def _check_plain(plain: Any) -> None:
    """Refuse what is not a Patient's JSON object, or carries keys a Patient does not have.

    msgspec ignores unknown keys when decoding a struct, so ``{"birth_date": ...}`` would
    be sent without a birth date; here it is refused, naming every such key.
    """
    if not isinstance(plain, dict):
        raise ValidationError(f"expected a FHIR Patient object, not {type(plain).__name__}")
    kind = plain.get("resourceType", "Patient")
    if kind != "Patient":
        raise ValidationError(f"expected resourceType 'Patient', got {_shown_kind(kind)}")
    found: list[str] = []
    _unknown_elements(plain, _patient_type(), "$", found)
    if found:
        listed = ", ".join(found[:_MAX_LISTED])
        if len(found) > _MAX_LISTED:
            listed += f" and {len(found) - _MAX_LISTED} more"
        raise ValidationError(
            redact_niks(
                f"unknown Patient element(s): {listed}; FHIR JSON names are camelCase "
                "(birthDate, multipleBirthInteger) and nothing was sent"
            )
        )


def _shown_kind(kind: object) -> str:
    # a resourceType that is not a string may be anything (a NIK typed in the wrong field)
    return (
        redact_niks(repr(kind))
        if isinstance(kind, str) and len(kind) <= 40
        else type(kind).__name__
    )


def to_patient(patient: Patient | Mapping[str, Any]) -> Patient:
    """A :class:`Patient` from a struct or a FHIR dict (:class:`ValidationError` if not one).

    A dict is decoded strictly: a key that is not an element of the Patient (or of the
    datatype it sits in) is refused, naming it, rather than silently dropped.
    """
    if isinstance(patient, Patient):
        return patient
    if not isinstance(patient, Mapping):
        raise ValidationError(f"expected a Patient or a FHIR dict, not {type(patient).__name__}")
    kind = patient.get("resourceType", "Patient")
    if kind != "Patient":
        raise ValidationError(f"expected resourceType 'Patient', got {_shown_kind(kind)}")
    try:
        raw = _mapping_encoder.encode(patient)
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"not a valid FHIR Patient: {exc}") from exc
    except RecursionError:
        raise ValidationError("not a valid FHIR Patient: nested too deeply") from None
    return patient_from_json(raw)


def patient_from_json(data: bytes) -> Patient:
    """A :class:`Patient` from FHIR JSON, decoded strictly (:class:`ValidationError`).

    Unknown keys are refused as by :func:`to_patient`; decimals keep their digits.
    """
    try:
        try:
            plain = _any_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise ValidationError(f"not JSON: {exc}") from exc
        _check_plain(plain)
        return _patient_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValidationError(f"not a valid FHIR Patient: {exc}") from exc
    except RecursionError:  # deeper than any Patient (and than Python's stack)
        raise ValidationError("not a valid FHIR Patient: nested too deeply") from None
