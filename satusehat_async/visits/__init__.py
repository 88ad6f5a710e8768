"""Visits: Encounter builders and transitions, and the outpatient minimum in one call.

- :mod:`.encounter` — :func:`outpatient_encounter` / :func:`inpatient_encounter` /
  :func:`emergency_encounter` (or :func:`encounter` with ``kind=``), and :func:`advance`
  (arrived → in-progress → finished, statusHistory and period kept consistent)
- :mod:`.clinical` — :func:`diagnosis_condition` (ICD-10), :func:`vital_sign_observation`
  (LOINC, UCUM) and :class:`VitalSigns`, :func:`procedure` (ICD-9-CM)
- :mod:`.rawat_jalan` — :func:`rawat_jalan`: Encounter, Conditions, vital signs and
  Procedures as one idempotent Bundle transaction
"""

from satusehat_async.visits.clinical import (
    VITAL_SIGNS,
    VitalSigns,
    diagnosis_condition,
    procedure,
    vital_sign_observation,
)
from satusehat_async.visits.encounter import (
    advance,
    emergency_encounter,
    encounter,
    inpatient_encounter,
    outpatient_encounter,
    utc_time,
)
from satusehat_async.visits.rawat_jalan import RawatJalan, rawat_jalan

__all__ = [
    "VITAL_SIGNS",
    "RawatJalan",
    "VitalSigns",
    "advance",
    "diagnosis_condition",
    "emergency_encounter",
    "encounter",
    "inpatient_encounter",
    "outpatient_encounter",
    "procedure",
    "rawat_jalan",
    "utc_time",
    "vital_sign_observation",
]
