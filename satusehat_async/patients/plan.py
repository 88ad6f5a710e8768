"""One logical create, planned: the Patient checked, its identity fixed, its match rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.patients.identifiers import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    identifier_token,
    is_masked,
    validate_nik,
)
from satusehat_async.patients.models import Patient
from satusehat_async.patients.newborns import (
    check_birth_order,
    newborn_matches,
    single_birth_as_integer,
)
from satusehat_async.patients.outcomes import AmbiguousMatchError
from satusehat_async.patients.strict import patient_from_json, to_patient

__all__ = ["CreatePlan", "pick", "plan_create"]


@dataclass(frozen=True)
class CreatePlan:
    """Everything about one logical create, fixed before the first attempt."""

    patient: Patient
    body: bytes
    system: str  # the identifier system searched to reconcile (NIK or NIK-ibu)
    value: str  # its value
    headers: Mapping[str, str]

    @property
    def conditional(self) -> bool:
        """Whether the POST carries ``If-None-Exist``."""
        return "If-None-Exist" in self.headers

    @property
    def lock_key(self) -> str:
        """Creates sharing this key are serialized (one NIK; one mother's babies)."""
        return identifier_token(self.system, self.value)

    def matches(self, candidate: Patient) -> bool:
        """Is ``candidate`` (from a search by this plan's identifier) the patient to create?"""
        if not candidate.id:
            return False
        if self.system == NIK_SYSTEM:
            # The server matched the NIK; answers mask it, so compare only when readable.
            found = candidate.nik
            return found is None or is_masked(found) or found == self.value
        return newborn_matches(candidate, self.patient)


def _checked(patient: Patient) -> Patient:
    """``patient`` if every element has its FHIR type (a struct is not checked when built)."""
    try:
        patient_from_json(msgspec.json.encode(patient))
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(f"not a valid FHIR Patient: {type(exc).__name__}") from None
    return patient


def plan_create(patient: Patient | Mapping[str, Any]) -> CreatePlan:
    """Validate a Patient to create and fix its identity (:class:`ValidationError` if unfit).

    The patient needs its own NIK, or (a newborn) its mother's NIK and a birth date.
    """
    resource = _checked(patient) if isinstance(patient, Patient) else to_patient(patient)
    headers = {"Content-Type": "application/json"}
    systems = {i.system for i in resource.identifier or () if i.value}
    if NIK_SYSTEM in systems:
        system, value = NIK_SYSTEM, validate_nik(resource.nik)
        headers["If-None-Exist"] = "identifier=" + identifier_token(system, value)
    elif NIK_IBU_SYSTEM in systems:
        system, value = NIK_IBU_SYSTEM, validate_nik(resource.nik_ibu, what="NIK-ibu")
        if not resource.birth_date:
            raise ValidationError(
                "a newborn registered by its mother's NIK needs a birthDate: twins share "
                "the mother's NIK and are told apart by name, birth date and birth order"
            )
        check_birth_order(resource)
        # The documents make multipleBirthInteger mandatory: a single birth sends 0.
        resource = single_birth_as_integer(resource)
    else:
        raise ValidationError(
            f"a Patient to create needs a NIK ({NIK_SYSTEM}) or, for a newborn, "
            f"its mother's NIK ({NIK_IBU_SYSTEM})"
        )
    return CreatePlan(
        patient=resource,
        body=msgspec.json.encode(resource),
        system=system,
        value=value,
        headers=headers,
    )


def pick(
    plan: CreatePlan, candidates: list[Patient], after: SatuSehatError | None = None
) -> Patient | None:
    """The one candidate that is the patient to create; None; or AmbiguousMatchError."""
    matches: dict[str, Patient] = {}
    for candidate in candidates:
        if plan.matches(candidate) and candidate.id:
            matches.setdefault(candidate.id, candidate)
    if len(matches) > 1:
        raise AmbiguousMatchError(list(matches), newborn=plan.system == NIK_IBU_SYSTEM, after=after)
    return next(iter(matches.values()), None)
