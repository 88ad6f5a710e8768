"""Patients on the generic FHIR core: one decoder, one pager, one set of answer types.

``client.patients`` keeps its API; what it shares with ``client.fhir(...)`` is the same
code, so a rule fixed in the core holds for Patients too (and the other way round).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import satusehat_async.patients as patients
import satusehat_async.patients.answers as patient_answers
import satusehat_async.patients.patch as patient_patch
import satusehat_async.resource as resource
import satusehat_async.resource.answers as resource_answers
import satusehat_async.resource.patch as resource_patch
from satusehat_async import SatuSehatClient
from satusehat_async.errors import APIError, ValidationError
from satusehat_async.fhir import Patient
from satusehat_async.patients import Patients, decode_create_answer, decode_search_bundle
from satusehat_async.patients.strict import to_patient
from satusehat_async.resource.strict import to_resource
from satusehat_async.testing import MockBackend

MOTHER = "9104025209000006"
BASE = "http://gateway.local"


def test_the_answer_types_are_the_generic_ones() -> None:
    assert patients.CreateResult is resource.CreateResult
    assert patients.SearchBundle is resource_answers.SearchBundle
    assert patient_answers.BundleEntry is resource_answers.BundleEntry
    assert patient_answers.BundleLink is resource_answers.BundleLink
    result = decode_create_answer(201, b'{"success": true, "data": {"Patient ID:": "P1"}}')
    assert isinstance(result, resource.CreateResult)
    assert result == resource.CreateResult(id="P1", created=True)


def test_the_patch_module_is_the_generic_one() -> None:
    assert patient_patch.replace is resource_patch.replace
    assert patient_patch.validate_operations is resource_patch.validate_operations
    assert patients.PatchOperation is resource_patch.PatchOperation
    assert set(patient_patch.__all__) == set(resource_patch.__all__)


def test_a_patients_contained_resources_stay_raw_while_the_core_checks_them() -> None:
    plain: dict[str, Any] = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "anything": 1}],
    }
    assert to_patient(plain).contained is not None  # the MPI's rule: kept as sent
    with pytest.raises(ValidationError, match=r"contained\[0\]\.anything"):
        to_resource(Patient, plain)  # the generic rule for every other resource


def test_unknown_patient_elements_keep_their_wording() -> None:
    with pytest.raises(ValidationError, match=r"unknown Patient element\(s\): \$\.birth_date"):
        to_patient({"birth_date": "2001-01-01"})
    with pytest.raises(ValidationError, match=r"did you mean birthDate\?"):
        to_resource(Patient, {"birth_date": "2001-01-01"})


def test_a_patient_answer_without_an_id_keeps_its_wording() -> None:
    with pytest.raises(APIError, match="carries no patient id"):
        decode_create_answer(201, b'{"resourceType":"Patient","id":"a b"}')


def test_included_patients_are_not_search_matches() -> None:
    body = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [
                {"resource": {"resourceType": "Patient", "id": "P1"}, "search": {"mode": "match"}},
                {
                    "resource": {"resourceType": "Patient", "id": "P2"},
                    "search": {"mode": "include"},
                },
            ],
        }
    ).encode()
    found, bundle = decode_search_bundle(body)
    assert [p.id for p in found] == ["P1"]
    assert bundle.total == 1


def _endless(request: Any) -> tuple[int, dict[str, str], bytes]:
    """A server whose every page names another next page."""
    if request.url.startswith(f"{BASE}/oauth2/"):
        return 200, {}, b'{"access_token": "t", "expires_in": "3600"}'
    number = int(request.url.rsplit("_page=", 1)[1]) if "_page=" in request.url else 1
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": f"https://elsewhere/Patient?_page={number + 1}"}],
        "entry": [{"resource": {"resourceType": "Patient", "id": f"P{number}"}}],
    }
    return 200, {}, json.dumps(bundle).encode()


async def test_a_search_paging_without_end_stops_after_100_pages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = MockBackend(_endless)
    async with SatuSehatClient("id", "secret", base_url=BASE, backend=backend) as client:
        with caplog.at_level(logging.WARNING):
            found = await Patients(client).search(nik_ibu=MOTHER)
    assert len(found) == 100
    assert "after 100 pages" in caplog.text


async def test_the_generic_search_bounds_its_pages_when_asked() -> None:
    backend = MockBackend(_endless)
    async with SatuSehatClient("id", "secret", base_url=BASE, backend=backend) as client:

        async def fetch(url: str, params: Any) -> Any:
            return await client.context.send("GET", url, params=params)

        results = resource.SearchResults(
            fetch,
            Patient,
            url=f"{BASE}/fhir-r4/v1/Patient",
            base=f"{BASE}/fhir-r4/v1",
            params={"identifier": "x|y"},
            resource_type="Patient",
            max_pages=3,
        )
        found = await results.all()
    assert [p.id for p in found] == ["P1", "P2", "P3"]
    assert results.stats.pages == 3 and results.stats.incomplete
