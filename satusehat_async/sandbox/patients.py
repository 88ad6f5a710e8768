"""The sandbox's Master Patient Index: create, search, read and patch Patient resources.

:class:`PatientStore` is pure (no server): each method takes what the request carried
and returns an :class:`~satusehat_async.sandbox.fhir.Answer`. What a Patient must look
like is in :mod:`~satusehat_async.sandbox.patient_rules`; which searches are supported and
how their answers are masked, in :mod:`~satusehat_async.sandbox.patient_search`.

Like the MPI, whose search index can lag its writes by seconds, the store can make a new
record visible to searches only after a random lag (``search_lag=(low, high)`` seconds,
drawn from the seed); reads by id and the NIK's uniqueness see it at once.

Like SATUSEHAT (which is not documented to honour ``If-None-Exist``), the store ignores
conditional creates unless ``conditional_create`` is set: a second create of a NIK gets
the 200 ``{"success": false, ...}`` duplicate envelope. With it set, it answers like a
standard FHIR server: ``200`` and the existing resource.

The sandbox's CapabilityStatement (``GET /fhir-r4/v1/metadata``) says both: FHIR's
``conditionalCreate`` on the Patient entry when ``conditional_create`` is set, and (unless
``announce_unique_nik`` is turned off) the extension :data:`UNIQUE_IDENTIFIER_EXTENSION`
with ``valueUri`` the NIK system: "a second Patient with this NIK is refused".
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl

import msgspec

from satusehat_async.sandbox.fhir import (
    IHS,
    NIK,
    NIK_IBU,
    Answer,
    PatchError,
    SearchLag,
    VersionStamp,
    apply_replace,
    check_lag,
    copy_json,
    outcome,
    version_headers,
)
from satusehat_async.sandbox.patient_rules import (
    JSON_TYPES,
    PATCH_TYPES,
    PROFILE,
    check_patient,
    identifier_values,
)
from satusehat_async.sandbox.patient_search import parse_search, search_bundle

__all__ = [
    "UNIQUE_IDENTIFIER_EXTENSION",
    "CreateAnswer",
    "PatientStore",
    "SearchLag",
    "check_lag",  # this and SearchLag: from .fhir
]

UNIQUE_IDENTIFIER_EXTENSION = "urn:satusehat-async:capability:unique-identifier"
"""The CapabilityStatement extension (on ``rest[].resource[]``) by which this sandbox says
it refuses a second record with an identifier of the system in its ``valueUri``."""

CreateAnswer = Literal["resource", "envelope"]
"""How a create that stored a patient answers: the resource, or SATUSEHAT's envelope."""


def _parse_new(body: bytes, content_type: str) -> dict[str, Any] | Answer:
    """The Patient a create carried, or the answer refusing it."""
    if content_type not in JSON_TYPES:
        return outcome(415, "not-supported", "unsupported_media_type", content_type)
    try:
        resource = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        return outcome(400, "structure", "unparseable_resource", str(error))
    problem = check_patient(resource)
    if problem is not None:
        return problem
    patient: dict[str, Any] = resource  # check_patient made sure it is a Patient object
    return patient


def _duplicate(existing_id: str) -> Answer:
    """SATUSEHAT's answer to a create of a NIK it already holds: 200 and no success."""
    return Answer(
        200,
        {
            "success": False,
            "message": "Failed to create new patient, another identifier has found",
            "data": {"resourceID": existing_id},
        },
    )


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
        self.announce_unique_nik = True
        """Declare in the CapabilityStatement that a second Patient with one NIK is refused
        (:data:`UNIQUE_IDENTIFIER_EXTENSION`), as the MPI does; turn it off to play a server
        that declares nothing (the NIK stays unique all the same)."""
        self.create_status = create_status
        """The status of the answer to a create that stored a new patient (201; a server
        that answers 200 instead can be played by setting 200)."""
        self._clock = clock
        self._random = random.Random(seed * 31 + 7)
        self._patients: dict[str, dict[str, Any]] = {}
        self._by_nik: dict[str, str] = {}
        self._by_mother: dict[str, list[str]] = {}
        self._versions = VersionStamp(clock)
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

    def capability(self) -> dict[str, object]:
        """The Patient entry of the sandbox's CapabilityStatement (``rest[].resource[]``)."""
        codes = ("read", "vread", "update", "patch", "create", "search-type")
        entry: dict[str, object] = {
            "type": "Patient",
            "interaction": [{"code": c} for c in codes],
            "conditionalCreate": self.conditional_create,
        }
        if self.announce_unique_nik:
            entry["extension"] = [{"url": UNIQUE_IDENTIFIER_EXTENSION, "valueUri": NIK}]
        return entry

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
        self._versions.stamp(resource)

    def _headers(self, resource: dict[str, Any]) -> dict[str, str]:
        return version_headers(resource, self._url(resource["id"]), location=True)

    def _index(self, resource: dict[str, Any]) -> None:
        for nik in identifier_values(resource, NIK)[:1]:
            self._by_nik[nik] = resource["id"]
        for mother in identifier_values(resource, NIK_IBU)[:1]:
            self._by_mother.setdefault(mother, []).append(resource["id"])

    def _unindex(self, resource: dict[str, Any]) -> None:
        for nik in identifier_values(resource, NIK)[:1]:
            self._by_nik.pop(nik, None)
        for mother in identifier_values(resource, NIK_IBU)[:1]:
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
        resource = _parse_new(body, content_type)
        if isinstance(resource, Answer):
            return resource
        if if_none_exist and self.conditional_create:
            existing = self._conditional(if_none_exist)
            if existing is not None:
                return existing
        niks = identifier_values(resource, NIK)
        if niks and niks[0] in self._by_nik:
            return _duplicate(self._by_nik[niks[0]])
        patient_id = self._store_new(resource, newborn=not niks)
        headers = self._headers(resource)
        if self.create_answer == "envelope":
            envelope = {
                "success": True,
                "message": "New Patient has been created successfully",
                "data": {"Patient ID:": patient_id},
            }
            return Answer(self.create_status, envelope, headers, committed=True)
        return Answer(self.create_status, resource, headers, committed=True)

    def _conditional(self, if_none_exist: str) -> Answer | None:
        """A standard FHIR server's answer to ``If-None-Exist``; None: nobody matches."""
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
        return None

    def _store_new(self, resource: dict[str, Any], *, newborn: bool) -> str:
        """Give ``resource`` an id, IHS identifier and meta, store it; returns the id."""
        patient_id = self._new_id()
        resource["id"] = patient_id
        ihs = {"system": IHS, "use": "official", "value": patient_id}
        resource["identifier"] = [
            ihs,
            *(i for i in resource["identifier"] if i.get("system") != IHS),
        ]
        resource.setdefault("active", True)
        if newborn and "multipleBirthBoolean" not in resource:
            resource.setdefault("multipleBirthInteger", 0)
        resource["meta"] = {"profile": [PROFILE]}
        self._stamp(resource)
        self._patients[patient_id] = resource
        self._index(resource)
        if self.search_lag is not None:
            low, high = self.search_lag
            self._visible_at[patient_id] = self._clock() + self._lag_random.uniform(low, high)
        return patient_id

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
        if content_type not in PATCH_TYPES:
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
        problem = check_patient(updated)
        if problem is not None:
            return problem
        niks = identifier_values(updated, NIK)
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
        search = parse_search(params)
        if isinstance(search, Answer):
            return search
        if search.system is not None and search.value is not None:
            ids = self._lookup(search.system, search.value)
        else:
            ids = [i for i, p in self._patients.items() if p.get("birthDate") == search.birthdate]
        found = [
            self._patients[i] for i in ids if self.visible(i) and search.accepts(self._patients[i])
        ]
        return search_bundle(self.base_url, search, found)
