"""The base of every generated FHIR struct, its wire names, and exact FHIR decimals.

Every model in :mod:`satusehat_async.fhir` derives from :class:`FHIRModel`: keyword-only,
absent elements omitted on encoding, FHIR's camelCase names on the wire. Python names are
FHIR's in snake_case (``birth_date`` is ``birthDate``); a primitive's ``_name`` sibling,
which carries its ``id`` and extensions, is ``<name>_ext`` (``birth_date_ext`` is
``_birthDate``); a name that is a Python keyword gets a trailing underscore (``class_``).
:func:`fhir_name` is that mapping, used as msgspec's ``rename`` so each field is one line.

FHIR ``decimal`` values are kept as :class:`msgspec.Raw` so their exact digits survive
(``1.50`` stays ``1.50``); build them with :func:`fhir_decimal`, read them with
:func:`decimal_value`; an absent decimal is :data:`NO_DECIMAL` (omitted on encoding).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

__all__ = ["NO_DECIMAL", "FHIRModel", "decimal_value", "fhir_decimal", "fhir_name"]

#: The "absent" value of a decimal field (an empty Raw is omitted on encoding).
NO_DECIMAL: msgspec.Raw = msgspec.Raw()


def fhir_name(name: str) -> str:
    """The FHIR JSON name of a model's Python field name.

    >>> fhir_name("birth_date"), fhir_name("birth_date_ext"), fhir_name("class_")
    ('birthDate', '_birthDate', 'class')
    """
    prefix = ""
    if name.endswith("_ext"):
        prefix, name = "_", name[:-4]
    first, *rest = name.rstrip("_").split("_")
    return prefix + first + "".join(part[:1].upper() + part[1:] for part in rest)


def fhir_decimal(value: Decimal | int | float | str) -> msgspec.Raw:
    """A FHIR decimal for a decimal field, keeping its digits (``"1.50"`` stays ``1.50``)."""
    # Imported here: the error tree costs more to import than every datatype together.
    from satusehat_async.errors import ValidationError
    from satusehat_async.redact import redact_niks

    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise ValidationError(f"a FHIR decimal is a number, not {type(value).__name__}")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):  # ValueError: an int too long for str()
        raise ValidationError(f"not a decimal: {redact_niks(repr(value)[:40])}") from None
    if not number.is_finite():
        raise ValidationError(f"FHIR decimals are finite: {value!r}")
    text = str(number)
    if "E" in text or "e" in text:  # JSON allows exponents, FHIR's decimal regex does not
        text = format(number, "f")
    return msgspec.Raw(text.encode())


def decimal_value(raw: msgspec.Raw) -> Decimal | None:
    """The :class:`~decimal.Decimal` held by a decimal field (None when absent)."""
    data = bytes(raw)
    if not data:
        return None
    return msgspec.json.decode(data, type=Decimal)


class FHIRModel(
    msgspec.Struct,
    kw_only=True,
    omit_defaults=True,
    rename=fhir_name,
    repr_omit_defaults=True,
):
    """Base of every FHIR struct: keyword-only, FHIR names on the wire, absent elements omitted."""
