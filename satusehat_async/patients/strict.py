"""Strict decoding of Patients from dicts and JSON: every key must be a FHIR element.

msgspec ignores unknown keys when decoding a struct, so ``{"birth_date": ...}`` would be
sent without a birth date; here such a key is refused, naming it (with a suggestion:
``unknown Patient element(s): $.birth_date (did you mean birthDate?)``). The rule is the
generic one of :mod:`satusehat_async.resource.strict`; a Patient's ``contained``
resources are kept raw, as they always were (the MPI stores them as sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from satusehat_async.patients.models import Patient
from satusehat_async.resource.strict import resource_from_json, to_resource

__all__ = ["patient_from_json", "to_patient"]


def to_patient(patient: Patient | Mapping[str, Any]) -> Patient:
    """A :class:`Patient` from a struct or a FHIR dict (:class:`ValidationError` if not one).

    A dict is decoded strictly: a key that is not an element of the Patient (or of the
    datatype it sits in) is refused, naming it, rather than silently dropped.
    """
    return to_resource(Patient, patient, check_contained=False)


def patient_from_json(data: bytes) -> Patient:
    """A :class:`Patient` from FHIR JSON, decoded strictly (:class:`ValidationError`).

    Unknown keys are refused as by :func:`to_patient`; decimals keep their digits.
    """
    return resource_from_json(Patient, data, check_contained=False)
