"""Patient searches of the sandbox's MPI: which parameter combinations, and the answer.

Pure functions (no server, no store). :func:`parse_search` turns a query string into a
:class:`PatientSearch` (or the 400 OperationOutcome SATUSEHAT answers for it); the store
finds the candidates and :func:`search_bundle` shows them the way captured traffic does:
by NIK (alone or with a name) a short resource with the NIK as ``################`` and
names like ``Sa** An** Ri**``; by name + birth date + gender the whole resource with the
NIK and address lines masked; by name + birth date + NIK (the caller proved it knows all
three) and by ``nik-ibu`` (a mother's babies) everything unmasked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from satusehat_async.sandbox.fhir import NIK, NIK_IBU, Answer, name_matches, outcome, search_view
from satusehat_async.sandbox.patient_rules import DATE, GENDERS

__all__ = ["COMBINATIONS", "PatientSearch", "parse_search", "search_bundle"]

COMBINATIONS: dict[frozenset[str], str] = {
    frozenset({"nik"}): "short",
    frozenset({"nik", "name"}): "short",
    frozenset({"nik", "name", "birthdate"}): "full",
    frozenset({"name", "birthdate", "gender"}): "masked",
    frozenset({"nik-ibu"}): "full",
}
"""The search parameters present -> how results are shown (see :func:`search_view`)."""
_PARAMETERS = ("identifier", "name", "birthdate", "gender")
_SUPPORTED = "NIK; NIK+name; name+birthdate+NIK; name+birthdate+gender; nik-ibu"


@dataclass(frozen=True, slots=True)
class PatientSearch:
    """A valid Patient search: what to look up, what to match, and how to show it."""

    given: dict[str, str]
    """The parameters as sent (``_count`` and friends left out), for the Bundle's links."""
    view: str
    system: str | None  # the identifier searched by (NIK or NIK-ibu), if any
    value: str | None
    name: str | None  # lower case, single spaces
    birthdate: str | None
    gender: str | None

    def accepts(self, patient: dict[str, Any]) -> bool:
        """Whether the stored ``patient`` matches every criterion but the identifier."""
        return (
            (self.name is None or name_matches(patient, self.name))
            and (self.birthdate is None or patient.get("birthDate") == self.birthdate)
            and (self.gender is None or patient.get("gender") == self.gender)
        )


def _bad(diagnostics: str) -> Answer:
    return outcome(400, "invalid", "invalid_query", diagnostics)


def _given(params: Sequence[tuple[str, str]]) -> dict[str, str] | Answer:
    given: dict[str, str] = {}
    for key, text in params:
        if key.startswith("_"):
            continue  # _count, _format...: harmless
        if key not in _PARAMETERS or key in given:
            return _bad(f"unsupported parameter {key!r}")
        given[key] = text
    return given


def parse_search(params: Sequence[tuple[str, str]]) -> PatientSearch | Answer:
    """``GET /Patient?...``'s parameters as a search, or the 400 answer refusing them."""
    given = _given(params)
    if isinstance(given, Answer):
        return given
    criteria = dict(given)
    identifier = criteria.pop("identifier", None)
    system: str | None = None
    value: str | None = None
    if identifier is not None:
        system, _, value = identifier.partition("|")
        if system not in (NIK, NIK_IBU) or not value:
            return _bad(f"identifier must be {NIK}|<NIK> or nik-ibu")
        criteria["nik" if system == NIK else "nik-ibu"] = value
    view = COMBINATIONS.get(frozenset(criteria))
    if view is None:
        return _bad(f"unsupported combination; use {_SUPPORTED}")
    birthdate = criteria.get("birthdate")
    if birthdate is not None and not DATE.fullmatch(birthdate):
        return _bad("birthdate must be YYYY-MM-DD")
    gender = criteria.get("gender")
    if gender is not None and gender not in GENDERS:
        return _bad("gender must be male/female/...")
    name = " ".join(criteria["name"].lower().split()) if "name" in criteria else None
    return PatientSearch(given, view, system, value, name, birthdate, gender)


def search_bundle(base_url: str, search: PatientSearch, found: list[dict[str, Any]]) -> Answer:
    """The ``searchset`` Bundle answering ``search`` with the stored patients ``found``."""
    patients = f"{base_url}/fhir-r4/v1/Patient"
    link = f"{patients}/?{urlencode(sorted(search.given.items()))}"
    return Answer(
        200,
        {
            "entry": [
                {"fullUrl": f"{patients}/{p['id']}", "resource": search_view(p, search.view)}
                for p in found
            ],
            "link": [{"relation": r, "url": link} for r in ("search", "first", "self")],
            "resourceType": "Bundle",
            "total": len(found),
            "type": "searchset",
        },
    )
