"""FHIR R4 datatypes used by Patient, as msgspec Structs with FHIR's camelCase wire names.

Every element of each datatype is declared, including the ``_``-prefixed siblings that
carry a primitive's ``id`` and extensions (``_family``, ``_given`` ...; Python names end
in ``_ext``), so ``encode(decode(raw))`` gives back every element of a valid resource.
FHIR ``decimal`` values are kept as :class:`msgspec.Raw` so their exact digits survive
(``1.50`` stays ``1.50``); build them with :func:`fhir_decimal`, read them with
:func:`decimal_value`. Dates and instants stay strings: FHIR allows partial dates
(``2001``, ``2001-04``) that no Python date type holds.

:class:`Extension` (with every R4 ``value[x]``) lives here too because every datatype
refers to it and it refers back to every datatype.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = [
    "NO_DECIMAL",
    "Address",
    "Attachment",
    "BackboneElement",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "Element",
    "Extension",
    "FHIRModel",
    "HumanName",
    "Identifier",
    "Meta",
    "Narrative",
    "Period",
    "Quantity",
    "Reference",
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


class Coding(Element, kw_only=True):
    """A code defined by a terminology system."""

    system: str | None = None
    system_ext: Element | None = msgspec.field(default=None, name="_system")
    version: str | None = None
    version_ext: Element | None = msgspec.field(default=None, name="_version")
    code: str | None = None
    code_ext: Element | None = msgspec.field(default=None, name="_code")
    display: str | None = None
    display_ext: Element | None = msgspec.field(default=None, name="_display")
    user_selected: bool | None = None
    user_selected_ext: Element | None = msgspec.field(default=None, name="_userSelected")


class CodeableConcept(Element, kw_only=True):
    """A concept: codings from one or more systems and/or text."""

    coding: list[Coding] | None = None
    text: str | None = None
    text_ext: Element | None = msgspec.field(default=None, name="_text")


class Period(Element, kw_only=True):
    """A time range given by start and/or end."""

    start: str | None = None
    start_ext: Element | None = msgspec.field(default=None, name="_start")
    end: str | None = None
    end_ext: Element | None = msgspec.field(default=None, name="_end")


class Identifier(Element, kw_only=True):
    """An identifier (NIK, NIK-ibu, IHS number ...): ``system`` names its namespace."""

    use: str | None = None
    use_ext: Element | None = msgspec.field(default=None, name="_use")
    type: CodeableConcept | None = None
    system: str | None = None
    system_ext: Element | None = msgspec.field(default=None, name="_system")
    value: str | None = None
    value_ext: Element | None = msgspec.field(default=None, name="_value")
    period: Period | None = None
    assigner: Reference | None = None


class Reference(Element, kw_only=True):
    """A reference to another resource."""

    reference: str | None = None
    reference_ext: Element | None = msgspec.field(default=None, name="_reference")
    type: str | None = None
    type_ext: Element | None = msgspec.field(default=None, name="_type")
    identifier: Identifier | None = None
    display: str | None = None
    display_ext: Element | None = msgspec.field(default=None, name="_display")


class HumanName(Element, kw_only=True):
    """A person's name. ``given``/``prefix``/``suffix`` may hold nulls beside their ``_`` lists."""

    use: str | None = None
    use_ext: Element | None = msgspec.field(default=None, name="_use")
    text: str | None = None
    text_ext: Element | None = msgspec.field(default=None, name="_text")
    family: str | None = None
    family_ext: Element | None = msgspec.field(default=None, name="_family")
    given: list[str | None] | None = None
    given_ext: list[Element | None] | None = msgspec.field(default=None, name="_given")
    prefix: list[str | None] | None = None
    prefix_ext: list[Element | None] | None = msgspec.field(default=None, name="_prefix")
    suffix: list[str | None] | None = None
    suffix_ext: list[Element | None] | None = msgspec.field(default=None, name="_suffix")
    period: Period | None = None


class ContactPoint(Element, kw_only=True):
    """A phone number, e-mail address or other contact point."""

    system: str | None = None
    system_ext: Element | None = msgspec.field(default=None, name="_system")
    value: str | None = None
    value_ext: Element | None = msgspec.field(default=None, name="_value")
    use: str | None = None
    use_ext: Element | None = msgspec.field(default=None, name="_use")
    rank: int | None = None
    rank_ext: Element | None = msgspec.field(default=None, name="_rank")
    period: Period | None = None


class Address(Element, kw_only=True):
    """A postal address (SATUSEHAT adds province/city/district/village/rt/rw extensions)."""

    use: str | None = None
    use_ext: Element | None = msgspec.field(default=None, name="_use")
    type: str | None = None
    type_ext: Element | None = msgspec.field(default=None, name="_type")
    text: str | None = None
    text_ext: Element | None = msgspec.field(default=None, name="_text")
    line: list[str | None] | None = None
    line_ext: list[Element | None] | None = msgspec.field(default=None, name="_line")
    city: str | None = None
    city_ext: Element | None = msgspec.field(default=None, name="_city")
    district: str | None = None
    district_ext: Element | None = msgspec.field(default=None, name="_district")
    state: str | None = None
    state_ext: Element | None = msgspec.field(default=None, name="_state")
    postal_code: str | None = None
    postal_code_ext: Element | None = msgspec.field(default=None, name="_postalCode")
    country: str | None = None
    country_ext: Element | None = msgspec.field(default=None, name="_country")
    period: Period | None = None


class Attachment(Element, kw_only=True):
    """Content (a photo ...) inline as base64 ``data`` or by ``url``."""

    content_type: str | None = None
    content_type_ext: Element | None = msgspec.field(default=None, name="_contentType")
    language: str | None = None
    language_ext: Element | None = msgspec.field(default=None, name="_language")
    data: str | None = None
    data_ext: Element | None = msgspec.field(default=None, name="_data")
    url: str | None = None
    url_ext: Element | None = msgspec.field(default=None, name="_url")
    size: int | None = None
    size_ext: Element | None = msgspec.field(default=None, name="_size")
    hash: str | None = None
    hash_ext: Element | None = msgspec.field(default=None, name="_hash")
    title: str | None = None
    title_ext: Element | None = msgspec.field(default=None, name="_title")
    creation: str | None = None
    creation_ext: Element | None = msgspec.field(default=None, name="_creation")


class Quantity(Element, kw_only=True):
    """A measured amount (also the shape of Age, Count, Distance, Duration)."""

    value: msgspec.Raw = NO_DECIMAL
    value_ext: Element | None = msgspec.field(default=None, name="_value")
    comparator: str | None = None
    comparator_ext: Element | None = msgspec.field(default=None, name="_comparator")
    unit: str | None = None
    unit_ext: Element | None = msgspec.field(default=None, name="_unit")
    system: str | None = None
    system_ext: Element | None = msgspec.field(default=None, name="_system")
    code: str | None = None
    code_ext: Element | None = msgspec.field(default=None, name="_code")


class Meta(Element, kw_only=True):
    """Resource metadata: version, last update, profiles, security labels, tags."""

    version_id: str | None = None
    version_id_ext: Element | None = msgspec.field(default=None, name="_versionId")
    last_updated: str | None = None
    last_updated_ext: Element | None = msgspec.field(default=None, name="_lastUpdated")
    source: str | None = None
    source_ext: Element | None = msgspec.field(default=None, name="_source")
    profile: list[str | None] | None = None
    profile_ext: list[Element | None] | None = msgspec.field(default=None, name="_profile")
    security: list[Coding] | None = None
    tag: list[Coding] | None = None


class Narrative(Element, kw_only=True):
    """Human-readable summary: ``status`` and an XHTML ``div``."""

    status: str | None = None
    status_ext: Element | None = msgspec.field(default=None, name="_status")
    div: str | None = None


# Extension refers to every datatype and every datatype to Extension; the rarer complex
# types live in complex_types.py, which imports this module (so import this one first).
from satusehat_async.patients.extension import Extension  # noqa: E402
