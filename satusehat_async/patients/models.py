"""The FHIR R4 Patient resource as a msgspec Struct, lossless on the wire.

``msgspec.json.encode(msgspec.json.decode(raw, type=Patient))`` gives back every element
of a valid FHIR R4 Patient: all elements and backbone elements are declared, every
primitive has its ``_``-prefixed sibling (``birth_date_ext`` is ``_birthDate``), decimals
keep their digits, and ``contained`` resources are kept as the exact JSON they came as.

>>> import msgspec
>>> raw = b'{"resourceType":"Patient","birthDate":"2001-04-16","_birthDate":{"id":"b"}}'
>>> patient = msgspec.json.decode(raw, type=Patient)
>>> patient.birth_date, patient.birth_date_ext
('2001-04-16', Element(id='b'))
>>> msgspec.json.encode(patient) == raw
True
"""

from __future__ import annotations

import msgspec

from satusehat_async.patients.datatypes import (
    Address,
    Attachment,
    BackboneElement,
    CodeableConcept,
    ContactPoint,
    Element,
    FHIRModel,
    HumanName,
    Identifier,
    Meta,
    Narrative,
    Period,
    Reference,
)
from satusehat_async.patients.extension import Extension
from satusehat_async.patients.identifiers import (
    IHS_NUMBER_SYSTEM,
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    find_identifier,
)

__all__ = ["Patient", "PatientCommunication", "PatientContact", "PatientLink"]


class PatientContact(BackboneElement, kw_only=True):
    """A contact party (guardian, next of kin, emergency contact ...) for the patient."""

    relationship: list[CodeableConcept] | None = None
    name: HumanName | None = None
    telecom: list[ContactPoint] | None = None
    address: Address | None = None
    gender: str | None = None
    gender_ext: Element | None = msgspec.field(default=None, name="_gender")
    organization: Reference | None = None
    period: Period | None = None


class PatientCommunication(BackboneElement, kw_only=True):
    """A language the patient may be spoken to in."""

    language: CodeableConcept | None = None
    preferred: bool | None = None
    preferred_ext: Element | None = msgspec.field(default=None, name="_preferred")


class PatientLink(BackboneElement, kw_only=True):
    """A link to another Patient or RelatedPerson about the same person."""

    other: Reference | None = None
    type: str | None = None
    type_ext: Element | None = msgspec.field(default=None, name="_type")


class Patient(FHIRModel, tag_field="resourceType", tag="Patient", kw_only=True):
    """FHIR R4 Patient (``resourceType`` is written on encoding, checked on decoding).

    Python names are FHIR's in snake_case (``birth_date`` is ``birthDate``); a
    primitive's ``_name`` sibling is ``<name>_ext``. ``contained`` resources are kept as
    :class:`msgspec.Raw` (decode them with ``msgspec.json.decode``).
    """

    id: str | None = None
    id_ext: Element | None = msgspec.field(default=None, name="_id")
    meta: Meta | None = None
    implicit_rules: str | None = None
    implicit_rules_ext: Element | None = msgspec.field(default=None, name="_implicitRules")
    language: str | None = None
    language_ext: Element | None = msgspec.field(default=None, name="_language")
    text: Narrative | None = None
    contained: list[msgspec.Raw] | None = None
    extension: list[Extension] | None = None
    modifier_extension: list[Extension] | None = None
    identifier: list[Identifier] | None = None
    active: bool | None = None
    active_ext: Element | None = msgspec.field(default=None, name="_active")
    name: list[HumanName] | None = None
    telecom: list[ContactPoint] | None = None
    gender: str | None = None
    gender_ext: Element | None = msgspec.field(default=None, name="_gender")
    birth_date: str | None = None
    birth_date_ext: Element | None = msgspec.field(default=None, name="_birthDate")
    deceased_boolean: bool | None = None
    deceased_boolean_ext: Element | None = msgspec.field(default=None, name="_deceasedBoolean")
    deceased_date_time: str | None = None
    deceased_date_time_ext: Element | None = msgspec.field(default=None, name="_deceasedDateTime")
    address: list[Address] | None = None
    marital_status: CodeableConcept | None = None
    multiple_birth_boolean: bool | None = None
    multiple_birth_boolean_ext: Element | None = msgspec.field(
        default=None, name="_multipleBirthBoolean"
    )
    multiple_birth_integer: int | None = None
    multiple_birth_integer_ext: Element | None = msgspec.field(
        default=None, name="_multipleBirthInteger"
    )
    photo: list[Attachment] | None = None
    contact: list[PatientContact] | None = None
    communication: list[PatientCommunication] | None = None
    general_practitioner: list[Reference] | None = None
    managing_organization: Reference | None = None
    link: list[PatientLink] | None = None

    @property
    def resource_type(self) -> str:
        """Always ``"Patient"``."""
        return "Patient"

    @property
    def nik(self) -> str | None:
        """The patient's own NIK, if it carries one (masked in search answers)."""
        return find_identifier(self.identifier, NIK_SYSTEM)

    @property
    def nik_ibu(self) -> str | None:
        """The mother's NIK, for a newborn registered under it."""
        return find_identifier(self.identifier, NIK_IBU_SYSTEM)

    @property
    def ihs_number(self) -> str | None:
        """The IHS number identifier (the same as ``id`` on SATUSEHAT's answers)."""
        return find_identifier(self.identifier, IHS_NUMBER_SYSTEM)
