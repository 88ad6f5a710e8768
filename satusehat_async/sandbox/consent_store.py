"""The sandbox's consent service: each patient's OPTIN / OPTOUT, and the consent guard.

``GET /consent/v1/Consent?patient_id=`` answers the stored FHIR ``Consent``; ``POST`` with
``{"patient_id", "action", "agent"}`` records one (a second POST for the same patient
replaces the choice, keeping the record's id). The shape follows the IG example
(``reference/satusehat-clinical.md`` §7): ``policyRule`` carries the action, the
provision permits (OPTIN) or denies (OPTOUT) access, and the agent is the ``performer``'s
display (the real mapping is unknown).

Decisions where the platform is undocumented:

- a patient is known if the sandbox's MPI holds it or it is one of SATUSEHAT's published
  dummy patients (§12); any other id is a 400 OperationOutcome ``value`` (the docs show an
  OperationOutcome for an invalid patient);
- a known patient without a consent record is a **404** OperationOutcome ``not-found``
  (``client.consent.get`` returns None for it).

The guard (off by default): FHIR reads and searches about a patient who never opted in
answer 400 ``forbidden``; after an OPTOUT, 200 ``suppressed`` (the captured answers).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from satusehat_async.sandbox.fhir import Answer, outcome

__all__ = ["DUMMY_PATIENTS", "FORBIDDEN_TEXT", "SUPPRESSED_TEXT", "ConsentStore"]

DUMMY_PATIENTS = frozenset(
    {
        "P02478375538",
        "P03647103112",
        "P00805884304",
        "P00912894463",
        "P01654557057",
        "P02280547535",
        "P01836748436",
        "P00883356749",
        "P01058967035",
        "P02428473601",
    }
)
"""SATUSEHAT's published sandbox patients (always known to the consent service)."""

FORBIDDEN_TEXT = (
    "Operation cannot be performed due to business rules, consent or privacy rules, "
    "or access permission constraints."
)
SUPPRESSED_TEXT = "The operation did not return any information due to consent or privacy rules."
_IHS = re.compile(r"P[0-9]{11}")
_ACTIONS = ("OPTIN", "OPTOUT")
_decode = msgspec.json.Decoder().decode


def _policy(action: str) -> dict[str, Any]:
    return {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": action}]
    }


def _provision(action: str) -> dict[str, Any]:
    access = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}
        ]
    }
    kind = "permit" if action == "OPTIN" else "deny"
    return {"provision": [{"type": kind, "action": [access]}]}


class ConsentStore:
    """Consent records by patient id, and whether the consent guard is on."""

    def __init__(self, known: Callable[[str], bool], clock: Callable[[], float], seed: int) -> None:
        self._known = known
        self._clock = clock
        self._random = random.Random(seed * 41 + 3)
        self._records: dict[str, dict[str, Any]] = {}
        self.guard = False
        """Refuse FHIR reads about patients without an OPTIN (see the module doc)."""

    def action(self, patient_id: str) -> str | None:
        """The patient's recorded action (``OPTIN``/``OPTOUT``), or None."""
        record = self._records.get(patient_id)
        return None if record is None else str(record["policyRule"]["coding"][0]["code"])

    def _patient_refusal(self, patient_id: object) -> Answer | None:
        if not isinstance(patient_id, str) or not _IHS.fullmatch(patient_id):
            return outcome(400, "value", "patient_id must be an IHS number (P + 11 digits)")
        if not self._known(patient_id):
            return outcome(400, "value", f"Patient {patient_id} not found")
        return None

    def read(self, patient_id: str | None) -> Answer:
        """``GET ...?patient_id=``: the Consent, 404 ``not-found`` or the refusal."""
        refusal = self._patient_refusal(patient_id)
        if refusal is not None:
            return refusal
        record = self._records.get(str(patient_id))
        if record is None:
            return outcome(404, "not-found", f"no consent recorded for Patient {patient_id}")
        return Answer(200, record)

    def write(self, body: bytes) -> Answer:
        """``POST``: record ``{"patient_id", "action", "agent"}`` and answer the Consent."""
        try:
            request = _decode(body)
        except (msgspec.DecodeError, RecursionError):
            return outcome(400, "structure", "the body must be a JSON object")
        if not isinstance(request, Mapping):
            return outcome(400, "structure", "the body must be a JSON object")
        patient_id, action, agent = (request.get(k) for k in ("patient_id", "action", "agent"))
        refusal = self._patient_refusal(patient_id)
        if refusal is not None:
            return refusal
        if action not in _ACTIONS:
            return outcome(400, "value", "action must be OPTIN or OPTOUT", expression=["action"])
        if not isinstance(agent, str) or not agent.strip():
            return outcome(400, "required", "agent is required", expression=["agent"])
        record = self._record(str(patient_id), str(action), agent.strip())
        return Answer(200, record, committed=True)

    def _record(self, patient_id: str, action: str, agent: str) -> dict[str, Any]:
        old = self._records.get(patient_id)
        record_id = (
            old["id"] if old else str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        )
        now = dt.datetime.fromtimestamp(self._clock(), dt.timezone.utc)
        record: dict[str, Any] = {
            "resourceType": "Consent",
            "id": record_id,
            "status": "active",
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "patient-privacy",
                        "display": "Privacy Consent",
                    }
                ]
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "59284-0",
                            "display": "Consent Document",
                        }
                    ]
                }
            ],
            "patient": {"reference": f"Patient/{patient_id}"},
            "dateTime": now.isoformat(),
            "performer": [{"display": agent}],
            "policyRule": _policy(action),
            "provision": _provision(action),
        }
        self._records[patient_id] = record
        return record

    def refusal(self, patient_ids: Iterable[str]) -> Answer | None:
        """The guard's answer for a read about ``patient_ids`` (None: allowed).

        Never opted in: 400 ``forbidden``; opted out: 200 ``suppressed`` (the stricter
        wins when a search names several patients).
        """
        actions = {self.action(p) for p in patient_ids}
        if None in actions:
            return outcome(400, "forbidden", FORBIDDEN_TEXT)
        if "OPTOUT" in actions:
            return outcome(200, "suppressed", SUPPRESSED_TEXT, severity="information")
        return None
