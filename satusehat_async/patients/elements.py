"""The base of every FHIR struct: :class:`FHIRModel`, :class:`Element`, FHIR decimals.

FHIR's types are one recursive family: every :class:`Element` may carry extensions, and
an :class:`~satusehat_async.patients.extension.Extension` may hold any datatype. The
datatypes import this module; ``Extension`` is built on them, in
:mod:`~satusehat_async.patients.extension`, which binds it here
(:func:`bind_extension`) — msgspec resolves ``list[Extension]`` on the first encode or
decode, in this module's namespace. So no module imports another in a circle.

FHIR ``decimal`` values are kept as :class:`msgspec.Raw` so their exact digits survive
(``1.50`` stays ``1.50``); build them with :func:`fhir_decimal`, read them with
:func:`decimal_value`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

if TYPE_CHECKING:
    from satusehat_async.patients.extension import Extension

__all__ = [
    "NO_DECIMAL",
    "BackboneElement",
    "Element",
    "FHIRModel",
    "bind_extension",
    "decimal_value",
    "fhir_decimal",
]


#: The "absent" value of a decimal field (an empty Raw is omitted on encoding).
NO_DECIMAL: msgspec.Raw = msgspec.Raw()


def fhir_decimal(value: Decimal | int | float | str) -> msgspec.Raw:
    """A FHIR decimal for a decimal field, keeping its digits (``"1.50"`` stays ``1.50``)."""
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
    msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", repr_omit_defaults=True
):
    """Base of every FHIR struct: keyword-only, camelCase on the wire, absent elements omitted."""


class Element(FHIRModel, kw_only=True):
    """FHIR Element: the ``id`` and extensions every element may carry.

    Also the type of a primitive's ``_name`` sibling (``"_birthDate": {"extension": [...]}``).
    """

    id: str | None = None
    extension: list[Extension] | None = None


class BackboneElement(Element, kw_only=True):
    """An element that may also carry modifier extensions."""

    modifier_extension: list[Extension] | None = None


def bind_extension(extension: type[Element]) -> None:
    """Make ``Extension`` (defined on top of the datatypes) resolvable here, once."""
    globals()["Extension"] = extension
