"""The resources of a visit: diagnoses (Condition), vital signs (Observation), procedures.

Codes and units are SATUSEHAT's: ICD-10 (``http://hl7.org/fhir/sid/icd-10``) for
diagnoses, LOINC with UCUM units (``http://unitsofmeasure.org``) for vital signs, ICD-9-CM
(``http://hl7.org/fhir/sid/icd-9-cm``) for procedures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

from satusehat_async.errors import ValidationError
from satusehat_async.fhir import (
    CodeableConcept,
    Coding,
    Condition,
    Identifier,
    Observation,
    Period,
    Procedure,
    ProcedurePerformer,
    Quantity,
    Reference,
    fhir_decimal,
)

__all__ = [
    "ICD9CM",
    "ICD10",
    "LOINC",
    "UCUM",
    "VITAL_SIGNS",
    "VitalSigns",
    "diagnosis_condition",
    "procedure",
    "vital_sign_observation",
]

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"

#: name -> (LOINC code, LOINC display, UCUM unit shown, UCUM code), from the playbook.
VITAL_SIGNS: dict[str, tuple[str, str, str, str]] = {
    "heart_rate": ("8867-4", "Heart rate", "beats/minute", "/min"),
    "respiratory_rate": ("9279-1", "Respiratory rate", "breaths/minute", "/min"),
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]", "mm[Hg]"),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]", "mm[Hg]"),
    "temperature": ("8310-5", "Body temperature", "C", "Cel"),
    "height": ("8302-2", "Body height", "cm", "cm"),
    "weight": ("29463-7", "Body weight", "kg", "kg"),
    "bsa": ("8277-6", "Body surface area", "m2", "m2"),
}

Number = int | float | Decimal


@dataclass(frozen=True)
class VitalSigns:
    """The vital signs of a visit (None: not measured); units are fixed by SATUSEHAT.

    ``heart_rate`` and ``respiratory_rate`` per minute, ``systolic``/``diastolic`` in
    mm[Hg], ``temperature`` in °C, ``height`` in cm, ``weight`` in kg, ``bsa`` in m².
    """

    heart_rate: Number | None = None
    respiratory_rate: Number | None = None
    systolic: Number | None = None
    diastolic: Number | None = None
    temperature: Number | None = None
    height: Number | None = None
    weight: Number | None = None
    bsa: Number | None = None

    @classmethod
    def of(cls, value: VitalSigns | Mapping[str, Number] | None) -> VitalSigns:
        """``value`` as VitalSigns (a dict's unknown names refused, with the known ones)."""
        if value is None:
            return cls()
        if isinstance(value, VitalSigns):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError("vital_signs is VitalSigns or a dict of name -> number")
        unknown = sorted(str(k) for k in value if k not in VITAL_SIGNS)
        if unknown:
            raise ValidationError(
                f"unknown vital sign {unknown[0]!r:.30}; known: {', '.join(VITAL_SIGNS)}"
            )
        return cls(**dict(value))

    def measured(self) -> list[tuple[str, Number]]:
        """``(name, value)`` of each sign given, in :data:`VITAL_SIGNS` order (checked)."""
        found: list[tuple[str, Number]] = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, Decimal))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValidationError(f"vital sign {item.name} is a positive number: {value!r:.20}")
            found.append((item.name, value))
        return found


def _concept(system: str, code: str, display: str | None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code, display=display)])


def _code(value: object, name: str) -> tuple[str, str]:
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ValidationError(f"{name} is (code, display), two non-empty strings")
    return value[0], value[1]


def diagnosis_condition(
    code: tuple[str, str],
    *,
    subject: Reference,
    encounter: Reference,
    identifier: Identifier | None = None,
) -> Condition:
    """An encounter diagnosis: ``code`` is ``(ICD-10 code, display)``, e.g. ``("K35.8", ...)``."""
    icd, display = _code(code, "a diagnosis")
    return Condition(
        identifier=[identifier] if identifier is not None else None,
        clinical_status=_concept(_TERMINOLOGY + "condition-clinical", "active", "Active"),
        category=[
            _concept(
                _TERMINOLOGY + "condition-category", "encounter-diagnosis", "Encounter Diagnosis"
            )
        ],
        code=_concept(ICD10, icd, display),
        subject=subject,
        encounter=encounter,
    )


def vital_sign_observation(
    name: str,
    value: Number,
    *,
    subject: Reference,
    encounter: Reference,
    effective: str,
    performer: Reference | None = None,
    identifier: Identifier | None = None,
) -> Observation:
    """A vital-sign Observation (``status: final``, category ``vital-signs``) of ``name``.

    ``name`` is a key of :data:`VITAL_SIGNS`; ``effective`` a UTC dateTime string.
    """
    if name not in VITAL_SIGNS:
        raise ValidationError(f"unknown vital sign {name!r:.30}; known: {', '.join(VITAL_SIGNS)}")
    loinc, display, unit, ucum = VITAL_SIGNS[name]
    return Observation(
        identifier=[identifier] if identifier is not None else None,
        status="final",
        category=[_concept(_TERMINOLOGY + "observation-category", "vital-signs", "Vital Signs")],
        code=_concept(LOINC, loinc, display),
        subject=subject,
        performer=[performer] if performer is not None else None,
        encounter=encounter,
        effective_date_time=effective,
        value_quantity=Quantity(value=fhir_decimal(value), unit=unit, system=UCUM, code=ucum),
    )


def procedure(
    code: tuple[str, str],
    *,
    subject: Reference,
    encounter: Reference,
    performed: str,
    performer: Reference | None = None,
    identifier: Identifier | None = None,
) -> Procedure:
    """A completed Procedure: ``code`` is ``(ICD-9-CM code, display)``, at ``performed`` (UTC)."""
    icd9, display = _code(code, "a procedure")
    return Procedure(
        identifier=[identifier] if identifier is not None else None,
        status="completed",
        code=_concept(ICD9CM, icd9, display),
        subject=subject,
        encounter=encounter,
        performed_period=Period(start=performed, end=performed),
        performer=[ProcedurePerformer(actor=performer)] if performer is not None else None,
    )
