"""FHIR R4 datatypes used by Patient, as msgspec Structs with FHIR's camelCase wire names.

One import for all of them: the bases and decimals (:mod:`.elements`), the
general-purpose datatypes (:mod:`.general_types`), the rarer ones
(:mod:`.complex_types`) and :class:`Extension` (:mod:`.extension`).
"""

from __future__ import annotations

from satusehat_async.patients.elements import (
    NO_DECIMAL,
    BackboneElement,
    Element,
    FHIRModel,
    decimal_value,
    fhir_decimal,
)
from satusehat_async.patients.extension import Extension
from satusehat_async.patients.general_types import (
    Address,
    Attachment,
    CodeableConcept,
    Coding,
    ContactPoint,
    HumanName,
    Identifier,
    Meta,
    Narrative,
    Period,
    Quantity,
    Reference,
)

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
