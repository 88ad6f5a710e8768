"""The client against a real third-party FHIR R4 server (Medplum's engine; see fhir_server.py).

Our sandbox is not the only judge: the same wire calls the FHIR layer makes — create, read,
update (PUT with the id in the body), search across pages by ``link[next]``, conditional
create (``If-None-Exist``) and transaction Bundles with ``urn:uuid`` references — are sent
to an implementation we did not write, for Patient, Encounter and Observation. Requests go
through ``SatuSehatClient.request(..., authenticate=False)`` (the server has no OAuth);
plain aiohttp is used where a status code or header is the point.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fhir_server import FhirServerInfo, fhir_base_url, fhir_server, unique_system  # noqa: F401

from satusehat_async import SatuSehatClient
from satusehat_async.errors import BadRequestError, NotFoundError

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
AMB = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}


@pytest.fixture
async def client(fhir_server: FhirServerInfo) -> AsyncIterator[SatuSehatClient]:  # noqa: F811
    async with SatuSehatClient("cid", "csecret", base_url=fhir_server.origin) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=FHIR_JSON) as session:
        yield session


async def fhir(client: SatuSehatClient, method: str, path: str, **kwargs: Any) -> Any:
    """One FHIR call through the client, against the server's FHIR base (no token)."""
    url = path if path.startswith("http") else f"{client.endpoints.fhir_url}/{path}"
    return await client.request(method, url, authenticate=False, **kwargs)


def patient(system: str, value: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": "Uji", "given": ["Coba"]}],
        "birthDate": "1990-01-31",
    }


def encounter(system: str, value: str, subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": system, "value": value}],
        "status": "arrived",
        "class": AMB,
        "subject": {"reference": subject},
        "period": {"start": "2024-05-01T01:00:00+00:00"},
    }


def observation(system: str, value: str, subject: str, enc: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": system, "value": value}],
        "status": "final",
        "code": HEART_RATE,
        "subject": {"reference": subject},
        "encounter": {"reference": enc},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org"},
    }


async def test_metadata_names_the_third_party_server(client: SatuSehatClient) -> None:
    capability = await fhir(client, "GET", "metadata")
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"] == "4.0.1"
    assert "medplum" in capability["software"]["name"]


async def test_create_read_update_patient_encounter_observation(client: SatuSehatClient) -> None:
    system = unique_system("crud")
    created_patient = await fhir(client, "POST", "Patient", json=patient(system, "p1"))
    subject = f"Patient/{created_patient['id']}"
    created_encounter = await fhir(
        client, "POST", "Encounter", json=encounter(system, "e1", subject)
    )
    enc = f"Encounter/{created_encounter['id']}"
    created_obs = await fhir(
        client, "POST", "Observation", json=observation(system, "o1", subject, enc)
    )

    for created in (created_patient, created_encounter, created_obs):
        kind, rid = created["resourceType"], created["id"]
        read = await fhir(client, "GET", f"{kind}/{rid}")
        assert read["id"] == rid
        assert read["identifier"] == created["identifier"]
        assert read["meta"]["versionId"] == created["meta"]["versionId"]

    # An update is a PUT of the whole resource with its id in the body.
    moved = {**created_encounter, "status": "in-progress"}
    updated = await fhir(client, "PUT", enc, json=moved)
    assert updated["id"] == created_encounter["id"]
    assert updated["status"] == "in-progress"
    assert updated["meta"]["versionId"] != created_encounter["meta"]["versionId"]
    assert (await fhir(client, "GET", enc))["status"] == "in-progress"
    history = await fhir(client, "GET", f"{enc}/_history")
    assert len(history["entry"]) == 2

    found = await fhir(client, "GET", "Observation", params={"encounter": enc})
    assert [e["resource"]["id"] for e in found["entry"]] == [created_obs["id"]]


async def test_search_follows_next_links_across_pages(client: SatuSehatClient) -> None:
    system = unique_system("paging")
    subject = f"Patient/{(await fhir(client, 'POST', 'Patient', json=patient(system, 'p')))['id']}"
    enc = await fhir(client, "POST", "Encounter", json=encounter(system, "e", subject))
    expected = set()
    for n in range(5):
        obs = observation(system, f"o{n}", subject, f"Encounter/{enc['id']}")
        expected.add((await fhir(client, "POST", "Observation", json=obs))["id"])

    page = await fhir(
        client, "GET", "Observation", params={"identifier": f"{system}|", "_count": 2}
    )
    assert page["total"] == 5
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        seen += [entry["resource"]["id"] for entry in page.get("entry", [])]
        following = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
        if not following:
            break
        assert following[0].startswith(client.endpoints.fhir_url)  # our own host only
        page = await fhir(client, "GET", following[0])
    assert pages == 3
    assert len(seen) == 5
    assert set(seen) == expected


async def test_conditional_create_returns_the_existing_resource(
    http: aiohttp.ClientSession,
    fhir_base_url: str,  # noqa: F811
) -> None:
    system = unique_system("conditional")
    body = patient(system, "nik-1")
    headers = {"If-None-Exist": f"identifier={system}|nik-1"}
    async with http.post(f"{fhir_base_url}/Patient", json=body, headers=headers) as first:
        assert first.status == 201
        assert first.headers["Location"].startswith(f"{fhir_base_url}/Patient/")
        first_id = (await first.json(content_type=None))["id"]
    async with http.post(f"{fhir_base_url}/Patient", json=body, headers=headers) as again:
        assert again.status == 200
        assert (await again.json(content_type=None))["id"] == first_id
    search = f"{fhir_base_url}/Patient?identifier={system}|nik-1"
    async with http.get(search) as found:
        assert (await found.json(content_type=None))["total"] == 1


def visit_bundle(system: str, visit: str) -> dict[str, Any]:
    """A transaction: Patient, Encounter, two Observations, joined by urn:uuid references."""
    ids = {name: f"urn:uuid:{uuid.uuid4()}" for name in ("patient", "encounter")}

    def entry(full_url: str | None, resource: dict[str, Any]) -> dict[str, Any]:
        value = resource["identifier"][0]["value"]
        request = {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={system}|{value}",
        }
        item: dict[str, Any] = {"resource": resource, "request": request}
        if full_url:
            item["fullUrl"] = full_url
        return item

    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(ids["patient"], patient(system, f"{visit}-p")),
            entry(ids["encounter"], encounter(system, f"{visit}-e", ids["patient"])),
            entry(None, observation(system, f"{visit}-o1", ids["patient"], ids["encounter"])),
            entry(None, observation(system, f"{visit}-o2", ids["patient"], ids["encounter"])),
        ],
    }


async def test_transaction_resolves_references_and_resubmission_creates_nothing(
    client: SatuSehatClient,
) -> None:
    system = unique_system("transaction")
    bundle = visit_bundle(system, "v1")
    answer = await fhir(client, "POST", "", json=bundle)
    assert answer["type"] == "transaction-response"
    statuses = [entry["response"]["status"] for entry in answer["entry"]]
    assert [s.split()[0] for s in statuses] == ["201"] * 4
    locations = [entry["response"]["location"] for entry in answer["entry"]]
    patient_ref, encounter_ref = locations[0], locations[1]
    for location in locations[2:]:
        obs = await fhir(client, "GET", location)
        assert obs["subject"] == {"reference": patient_ref}
        assert obs["encounter"] == {"reference": encounter_ref}
    enc = await fhir(client, "GET", encounter_ref)
    assert enc["subject"] == {"reference": patient_ref}

    again = await fhir(client, "POST", "", json=visit_bundle(system, "v1"))
    assert [entry["response"]["status"].split()[0] for entry in again["entry"]] == ["200"] * 4
    assert [entry["response"]["location"] for entry in again["entry"]] == locations
    for kind, count in (("Patient", 1), ("Encounter", 1), ("Observation", 2)):
        found = await fhir(client, "GET", kind, params={"identifier": f"{system}|"})
        assert found["total"] == count


async def test_transaction_is_all_or_nothing(client: SatuSehatClient) -> None:
    system = unique_system("atomic")
    bundle = visit_bundle(system, "v1")
    del bundle["entry"][3]["resource"]["status"]  # a required element: the entry is refused
    with pytest.raises(BadRequestError) as refused:
        await fhir(client, "POST", "", json=bundle)
    assert refused.value.operation_outcome is not None
    for kind in ("Patient", "Encounter", "Observation"):
        found = await fhir(client, "GET", kind, params={"identifier": f"{system}|"})
        assert found["total"] == 0, f"{kind} kept from a refused transaction"


async def test_server_refuses_what_r4_does_not_allow(client: SatuSehatClient) -> None:
    system = unique_system("refusals")
    unknown = {**patient(system, "x"), "birthdate": "1990-01-31"}  # not an R4 element
    with pytest.raises(BadRequestError) as refused:
        await fhir(client, "POST", "Patient", json=unknown)
    assert "birthdate" in str(refused.value.body)

    created = await fhir(client, "POST", "Patient", json=patient(system, "y"))
    with pytest.raises(BadRequestError):  # the id in the body must be the one in the URL
        await fhir(client, "PUT", f"Patient/{created['id']}", json={**created, "id": "other"})
    with pytest.raises(NotFoundError):
        await fhir(client, "GET", f"Patient/{uuid.uuid4()}")
