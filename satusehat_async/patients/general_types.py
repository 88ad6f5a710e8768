"""The general-purpose FHIR R4 datatypes a Patient uses, with FHIR's camelCase wire names.

Every element of each datatype is declared, including the ``_``-prefixed siblings that
carry a primitive's ``id`` and extensions (``_family``, ``_given`` ...; Python names end
in ``_ext``), so ``encode(decode(raw))`` gives back every element of a valid resource.
Dates and instants stay strings: FHIR allows partial dates (``2001``, ``2001-04``) that
no Python date type holds.
"""

from __future__ import annotations

import msgspec

from satusehat_async.patients.elements import NO_DECIMAL, Element

__all__ = [
    "Address",
    "Attachment",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "HumanName",
    "Identifier",
    "Meta",
    "Narrative",
    "Period",
    "Quantity",
    "Reference",
]


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
