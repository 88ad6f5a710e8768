"""The FHIR R4 datatypes a Patient uses, in one import: the generated FHIR core's classes.

``satusehat_async.patients.HumanName is satusehat_async.fhir.HumanName`` (and so on):
there is one set of FHIR classes, generated from the official StructureDefinitions.
"""

from __future__ import annotations

from satusehat_async.fhir.base import NO_DECIMAL, FHIRModel, decimal_value, fhir_decimal
from satusehat_async.fhir.datatypes import (
    Address,
    Attachment,
    BackboneElement,
    CodeableConcept,
    Coding,
    ContactPoint,
    Element,
    Extension,
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
