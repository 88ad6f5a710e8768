"""Old import path of the general-purpose FHIR datatypes a Patient uses.

They are the generated FHIR core's classes (``satusehat_async.fhir.HumanName`` ...), with
every element and every primitive's ``_name`` sibling (``<name>_ext``).
"""

from __future__ import annotations

from satusehat_async.fhir.datatypes import (
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
