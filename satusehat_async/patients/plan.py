"""One logical Patient create, planned: the Patient checked, its identity fixed, its match rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.idempotency import CreatePlan as _GenericPlan
from satusehat_async.idempotency import pick as _pick
from satusehat_async.idempotency import write_headers
from satusehat_async.patients.identifiers import NIK_IBU_SYSTEM
from satusehat_async.patients.models import Patient
from satusehat_async.patients.newborns import check_birth_order, single_birth_as_integer
from satusehat_async.patients.policy import PatientIdentity
from satusehat_async.patients.strict import patient_from_json, to_patient

__all__ = ["CreatePlan", "pick", "plan_create"]

_RULES = PatientIdentity()


class CreatePlan(_GenericPlan[Patient]):
    """Everything about one logical Patient create, fixed before the first attempt."""

    @property
    def patient(self) -> Patient:
        """The Patient sent (a single birth's ``multipleBirthBoolean`` as the integer 0)."""
        return self.resource

    @property
    def system(self) -> str:
        """The identifier system searched to reconcile (NIK or NIK-ibu)."""
        return self.identity.system

    @property
    def value(self) -> str:
        """Its value."""
        return self.identity.value

    def matches(self, candidate: Patient) -> bool:
        """Is ``candidate`` (from a search by this plan's identifier) the patient to create?"""
        return _RULES.matches(candidate, self.resource, self.identity)


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

    The patient needs its own NIK, or (a newborn) its mother's NIK, a birth date and a
    birth order.
    """
    resource = _checked(patient) if isinstance(patient, Patient) else to_patient(patient)
    identity = _RULES.identify(resource)
    if identity.system == NIK_IBU_SYSTEM:
        if not resource.birth_date:
            raise ValidationError(
                "a newborn registered by its mother's NIK needs a birthDate: twins share "
                "the mother's NIK and are told apart by name, birth date and birth order"
            )
        check_birth_order(resource)
        # The documents make multipleBirthInteger mandatory: a single birth sends 0.
        resource = single_birth_as_integer(resource)
    return CreatePlan(
        resource=resource,
        body=msgspec.json.encode(resource),
        identity=identity,
        headers=write_headers(identity),
    )


def pick(
    plan: CreatePlan, candidates: list[Patient], after: SatuSehatError | None = None
) -> Patient | None:
    """The one candidate that is the patient to create; None; or AmbiguousMatchError."""
    return _pick(_RULES, plan, candidates, after=after)
