"""The sandbox's Master Patient Index: create, search, read and patch Patient resources.

:class:`PatientStore` is pure (no server): each method takes what the request carried
and returns an :class:`~satusehat_async.testing.fhir.Answer`.

Searches answer the way captured SATUSEHAT traffic does: by NIK (alone or with a name)
a short resource with the NIK as ``################`` and names like ``Sa** An** Ri**``;
by name + birth date + gender the whole resource with the NIK and address lines masked;
by name + birth date + NIK (the caller proved it knows all three) and by ``nik-ibu``
(a mother's babies) everything unmasked.

Like the MPI, whose search index can lag its writes by seconds, the store can make a new
record visible to searches only after a random lag (``search_lag=(low, high)`` seconds,
drawn from the seed); reads by id and the NIK's uniqueness see it at once.

Like SATUSEHAT (which is not documented to honour ``If-None-Exist``), the store ignores
conditional creates unless ``conditional_create`` is set: a second create of a NIK gets
the 200 ``{"success": false, ...}`` duplicate envelope. With it set, it answers like a
standard FHIR server: ``200`` and the existing resource.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
from collections.abc import Callable, Sequence
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import msgspec

from satusehat_async.testing.fhir import (
    IHS,
    NIK,
    NIK_IBU,
    Answer,
    PatchError,
    SearchLag,
    apply_replace,
    check_lag,
    copy_json,
    mask_nik,
    name_matches,
    outcome,
    search_view,
)

__all__ = ["PatientStore", "SearchLag", "check_lag"]  # the last two: from .fhir

CreateAnswer = Literal["resource", "envelope"]
PROFILE = "https://fhir.kemkes.go.id/r4/StructureDefinition/Patient"
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_GENDERS = frozenset({"male", "female", "other", "unknown"})
_JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
_PATCH_TYPES = frozenset({"application/json-patch+json", "application/json"})
# search parameters present -> how results are shown
_COMBINATIONS: dict[frozenset[str], str] = {
    frozenset({"nik"}): "short",
    frozenset({"nik", "name"}): "short",
    frozenset({"nik", "name", "birthdate"}): "full",
    frozenset({"name", "birthdate", "gender"}): "masked",
    frozenset({"nik-ibu"}): "full",
}


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _identifier_values(resource: dict[str, Any], system: str) -> list[str]:
    return [
        i["value"]
        for i in resource.get("identifier") or ()
        if isinstance(i, dict) and i.get("system") == system and isinstance(i.get("value"), str)
    ]


def _invalid(diagnostics: str, expression: str) -> Answer:
    return outcome(400, "invalid", "invalid_resource", diagnostics, [expression])


def _check_patient(resource: Any) -> Answer | None:
    """Why ``resource`` cannot be stored (an OperationOutcome answer), or None."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        return outcome(400, "invalid", "resource_mismatch", "expected a Patient resource")
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not all(isinstance(i, dict) for i in identifiers):
        return _invalid("Patient.identifier must be a list of identifiers", "Patient.identifier")
    niks, mothers = _identifier_values(resource, NIK), _identifier_values(resource, NIK_IBU)
    if not niks and not mothers:
        return _invalid(f"an identifier with system {NIK} or {NIK_IBU} is required", "Patient")
    for value in (*niks, *mothers):
        if len(value) != 16 or not value.isdigit():
            shown = mask_nik(value) if isinstance(value, str) else value
            return _invalid(f"a NIK has 16 digits, not {shown!r}", "Patient.identifier.value")
    birth = resource.get("birthDate")
    if birth is not None and (not isinstance(birth, str) or not _DATE.fullmatch(birth)):
        return _invalid("birthDate must be a date YYYY-MM-DD", "Patient.birthDate")
    if not niks and birth is None:
        return _invalid("a newborn registered by nik-ibu needs a birthDate", "Patient.birthDate")
    if resource.get("gender") not in (None, *_GENDERS):
        return _invalid("gender must be male, female, other or unknown", "Patient.gender")
    if not isinstance(resource.get("name", []), list):
        return _invalid("Patient.name must be a list", "Patient.name")
    return None


class PatientStore:
    """Patients by id, with NIK (unique) and nik-ibu (not unique: twins) indexes."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Callable[[], float],
        create_answer: CreateAnswer = "resource",
        conditional_create: bool = False,
        create_status: int = 201,
        search_lag: SearchLag | None = None,
    ) -> None:
        if create_answer not in ("resource", "envelope"):
            raise ValueError("create_answer must be 'resource' or 'envelope'")
        self._search_lag = check_lag("search_lag", search_lag)
        self.base_url = ""
        """The server's URL, for ``fullUrl``, ``Location`` and Bundle links."""
        self.create_answer = create_answer
        self.conditional_create = conditional_create
        """Honour ``If-None-Exist`` like a standard FHIR server (off: like SATUSEHAT)."""
        self.create_status = create_status
        """The status of the answer to a create that stored a new patient (201; a server
        that answers 200 instead can be played by setting 200)."""
        self._clock = clock
        self._random = random.Random(seed * 31 + 7)
        self._patients: dict[str, dict[str, Any]] = {}
        self._by_nik: dict[str, str] = {}
        self._by_mother: dict[str, list[str]] = {}
        self._last_ns = 0
        # A stream of its own, so the lag does not change the ids a seed gives.
        self._lag_random = random.Random(seed * 53 + 11)
        self._visible_at: dict[str, float] = {}  # id -> when searches start finding it

    def __len__(self) -> int:
        return len(self._patients)

    def get(self, patient_id: str) -> dict[str, Any] | None:
        """A copy of the stored (unmasked) Patient, or None."""
        stored = self._patients.get(patient_id)
        return None if stored is None else copy_json(stored)

    @property
    def ids(self) -> list[str]:
        """Every stored patient id, in creation order."""
        return list(self._patients)

    @property
    def search_lag(self) -> SearchLag | None:
        """``(low, high)``: a new record is found by searches only a random ``low`` to ``high``
        seconds (by the clock) after it was stored; None: at once. May be changed any time
        (records already stored keep their lag)."""
        return self._search_lag

    @search_lag.setter
    def search_lag(self, value: SearchLag | None) -> None:
        self._search_lag = check_lag("search_lag", value)

    def visible(self, patient_id: str) -> bool:
        """Whether searches find the stored patient ``patient_id`` yet (see ``search_lag``)."""
        if patient_id not in self._patients:
            return False
        when = self._visible_at.get(patient_id)
        if when is None:
            return True
        if self._clock() < when:
            return False
        del self._visible_at[patient_id]
        return True

    @property
    def lagging(self) -> list[str]:
        """Ids of stored patients that searches do not find yet."""
        return [i for i in list(self._visible_at) if not self.visible(i)]

    def settle(self) -> None:
        """End every search lag now: searches find every stored patient."""
        self._visible_at.clear()

    # -- helpers ---------------------------------------------------------------------
    def _url(self, patient_id: str) -> str:
        return f"{self.base_url}/fhir-r4/v1/Patient/{patient_id}"

    def _new_id(self) -> str:
        while True:
            candidate = f"P{self._random.randrange(10**11):011d}"
            if candidate not in self._patients:
                return candidate

    def _stamp(self, resource: dict[str, Any]) -> None:
        """Give ``resource`` a new ``meta.versionId`` and ``lastUpdated``."""
        ns = max(int(self._clock() * 1e9), self._last_ns + 1_000)
        self._last_ns = ns
        when = dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc)
        meta: dict[str, Any] = resource["meta"] if isinstance(resource.get("meta"), dict) else {}
        meta["lastUpdated"] = when.isoformat(timespec="microseconds")
        # SATUSEHAT's versionId is the base64 of the update time in nanoseconds
        meta["versionId"] = base64.b64encode(str(ns).encode()).decode().rstrip("=")
        resource["meta"] = meta

    def _headers(self, resource: dict[str, Any]) -> dict[str, str]:
        meta = resource["meta"]
        when = dt.datetime.fromisoformat(meta["lastUpdated"])
        return {
            "ETag": f'W/"{meta["versionId"]}"',
            "Last-Modified": format_datetime(when, usegmt=True),
            "Location": f"{self._url(resource['id'])}/_history/{meta['versionId']}",
        }

    def _index(self, resource: dict[str, Any]) -> None:
        for nik in _identifier_values(resource, NIK)[:1]:
            self._by_nik[nik] = resource["id"]
        for mother in _identifier_values(resource, NIK_IBU)[:1]:
            self._by_mother.setdefault(mother, []).append(resource["id"])

    def _unindex(self, resource: dict[str, Any]) -> None:
        for nik in _identifier_values(resource, NIK)[:1]:
            self._by_nik.pop(nik, None)
        for mother in _identifier_values(resource, NIK_IBU)[:1]:
            self._by_mother[mother].remove(resource["id"])

    def _lookup(self, system: str, value: str) -> list[str]:
        if system == NIK:
            found = self._by_nik.get(value)
            return [] if found is None else [found]
        if system == NIK_IBU:
            return list(self._by_mother.get(value, ()))
        return [value] if system == IHS and value in self._patients else []

    # -- endpoints -------------------------------------------------------------------
    def create(self, body: bytes, content_type: str, if_none_exist: str | None) -> Answer:
        """``POST /Patient``."""
        if content_type not in _JSON_TYPES:
            return outcome(415, "not-supported", "unsupported_media_type", content_type)
        try:
            resource = msgspec.json.decode(body)
        except msgspec.DecodeError as error:
            return outcome(400, "structure", "unparseable_resource", str(error))
        problem = _check_patient(resource)
        if problem is not None:
            return problem
        if if_none_exist and self.conditional_create:
            pairs = parse_qsl(if_none_exist)
            if len(pairs) != 1 or pairs[0][0] != "identifier" or "|" not in pairs[0][1]:
                return outcome(
                    400, "invalid", "invalid_query", "If-None-Exist takes identifier=system|value"
                )
            found = self._lookup(*pairs[0][1].split("|", 1))
            if len(found) > 1:
                return outcome(412, "duplicate", "multiple_matches", "If-None-Exist: many match")
            if found:
                existing = self._patients[found[0]]
                return Answer(200, existing, self._headers(existing))
        niks = _identifier_values(resource, NIK)
        if niks and niks[0] in self._by_nik:
            return Answer(
                200,
                {
                    "success": False,
                    "message": "Failed to create new patient, another identifier has found",
                    "data": {"resourceID": self._by_nik[niks[0]]},
                },
            )
        patient_id = self._new_id()
        resource["id"] = patient_id
        ihs = {"system": IHS, "use": "official", "value": patient_id}
        resource["identifier"] = [
            ihs,
            *(i for i in resource["identifier"] if i.get("system") != IHS),
        ]
        resource.setdefault("active", True)
        if not niks and "multipleBirthBoolean" not in resource:
            resource.setdefault("multipleBirthInteger", 0)
        resource["meta"] = {"profile": [PROFILE]}
        self._stamp(resource)
        self._patients[patient_id] = resource
        self._index(resource)
        if self.search_lag is not None:
            low, high = self.search_lag
            self._visible_at[patient_id] = self._clock() + self._lag_random.uniform(low, high)
        headers = self._headers(resource)
        if self.create_answer == "envelope":
            envelope = {
                "success": True,
                "message": "New Patient has been created successfully",
                "data": {"Patient ID:": patient_id},
            }
            return Answer(self.create_status, envelope, headers, committed=True)
        return Answer(self.create_status, resource, headers, committed=True)

    def read(self, patient_id: str) -> Answer:
        """``GET /Patient/{id}``."""
        resource = self._patients.get(patient_id)
        if resource is None:
            return outcome(404, "not-found", "resource not found", f"Patient/{patient_id}")
        headers = self._headers(resource)
        del headers["Location"]
        return Answer(200, resource, headers)

    def patch(
        self, patient_id: str, body: bytes, content_type: str, if_match: str | None
    ) -> Answer:
        """``PATCH /Patient/{id}`` with JSON Patch ``replace`` operations."""
        current = self._patients.get(patient_id)
        if current is None:
            return outcome(404, "not-found", "resource not found", f"Patient/{patient_id}")
        if content_type not in _PATCH_TYPES:
            return outcome(415, "not-supported", "unsupported_media_type", content_type)
        version = current["meta"]["versionId"]
        if if_match and if_match.strip() not in (f'W/"{version}"', f'"{version}"', version):
            return outcome(412, "conflict", "version_conflict", f"current version is {version}")
        try:
            operations = msgspec.json.decode(body)
        except msgspec.DecodeError as error:
            return outcome(400, "structure", "unparseable_resource", str(error))
        updated = copy_json(current)
        try:
            apply_replace(updated, operations)
        except PatchError as error:
            return outcome(400, error.code, "invalid_patch", str(error))
        problem = _check_patient(updated)
        if problem is not None:
            return problem
        niks = _identifier_values(updated, NIK)
        if niks and self._by_nik.get(niks[0], patient_id) != patient_id:
            return outcome(400, "duplicate", "duplicate_identifier", "NIK belongs to another")
        self._unindex(current)
        self._stamp(updated)
        self._patients[patient_id] = updated
        self._index(updated)
        headers = self._headers(updated)
        del headers["Location"]
        return Answer(200, updated, headers, committed=True)

    def search(self, params: Sequence[tuple[str, str]]) -> Answer:
        """``GET /Patient?...`` with one of the supported parameter combinations."""
        given: dict[str, str] = {}
        for key, text in params:
            if key.startswith("_"):
                continue  # _count, _format...: harmless
            if key not in ("identifier", "name", "birthdate", "gender") or key in given:
                return outcome(400, "invalid", "invalid_query", f"unsupported parameter {key!r}")
            given[key] = text
        criteria = dict(given)
        identifier = criteria.pop("identifier", None)
        system: str | None = None
        value: str | None = None
        if identifier is not None:
            system, _, value = identifier.partition("|")
            if system not in (NIK, NIK_IBU) or not value:
                return outcome(
                    400, "invalid", "invalid_query", f"identifier must be {NIK}|<NIK> or nik-ibu"
                )
            criteria["nik" if system == NIK else "nik-ibu"] = value
        view = _COMBINATIONS.get(frozenset(criteria))
        if view is None:
            supported = "NIK; NIK+name; name+birthdate+NIK; name+birthdate+gender; nik-ibu"
            return outcome(
                400, "invalid", "invalid_query", f"unsupported combination; use {supported}"
            )
        birthdate = criteria.get("birthdate")
        if birthdate is not None and not _DATE.fullmatch(birthdate):
            return outcome(400, "invalid", "invalid_query", "birthdate must be YYYY-MM-DD")
        gender = criteria.get("gender")
        if gender is not None and gender not in _GENDERS:
            return outcome(400, "invalid", "invalid_query", "gender must be male/female/...")
        if system is not None and value is not None:
            ids = self._lookup(system, value)
        else:
            ids = [i for i, p in self._patients.items() if p.get("birthDate") == birthdate]
        candidates = [self._patients[i] for i in ids if self.visible(i)]
        name = _normal(criteria["name"]) if "name" in criteria else None
        found = [
            patient
            for patient in candidates
            if (name is None or name_matches(patient, name))
            and (birthdate is None or patient.get("birthDate") == birthdate)
            and (gender is None or patient.get("gender") == gender)
        ]
        link = f"{self.base_url}/fhir-r4/v1/Patient/?{urlencode(sorted(given.items()))}"
        return Answer(
            200,
            {
                "entry": [
                    {"fullUrl": self._url(p["id"]), "resource": search_view(p, view)} for p in found
                ],
                "link": [{"relation": r, "url": link} for r in ("search", "first", "self")],
                "resourceType": "Bundle",
                "total": len(found),
                "type": "searchset",
            },
        )
