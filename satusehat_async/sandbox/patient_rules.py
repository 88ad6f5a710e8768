"""What the sandbox's Master Patient Index accepts: a Patient's shape and its identifiers.

Pure functions (no server, no store): :func:`check_patient` says why a resource cannot be
stored, as the OperationOutcome answer SATUSEHAT would give, or ``None``.
"""

from __future__ import annotations

import re
from typing import Any

from satusehat_async.sandbox.fhir import NIK, NIK_IBU, Answer, mask_nik, outcome

__all__ = [
    "DATE",
    "GENDERS",
    "JSON_TYPES",
    "PATCH_TYPES",
    "PROFILE",
    "check_patient",
    "identifier_values",
]

PROFILE = "https://fhir.kemkes.go.id/r4/StructureDefinition/Patient"
DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
"""A FHIR date: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
GENDERS = frozenset({"male", "female", "other", "unknown"})
JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
"""The media types a create may carry."""
PATCH_TYPES = frozenset({"application/json-patch+json", "application/json"})
"""The media types a JSON Patch may carry."""


def identifier_values(resource: dict[str, Any], system: str) -> list[str]:
    """The string values of ``resource``'s identifiers of ``system``, in order."""
    return [
        i["value"]
        for i in resource.get("identifier") or ()
        if isinstance(i, dict) and i.get("system") == system and isinstance(i.get("value"), str)
    ]


def _invalid(diagnostics: str, expression: str) -> Answer:
    return outcome(400, "invalid", "invalid_resource", diagnostics, [expression])


def _check_identifiers(resource: dict[str, Any]) -> Answer | None:
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not all(isinstance(i, dict) for i in identifiers):
        return _invalid("Patient.identifier must be a list of identifiers", "Patient.identifier")
    niks, mothers = identifier_values(resource, NIK), identifier_values(resource, NIK_IBU)
    if not niks and not mothers:
        return _invalid(f"an identifier with system {NIK} or {NIK_IBU} is required", "Patient")
    for value in (*niks, *mothers):
        if len(value) != 16 or not value.isdigit():
            shown = mask_nik(value) if isinstance(value, str) else value
            return _invalid(f"a NIK has 16 digits, not {shown!r}", "Patient.identifier.value")
    return None


def check_patient(resource: Any) -> Answer | None:
    """Why ``resource`` cannot be stored (an OperationOutcome answer), or None."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        return outcome(400, "invalid", "resource_mismatch", "expected a Patient resource")
    problem = _check_identifiers(resource)
    if problem is not None:
        return problem
    birth = resource.get("birthDate")
    if birth is not None and (not isinstance(birth, str) or not DATE.fullmatch(birth)):
        return _invalid("birthDate must be a date YYYY-MM-DD", "Patient.birthDate")
    if not identifier_values(resource, NIK) and birth is None:
        return _invalid("a newborn registered by nik-ibu needs a birthDate", "Patient.birthDate")
    if resource.get("gender") not in (None, *GENDERS):
        return _invalid("gender must be male, female, other or unknown", "Patient.gender")
    if not isinstance(resource.get("name", []), list):
        return _invalid("Patient.name must be a list", "Patient.name")
    return None
