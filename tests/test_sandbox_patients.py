"""The sandbox's Patient endpoints over raw HTTP, checked against captured SATUSEHAT shapes."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from satusehat_async.testing import Sandbox

NIK = "https://fhir.kemkes.go.id/id/nik"
NIK_IBU = "https://fhir.kemkes.go.id/id/nik-ibu"
IHS = "https://fhir.kemkes.go.id/id/ihs-number"
MOTHER = "9104025209000006"
CAPTURED = Path(__file__).parent / "fixtures" / "captured"


class Api:
    """A raw HTTP helper: every call returns (status, headers, decoded body or None)."""

    def __init__(self, http: aiohttp.ClientSession, sb: Sandbox, token: str) -> None:
        self.http, self.sb, self.token = http, sb, token
        self.base = f"{sb.base_url}/fhir-r4/v1/Patient"

    async def call(
        self, method: str, url: str | URL, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        async with self.http.request(method, url, headers=headers, **kw) as resp:
            raw = await resp.read()
            return resp.status, resp.headers, json.loads(raw) if raw else None

    async def create(self, resource: Any, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", self.base, json=resource, **kw)

    async def search(self, **params: str) -> tuple[int, Any, Any]:
        return await self.call("GET", self.base, params=params)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=10) as sandbox:
        yield sandbox


async def make_api(http: aiohttp.ClientSession, sb: Sandbox) -> Api:
    async with http.post(
        sb.base_url + "/oauth2/v1/accesstoken",
        params={"grant_type": "client_credentials"},
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    ) as resp:
        token = (await resp.json())["access_token"]
    return Api(http, sb, token)


@pytest.fixture
async def api(sb: Sandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield await make_api(http, sb)


def salsabilla(nik: str = MOTHER) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NIK, "use": "official", "value": nik}],
        "active": True,
        "name": [{"use": "official", "text": "Salsabilla Anjani Rizki"}],
        "gender": "female",
        "birthDate": "2001-04-16",
        "language": "en",
        "address": [{"use": "temp", "line": ["Gd. Dr. Sujuki Lt.1, Jl. H.R. Rasuna Said"]}],
        "link": [{"other": {"reference": "RelatedPerson/f2aea232"}, "type": "refer"}],
    }


def baby(name: str, born: str, order: int | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": NIK_IBU, "use": "official", "value": MOTHER}],
        "name": [{"use": "official", "text": name}],
        "birthDate": born,
        "gender": "male",
    }
    if order is not None:
        resource["multipleBirthInteger"] = order
    return resource


def captured(name: str) -> Any:
    path = CAPTURED / f"{name}.json"
    if not path.exists():
        pytest.skip("captured answers not available")
    return json.loads(path.read_text())


# -- create --------------------------------------------------------------------------------
async def test_create_answers_the_stored_resource(api: Api, sb: Sandbox) -> None:
    status, headers, body = await api.create(salsabilla())
    assert status == 201
    assert re.fullmatch(r"P\d{11}", body["id"])
    assert body["identifier"][0] == {"system": IHS, "use": "official", "value": body["id"]}
    assert body["active"] is True
    version = body["meta"]["versionId"]
    assert headers["ETag"] == f'W/"{version}"'
    assert headers["Location"].endswith(f"/Patient/{body['id']}/_history/{version}")
    assert headers["Last-Modified"].endswith(" GMT")
    assert sb.stats.patients_stored == 1
    fhir_json = {"Content-Type": "application/fhir+json"}
    data = json.dumps(salsabilla("3171011507900002"))
    status, _, _ = await api.call("POST", api.base, data=data, headers=fhir_json)
    assert status == 201
    status, _, body = await api.call("POST", api.base, data=data, headers={"Content-Type": "x/y"})
    assert status == 415


async def test_create_can_answer_the_envelope() -> None:
    async with Sandbox(facilities=10, create_answer="envelope") as sb, aiohttp.ClientSession() as h:
        api = await make_api(h, sb)
        status, _, body = await api.create(salsabilla())
        assert status == 201
        assert body["success"] is True
        assert body["message"] == "New Patient has been created successfully"
        assert body["data"]["Patient ID:"] == sb.patients.ids[0]


async def test_duplicate_nik_answers_200_failure_envelope(api: Api, sb: Sandbox) -> None:
    _, _, first = await api.create(salsabilla())
    status, _, body = await api.create(salsabilla())
    assert status == 200
    assert body == {
        "success": False,
        "message": "Failed to create new patient, another identifier has found",
        "data": {"resourceID": first["id"]},
    }
    assert len(sb.patients) == 1


async def test_twins_by_nik_ibu_are_never_deduplicated(api: Api, sb: Sandbox) -> None:
    for order in (1, 2):
        status, _, body = await api.create(baby("Bayi Ny. Salsabilla", "2025-05-01", order))
        assert status == 201
    status, _, body = await api.create(baby("Bayi Ny. Salsabilla", "2025-06-01"))
    assert status == 201
    assert body["multipleBirthInteger"] == 0  # a single birth, as the server fills it in
    assert len(sb.patients) == 3
    status, _, bundle = await api.search(identifier=f"{NIK_IBU}|{MOTHER}")
    assert status == 200
    assert bundle["total"] == 3
    babies = [e["resource"] for e in bundle["entry"]]
    assert [b["multipleBirthInteger"] for b in babies] == [1, 2, 0]
    assert all(b["name"][0]["text"] == "Bayi Ny. Salsabilla" for b in babies)  # unmasked
    assert {b["identifier"][1]["value"] for b in babies} == {MOTHER}
    assert [b["birthDate"] for b in babies] == ["2025-05-01", "2025-05-01", "2025-06-01"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{not json", "unparseable_resource"),
        (b'{"resourceType": "Observation"}', "resource_mismatch"),
        (b"[]", "resource_mismatch"),
        (b'{"resourceType": "Patient"}', "invalid_resource"),
        (b'{"resourceType": "Patient", "identifier": [{"system": "x", "value": "1"}]}', None),
        (json.dumps(salsabilla("123")).encode(), "invalid_resource"),
        (json.dumps({**baby("b", "2025-01-01"), "birthDate": None}).encode(), "invalid_resource"),
        (json.dumps({**salsabilla(), "birthDate": "16-04-2001"}).encode(), "invalid_resource"),
        (json.dumps({**salsabilla(), "gender": "f"}).encode(), "invalid_resource"),
    ],
)
async def test_bad_bodies_answer_400_operation_outcome(
    api: Api, sb: Sandbox, body: bytes, text: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    status, _, outcome = await api.call("POST", api.base, data=body, headers=headers)
    assert status == 400
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["details"]["text"] == (text or "invalid_resource")
    assert issue["diagnostics"]
    assert len(sb.patients) == 0


async def test_conditional_create_when_switched_on() -> None:
    async with Sandbox(facilities=10, conditional_create=True) as sb, aiohttp.ClientSession() as h:
        api = await make_api(h, sb)
        condition = {"If-None-Exist": f"identifier={NIK}|{MOTHER}"}
        status, _, created = await api.create(salsabilla(), headers=condition)
        assert status == 201
        status, headers, again = await api.create(salsabilla(), headers=condition)
        assert status == 200
        assert again == created
        assert headers["ETag"] == f'W/"{created["meta"]["versionId"]}"'
        assert sb.stats.patients_stored == 1
        twins = {"If-None-Exist": f"identifier={NIK_IBU}%7C{MOTHER}"}
        for order in (1, 2):
            await api.create(baby("Bayi", "2025-01-01", order))
        status, _, outcome = await api.create(baby("Bayi", "2025-01-01", 3), headers=twins)
        assert status == 412
        assert outcome["resourceType"] == "OperationOutcome"


async def test_if_none_exist_is_ignored_by_default_like_satusehat(api: Api, sb: Sandbox) -> None:
    # SATUSEHAT is not documented to honour If-None-Exist: a duplicate NIK gets the 200
    # failure envelope, whatever the request's headers say
    assert sb.patients.conditional_create is False
    condition = {"If-None-Exist": f"identifier={NIK}|{MOTHER}"}
    _, _, created = await api.create(salsabilla(), headers=condition)
    status, _, body = await api.create(salsabilla(), headers=condition)
    assert status == 200
    assert body == {
        "success": False,
        "message": "Failed to create new patient, another identifier has found",
        "data": {"resourceID": created["id"]},
    }
    assert sb.stats.patients_stored == 1


async def test_create_status_can_be_200(api: Api, sb: Sandbox) -> None:
    sb.patients.create_status = 200
    status, _, body = await api.create(salsabilla())
    assert status == 200 and body["id"] == sb.patients.ids[0]


async def test_bad_nik_diagnostics_are_masked(api: Api) -> None:
    status, _, outcome = await api.create(salsabilla("31710123456789012"))
    assert status == 400
    assert "31710123456789012" not in json.dumps(outcome)
    assert "3171********9012" in outcome["issue"][0]["diagnostics"]


# -- search --------------------------------------------------------------------------------
async def test_search_by_nik_is_masked_like_the_captured_answer(api: Api) -> None:
    _, _, created = await api.create(salsabilla())
    url = URL(f"{api.base}?identifier=https://fhir.kemkes.go.id/id/nik%7C{MOTHER}", encoded=True)
    status, _, bundle = await api.call("GET", url)
    assert status == 200
    real = captured("patient_search_nik")
    assert set(bundle) == set(real)
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    assert [link["relation"] for link in bundle["link"]] == ["search", "first", "self"]
    assert "nik%7C9104025209000006" in bundle["link"][0]["url"]
    entry = bundle["entry"][0]
    assert entry["fullUrl"] == f"{api.base}/{created['id']}"
    resource = entry["resource"]
    assert set(resource) == set(real["entry"][0]["resource"])
    assert resource["identifier"][1]["value"] == "################"
    assert resource["name"] == [{"text": "Sa** An** Ri**", "use": "official"}]
    status, _, named = await api.search(
        identifier=f"{NIK}|{MOTHER}", name="salsabilla anjani rizki"
    )
    assert named["entry"] == bundle["entry"]
    _, _, other = await api.search(identifier=f"{NIK}|{MOTHER}", name="Ghina")
    assert other["total"] == 0


async def test_search_by_name_birthdate_and_nik_is_unmasked(api: Api) -> None:
    _, _, created = await api.create(salsabilla())
    status, _, bundle = await api.search(
        identifier=f"{NIK}|{MOTHER}", name="Salsabilla Anjani Rizki", birthdate="2001-04-16"
    )
    assert status == 200
    assert bundle["entry"][0]["resource"] == created


async def test_search_by_name_birthdate_gender_masks_nik_and_address(api: Api) -> None:
    await api.create(salsabilla())
    await api.create({**salsabilla("3171011507900003"), "gender": "male"})
    status, _, bundle = await api.search(name="Salsabilla", birthdate="2001-04-16", gender="female")
    assert status == 200
    assert bundle["total"] == 1
    resource = bundle["entry"][0]["resource"]
    assert resource["name"][0]["text"] == "Salsabilla Anjani Rizki"
    assert resource["identifier"][1]["value"] == "################"
    assert resource["address"][0]["line"] == ["Gd. Dr. S***"]
    assert bundle["link"][0]["url"].endswith(
        "/Patient/?birthdate=2001-04-16&gender=female&name=Salsabilla"
    )


async def test_search_without_match_is_an_empty_bundle(api: Api) -> None:
    status, _, bundle = await api.search(
        name="Ghina Assyifani", birthdate="2001-04-16", gender="female"
    )
    assert status == 200
    real = captured("patient_search_not_found")
    assert set(bundle) == set(real)
    assert (bundle["total"], bundle["entry"]) == (0, [])


@pytest.mark.parametrize(
    "params",
    [
        {"name": "Salsabilla"},
        {"identifier": f"{NIK}|{MOTHER}", "gender": "female"},
        {"identifier": f"{IHS}|P02280547535"},
        {"identifier": MOTHER},
        {"name": "a", "birthdate": "2001-04-16"},
        {"family": "x"},
        {"name": "a", "birthdate": "16-04-2001", "gender": "female"},
    ],
)
async def test_unsupported_searches_answer_invalid_query(api: Api, params: dict[str, str]) -> None:
    status, _, outcome = await api.search(**params)
    assert status == 400
    assert outcome["issue"][0]["details"]["text"] == "invalid_query"


# -- read and patch ------------------------------------------------------------------------
async def test_read_has_etag_and_unknown_is_404(api: Api) -> None:
    _, _, created = await api.create(salsabilla())
    status, headers, body = await api.call("GET", f"{api.base}/{created['id']}")
    assert status == 200
    assert body == created
    assert headers["ETag"] == f'W/"{created["meta"]["versionId"]}"'
    assert "Last-Modified" in headers
    status, _, outcome = await api.call("GET", f"{api.base}/P00000000000")
    assert status == 404
    issue = outcome["issue"][0]
    assert (issue["code"], issue["details"]["text"]) == ("not-found", "resource not found")


async def test_patch_replace_bumps_the_version(api: Api, sb: Sandbox) -> None:
    _, _, created = await api.create({**salsabilla(), "x~y/z": 1})
    url = f"{api.base}/{created['id']}"
    ops = [
        {"op": "replace", "path": "/language", "value": "id"},
        {"op": "replace", "path": "/name/0/text", "value": "Salsabilla A. Rizki"},
        {"op": "replace", "path": "/x~0y~1z", "value": 2},
    ]
    patch_json = {"Content-Type": "application/json-patch+json"}
    status, headers, body = await api.call("PATCH", url, data=json.dumps(ops), headers=patch_json)
    assert status == 200
    assert body["language"] == "id"
    assert body["name"][0]["text"] == "Salsabilla A. Rizki"
    assert body["x~y/z"] == 2
    assert body["meta"]["versionId"] != created["meta"]["versionId"]
    assert headers["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    _, _, read = await api.call("GET", url)
    assert read == body
    # plain application/json works too, and If-Match with the current ETag
    status, _, _ = await api.call(
        "PATCH", url, json=[ops[0]], headers={"If-Match": headers["ETag"]}
    )
    assert status == 200
    status, _, _ = await api.call(
        "PATCH", url, json=[ops[0]], headers={"If-Match": headers["ETag"]}
    )
    assert status == 412  # that version is gone now
    assert sb.stats.patches_applied == 2


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "add", "path": "/language", "value": "id"}], "not-supported"),
        ([{"op": "remove", "path": "/language"}], "not-supported"),
        ([{"op": "replace", "path": "/maritalStatus", "value": "M"}], "processing"),
        ([{"op": "replace", "path": "/name/5/text", "value": "x"}], "processing"),
        ([{"op": "replace", "path": "/id", "value": "P1"}], "invalid"),
        ([{"op": "replace", "path": "language", "value": "id"}], "invalid"),
        ([{"op": "replace", "path": "/language"}], "invalid"),
        ([], "invalid"),
        ({"op": "replace"}, "invalid"),
    ],
)
async def test_bad_patches_answer_400_and_change_nothing(
    api: Api, ops: Any, code: str, sb: Sandbox
) -> None:
    _, _, created = await api.create(salsabilla())
    url = f"{api.base}/{created['id']}"
    ok = [{"op": "replace", "path": "/language", "value": "id"}]
    status, _, outcome = await api.call("PATCH", url, json=[*ok, *ops] if ops else ops)
    assert status == 400
    issue = outcome["issue"][0]
    assert (issue["code"], issue["details"]["text"]) == (code, "invalid_patch")
    assert sb.patients.get(created["id"]) == created  # all or nothing


async def test_patch_errors_outside_the_operations(api: Api) -> None:
    status, _, _ = await api.call("PATCH", f"{api.base}/P00000000001", json=[])
    assert status == 404
    _, _, created = await api.create(salsabilla())
    url = f"{api.base}/{created['id']}"
    status, _, _ = await api.call("PATCH", url, data="[]", headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, outcome = await api.call(
        "PATCH", url, data="[{", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert outcome["issue"][0]["details"]["text"] == "unparseable_resource"
    await api.create(salsabilla("3171011507900009"))
    ops = [{"op": "replace", "path": "/identifier/1/value", "value": "3171011507900009"}]
    status, _, outcome = await api.call("PATCH", url, json=ops)
    assert status == 400
    assert outcome["issue"][0]["details"]["text"] == "duplicate_identifier"
    ops[0]["value"] = "3171011507900010"
    status, _, _ = await api.call("PATCH", url, json=ops)
    assert status == 200
    _, _, found = await api.search(identifier=f"{NIK}|3171011507900010")
    assert found["entry"][0]["resource"]["id"] == created["id"]
    _, _, gone = await api.search(identifier=f"{NIK}|{MOTHER}")
    assert gone["total"] == 0
