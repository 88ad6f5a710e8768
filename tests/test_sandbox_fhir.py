"""The sandbox's FHIR store over raw HTTP (issue 11): every resource type but Patient.

An oracle is tested on its own: plain aiohttp, no client code. Checked against the wire
shapes of reference/satusehat-clinical.md: create 201 with a UUID, meta and Location;
read; PUT with the id in the body; JSON Patch; searches and their paging; the
``duplicate`` and RuleNumber 10117 refusals; SATUSEHAT's search style; the faults.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from satusehat_async.sandbox import LocalSandbox

ORG = "10000004"
FHIR = "/fhir-r4/v1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
PATIENT = "Patient/P02478375538"
KINDS = {
    "Encounter": "encounter",
    "Condition": "condition",
    "Observation": "observation",
    "Practitioner": "practitioner",
    "Organization": "organization",
    "Location": "location",
}
TYPES = sorted(KINDS)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def local(kind: str, value: str, org: str = ORG) -> dict[str, str]:
    return {"system": f"http://sys-ids.kemkes.go.id/{kind}/{org}", "value": value}


def resource(kind: str, value: str | None = None, **elements: Any) -> dict[str, Any]:
    """A minimal resource of type ``kind`` with, if ``value``, one local identifier."""
    body: dict[str, Any] = {"resourceType": kind, **elements}
    if value is not None:
        body["identifier"] = [local(KINDS.get(kind, kind.lower()), value)]
    if kind in ("Encounter", "Condition", "Observation") and "subject" not in body:
        body["subject"] = {"reference": PATIENT}
    return body


class Api:
    """Raw HTTP against the sandbox: every call returns (status, headers, decoded body)."""

    def __init__(self, http: aiohttp.ClientSession, sb: LocalSandbox, token: str) -> None:
        self.http, self.sb, self.token = http, sb, token

    def url(self, path: str) -> str:
        return f"{self.sb.base_url}{FHIR}/{path}"

    async def call(
        self, method: str, url: str | URL, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        async with self.http.request(method, url, headers=headers, **kw) as resp:
            raw = await resp.read()
            try:
                return resp.status, resp.headers, json.loads(raw) if raw else None
            except ValueError:  # a gateway's text/plain or HTML answer
                return resp.status, resp.headers, raw.decode()

    async def create(self, body: dict[str, Any], **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", self.url(body["resourceType"]), json=body, **kw)

    async def put(self, path: str, body: Any) -> tuple[int, Any, Any]:
        return await self.call("PUT", self.url(path), json=body)

    async def patch(
        self, path: str, ops: Any, content_type: str = "application/json-patch+json"
    ) -> tuple[int, Any, Any]:
        data = json.dumps(ops).encode()
        return await self.call(
            "PATCH", self.url(path), data=data, headers={"Content-Type": content_type}
        )

    async def search(self, kind: str, **params: str) -> tuple[int, Any, Any]:
        return await self.call("GET", self.url(kind), params=params)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=10, clock=clock) as sandbox:
        yield sandbox


async def make_api(http: aiohttp.ClientSession, sb: LocalSandbox) -> Api:
    async with http.post(
        sb.base_url + "/oauth2/v1/accesstoken",
        params={"grant_type": "client_credentials"},
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    ) as resp:
        token = (await resp.json())["access_token"]
    return Api(http, sb, token)


@pytest.fixture
async def api(sb: LocalSandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield await make_api(http, sb)


def version_time(version_id: str) -> int:
    """SATUSEHAT's versionId: unpadded base64 of the decimal nanosecond time."""
    return int(base64.b64decode(version_id + "=" * (-len(version_id) % 4)).decode())


# -- create, read, update, patch -------------------------------------------------------------
@pytest.mark.parametrize("kind", TYPES)
async def test_create_answers_201_with_a_uuid_meta_and_location(
    api: Api, sb: LocalSandbox, kind: str
) -> None:
    status, headers, body = await api.create(resource(kind, "A-1", id="mine"))
    assert status == 201, body
    assert UUID.fullmatch(body["id"]) and body["id"] != "mine"  # the server assigns ids
    assert list(body) == sorted(body)  # Google's serializer sorts keys
    vid = body["meta"]["versionId"]
    assert version_time(vid) == 1_700_000_000 * 10**9
    assert body["meta"]["lastUpdated"] == "2023-11-14T22:13:20.000000+00:00"
    assert headers["Location"] == f"{sb.base_url}{FHIR}/{kind}/{body['id']}/_history/{vid}"
    assert headers["ETag"] == f'W/"{vid}"'
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert body["identifier"] == [local(KINDS[kind], "A-1")]
    assert sb.resources.ids(kind) == [body["id"]]
    assert sb.stats.resources_stored[kind] == 1

    status, headers, read = await api.call("GET", api.url(f"{kind}/{body['id']}"))
    assert (status, read) == (200, body)
    assert "Location" not in headers and headers["ETag"] == f'W/"{vid}"'


@pytest.mark.parametrize("kind", TYPES)
async def test_read_of_an_absent_resource_is_a_404_operation_outcome(api: Api, kind: str) -> None:
    status, _, body = await api.call("GET", api.url(f"{kind}/{'0' * 8}-0000-4000-8000-{'0' * 12}"))
    assert status == 404
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize("kind", TYPES)
async def test_put_replaces_the_resource_and_increments_the_version(
    api: Api, sb: LocalSandbox, clock: Clock, kind: str
) -> None:
    _, _, created = await api.create(resource(kind, "U-1"))
    clock.now += 5
    changed = {**created, "active": False}
    status, headers, updated = await api.put(f"{kind}/{created['id']}", changed)
    assert status == 200, updated
    assert updated["active"] is False and updated["id"] == created["id"]
    old, new = created["meta"]["versionId"], updated["meta"]["versionId"]
    assert version_time(new) == version_time(old) + 5 * 10**9
    assert headers["Location"].endswith(f"/{kind}/{created['id']}/_history/{new}")
    assert sb.stats.resources_updated[kind] == 1
    # every version stays readable at its Location
    status, _, first = await api.call("GET", api.url(f"{kind}/{created['id']}/_history/{old}"))
    assert (status, first) == (200, created)
    status, _, _ = await api.call("GET", api.url(f"{kind}/{created['id']}/_history/nope"))
    assert status == 404


@pytest.mark.parametrize("kind", TYPES)
async def test_json_patch_changes_the_resource(api: Api, sb: LocalSandbox, kind: str) -> None:
    _, _, created = await api.create(resource(kind, "P-1", status="active"))
    path = f"{kind}/{created['id']}"
    ops = [
        {"op": "replace", "path": "/status", "value": "inactive"},
        {"op": "add", "path": "/identifier/-", "value": {"system": "urn:x", "value": "1"}},
        {"op": "test", "path": "/identifier/1/value", "value": "1"},
        {"op": "copy", "from": "/status", "path": "/language"},
        {"op": "remove", "path": "/language"},
    ]
    status, headers, patched = await api.patch(path, ops)
    assert status == 200, patched
    assert patched["status"] == "inactive" and "language" not in patched
    assert patched["identifier"][1] == {"system": "urn:x", "value": "1"}
    assert patched["meta"]["versionId"] != created["meta"]["versionId"]
    assert headers["Location"].endswith(patched["meta"]["versionId"])
    assert sb.resources.get(kind, created["id"]) == patched


async def test_patch_refusals_change_nothing(api: Api, sb: LocalSandbox) -> None:
    _, _, created = await api.create(resource("Encounter", "P-2", status="arrived"))
    path = f"Encounter/{created['id']}"
    replace = [{"op": "replace", "path": "/status", "value": "finished"}]
    status, _, body = await api.patch(path, replace, content_type="application/json")
    assert status == 415 and body["issue"][0]["code"] == "not-supported"
    for ops, code in [
        ([{"op": "test", "path": "/status", "value": "planned"}, *replace], "processing"),
        ([{"op": "replace", "path": "/nope", "value": 1}], "processing"),
        ([{"op": "replace", "path": "/id", "value": "x"}], "invalid"),
        ([{"op": "jump", "path": "/status"}], "not-supported"),
        ([], "invalid"),
    ]:
        status, _, body = await api.patch(path, ops)
        assert status == 400 and body["issue"][0]["code"] == code, ops
    status, _, _ = await api.patch("Encounter/absent", replace)
    assert status == 404
    assert sb.resources.get("Encounter", created["id"]) == created


async def test_put_without_id_or_with_another_id_is_refused_as_satusehat_does(
    api: Api, sb: LocalSandbox
) -> None:
    _, _, created = await api.create(resource("Encounter", "E-1", status="arrived"))
    path = f"Encounter/{created['id']}"
    without = {k: v for k, v in created.items() if k != "id"}
    status, _, body = await api.put(path, without)
    assert status == 400
    assert body == {
        "issue": [
            {
                "code": "required",
                "details": {"text": "id is required"},
                "diagnostics": f'the body of PUT {path} must carry "id": "{created["id"]}"',
                "expression": ["Encounter.id"],
                "severity": "error",
            }
        ],
        "resourceType": "OperationOutcome",
    }
    status, _, body = await api.put(path, {**created, "id": "other-id"})
    assert status == 400
    assert body == {  # the captured fixture, key for key
        "issue": [
            {
                "code": "structure",
                "details": {"text": "resource_mismatch"},
                "diagnostics": "resource id mismatch, id of specified resource: "
                f"{created['id']}, id from payload: other-id",
                "severity": "error",
            }
        ],
        "resourceType": "OperationOutcome",
    }
    status, _, body = await api.put(path, {**created, "resourceType": "Condition"})
    assert status == 400 and body["issue"][0]["details"]["text"] == "resource_mismatch"
    status, _, _ = await api.put("Encounter/absent", {**created, "id": "absent"})
    assert status == 404
    assert sb.resources.get("Encounter", created["id"]) == created


async def test_create_refuses_what_is_not_a_resource_of_the_path_type(
    api: Api, sb: LocalSandbox
) -> None:
    url = api.url("Encounter")
    status, _, body = await api.call("POST", url, json={"resourceType": "Condition"})
    assert status == 400 and body["issue"][0]["details"]["text"] == "resource_mismatch"
    json_type = {"Content-Type": "application/json"}
    for data in (b"{", b"[]"):
        status, _, body = await api.call("POST", url, data=data, headers=json_type)
        assert status == 400 and body["issue"][0]["details"]["text"] == "unparseable_resource"
    text = {"Content-Type": "text/plain"}
    status, _, _ = await api.call("POST", url, data=b'{"resourceType":"Encounter"}', headers=text)
    assert status == 415
    assert len(sb.resources) == 0


async def test_unknown_types_are_wrong_urls_and_patient_keeps_its_own_routes(
    api: Api,
) -> None:
    status, _, body = await api.call("GET", api.url("Encounters"))
    assert (status, body) == (404, None)
    status, _, body = await api.call("PUT", api.url("Patient/P1"), json={"resourceType": "Patient"})
    assert (status, body) == (405, None)  # the MPI takes no PUT
    status, headers, body = await api.search("Patient", identifier="x|y")
    assert status == 400 and headers["Content-Type"].startswith("application/json")


# -- searches and paging ----------------------------------------------------------------------
async def collect(api: Api, kind: str, **params: str) -> tuple[list[str], list[int]]:
    """Follow ``next`` links from a first search; returns the ids and each page's size."""
    status, _, page = await api.search(kind, **params)
    ids: list[str] = []
    sizes: list[int] = []
    while True:
        assert status == 200, page
        entries = page.get("entry", [])
        ids += [e["resource"]["id"] for e in entries]
        sizes.append(len(entries))
        assert all(e["fullUrl"].endswith(f"/{kind}/{e['resource']['id']}") for e in entries)
        assert all(e["search"] == {"mode": "match"} for e in entries)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            return ids, sizes
        assert following[0].startswith(f"{api.sb.base_url}{FHIR}/{kind}?")  # absolute, ours
        status, _, page = await api.call("GET", URL(following[0], encoded=True))


@pytest.mark.parametrize("kind", TYPES)
async def test_search_by_identifier_and_paging_with_count(
    api: Api, sb: LocalSandbox, kind: str
) -> None:
    created = []
    for n in range(7):
        _, _, body = await api.create(resource(kind, f"S-{n}"))
        created.append(body["id"])
    system = local(KINDS[kind], "")["system"]
    status, _, found = await api.search(kind, identifier=f"{system}|S-3")
    assert status == 200 and found["total"] == 1
    assert found["entry"][0]["resource"]["id"] == created[3]
    for query in (f"{system}|", "S-3", f"{system}|S-3,{system}|S-4"):
        _, _, found = await api.search(kind, identifier=query)
        assert found["total"] == {f"{system}|": 7, "S-3": 1}.get(query, 2), query
    _, _, none = await api.search(kind, identifier=f"{system}|nope")
    assert none == {
        "link": none["link"],
        "resourceType": "Bundle",
        "total": 0,
        "type": "searchset",
    }  # no entry at all, as Google's store answers
    ids, sizes = await collect(api, kind, identifier=f"{system}|", _count="3")
    assert ids == created and sizes == [3, 3, 1]
    _, _, first = await api.search(kind, _count="3")
    assert first["total"] == 7 and len(first["entry"]) == 3


async def test_search_by_subject_patient_and_encounter(api: Api) -> None:
    _, _, visit = await api.create(resource("Encounter", "V-1"))
    encounter = {"reference": f"Encounter/{visit['id']}"}
    other = {"reference": "Patient/P03647103112"}
    ids = []
    for n, subject in enumerate([{"reference": PATIENT}, other, {"reference": PATIENT}]):
        _, _, c = await api.create(
            resource("Condition", f"C-{n}", subject=subject, encounter=encounter)
        )
        ids.append(c["id"])
    _, _, allergy = await api.create(
        resource("AllergyIntolerance", "A-1", patient={"reference": PATIENT})
    )

    async def found(kind: str, **params: str) -> list[str]:
        status, _, page = await api.search(kind, **params)
        assert status == 200, page
        assert page["total"] == len(page.get("entry", []))
        return [e["resource"]["id"] for e in page.get("entry", [])]

    assert await found("Condition", subject=PATIENT) == [ids[0], ids[2]]
    assert await found("Condition", subject="P02478375538") == [ids[0], ids[2]]
    assert await found("Condition", patient="P03647103112") == [ids[1]]
    assert await found("Condition", encounter=visit["id"]) == ids
    assert await found("Condition", encounter=f"Encounter/{visit['id']}", subject=PATIENT) == [
        ids[0],
        ids[2],
    ]
    assert await found("AllergyIntolerance", patient=PATIENT) == [allergy["id"]]
    assert await found("Encounter", subject=PATIENT) == [visit["id"]]
    assert await found("Condition", encounter="Encounter/absent") == []


async def test_bad_search_parameters_are_invalid_query(api: Api) -> None:
    for params in (
        {"nope": "1"},
        {"_count": "-1"},
        {"_count": "x"},
        {"_page_token": "!!"},
        {"subject": ""},
    ):
        status, _, body = await api.search("Encounter", **params)
        assert status == 400, params
        assert body["issue"][0]["details"]["text"] == "invalid_query"
    status, _, body = await api.search("Encounter", _sort="date", _elements="id")
    assert status == 200  # other _ parameters are harmless


async def test_satusehat_search_style_caps_at_100_with_the_true_total_and_no_link(
    clock: Clock,
) -> None:
    satusehat = LocalSandbox(facilities=10, clock=clock, fhir_search_style="satusehat")
    async with satusehat as sb, aiohttp.ClientSession() as http:
        api = await make_api(http, sb)
        for n in range(130):
            await api.create(resource("Encounter", f"E-{n}"))
        status, _, page = await api.search("Encounter", subject=PATIENT)
        assert status == 200
        assert page["total"] == 130 and len(page["entry"]) == 100
        assert "link" not in page  # as captured: total 722, 100 entries, no link
        _, _, page = await api.search("Encounter", subject=PATIENT, _count="500")
        assert len(page["entry"]) == 100 and "link" not in page
        sb.resources.search_style = "standard"  # settable while serving
        ids, sizes = await collect(api, "Encounter", subject=PATIENT)
        assert sizes == [100, 30] and ids == sb.resources.ids("Encounter")
    with pytest.raises(ValueError, match="search_style"):
        LocalSandbox(fhir_search_style="google")  # type: ignore[arg-type]


# -- the duplicate and organization rules ----------------------------------------------------
@pytest.mark.parametrize("kind", TYPES)
async def test_a_second_create_of_a_local_identifier_is_a_duplicate(
    api: Api, sb: LocalSandbox, kind: str
) -> None:
    status, _, first = await api.create(resource(kind, "D-1"))
    assert status == 201
    status, headers, body = await api.create(resource(kind, "D-1", status="changed"))
    assert status == 400
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert body == {
        "issue": [
            {
                "code": "duplicate",
                "details": {"text": f"Found duplicate resource: {kind}"},
                "severity": "error",
            }
        ],
        "resourceType": "OperationOutcome",
        "text": {"status": "generated"},
    }
    assert sb.resources.ids(kind) == [first["id"]]
    status, _, _ = await api.create(resource(kind, "D-2"))  # another value is another record
    assert status == 201
    # the store's own identifiers (not local ones) are not a duplicate key
    plain = {"resourceType": kind, "identifier": [{"system": "urn:x", "value": "1"}]}
    assert (await api.create(plain))[0] == (await api.create(plain))[0] == 201


async def test_duplicate_key_is_the_set_of_local_identifiers(api: Api) -> None:
    def line(item: str) -> dict[str, Any]:
        return {
            "resourceType": "MedicationRequest",
            "identifier": [local("prescription", "R-1"), local("prescription-item", item)],
        }

    assert (await api.create(line("1")))[0] == 201
    assert (await api.create(line("2")))[0] == 201  # a prescription's second line
    status, _, body = await api.create(line("1"))
    assert status == 400 and body["issue"][0]["code"] == "duplicate"


async def test_an_update_cannot_take_another_resources_identifier(api: Api) -> None:
    _, _, first = await api.create(resource("Location", "L-1"))
    _, _, second = await api.create(resource("Location", "L-2"))
    status, _, body = await api.put(
        f"Location/{second['id']}", {**second, "identifier": first["identifier"]}
    )
    assert status == 400 and body["issue"][0]["code"] == "duplicate"
    ops = [{"op": "replace", "path": "/identifier/0/value", "value": "L-1"}]
    status, _, body = await api.patch(f"Location/{second['id']}", ops)
    assert status == 400 and body["issue"][0]["code"] == "duplicate"
    status, _, _ = await api.put(f"Location/{first['id']}", {**first, "name": "Ruang 1A"})
    assert status == 200  # its own identifier is no duplicate


@pytest.mark.parametrize("kind", TYPES)
async def test_a_local_identifier_of_another_organization_is_rule_10117(
    api: Api, sb: LocalSandbox, kind: str
) -> None:
    system = f"http://sys-ids.kemkes.go.id/{KINDS[kind]}/99999999"
    body = resource(
        kind, identifier=[{"system": "urn:x", "value": "1"}, {"system": system, "value": "X"}]
    )
    status, _, answer = await api.create(body)
    assert status == 400
    assert answer == {
        "issue": [
            {
                "code": "value",
                "details": {
                    "text": f"Wrong organization ID provided by system URL: {system} "
                    "(RuleNumber: 10117)"
                },
                "expression": [f"{kind}.identifier[1].system"],
                "severity": "error",
            }
        ],
        "resourceType": "OperationOutcome",
        "text": {"status": "generated"},
    }
    assert sb.resources.count(kind) == 0
    _, _, stored = await api.create(resource(kind, "O-1"))
    ops = [{"op": "replace", "path": "/identifier/0/system", "value": system}]
    status, _, answer = await api.patch(f"{kind}/{stored['id']}", ops)
    assert status == 400 and "RuleNumber: 10117" in answer["issue"][0]["details"]["text"]


async def test_the_organization_is_the_sandboxs_and_environ_names_it(clock: Clock) -> None:
    async with LocalSandbox(facilities=10, clock=clock, organization_id="100026489") as sb:
        assert sb.organization_id == "100026489"
        assert sb.environ()["SATUSEHAT_ORGANIZATION_ID"] == "100026489"
        async with aiohttp.ClientSession() as http:
            api = await make_api(http, sb)
            report = {
                "resourceType": "DiagnosticReport",
                "identifier": [  # …/diagnostic/{org}/lab
                    {
                        "system": local("diagnostic", "", "100026489")["system"] + "/lab",
                        "value": "1",
                    }
                ],
            }
            assert (await api.create(report))[0] == 201
            status, _, body = await api.create(resource("Encounter", "E-1"))  # names 10000004
            assert status == 400 and "10117" in body["issue"][0]["details"]["text"]
            composition = {"resourceType": "Composition", "identifier": local("composition", "K-1")}
            status, _, body = await api.create(composition)  # a single identifier object
            assert body["issue"][0]["expression"] == ["Composition.identifier.system"]
    assert LocalSandbox().organization_id == ORG  # the default: the reference's example
    with pytest.raises(ValueError, match="organization_id"):
        LocalSandbox(organization_id="a/b")


# -- conditional create ---------------------------------------------------------------------------
async def test_if_none_exist_is_ignored_unless_the_knob_says_so(api: Api, sb: LocalSandbox) -> None:
    system = local("encounter", "")["system"]
    header = {"If-None-Exist": f"identifier={system}|C-1"}
    _, _, first = await api.create(resource("Encounter", "C-1"))
    status, _, body = await api.create(resource("Encounter", "C-1"), headers=header)
    assert status == 400 and body["issue"][0]["code"] == "duplicate"  # like SATUSEHAT
    sb.resources.conditional_create = True
    status, headers, body = await api.create(resource("Encounter", "C-1"), headers=header)
    assert (status, body) == (200, first)  # a standard FHIR server: the existing one
    assert "Location" not in headers
    other = {"If-None-Exist": f"identifier={system}|C-2"}
    status, _, body = await api.create(resource("Encounter", "C-2"), headers=other)
    assert status == 201
    await api.create(resource("Encounter", "C-3", status="x"))
    status, _, body = await api.create(
        resource("Encounter"), headers={"If-None-Exist": "subject=" + PATIENT}
    )
    assert status == 412  # many match
    status, _, body = await api.create(resource("Encounter"), headers={"If-None-Exist": "bogus=1"})
    assert status == 400 and body["issue"][0]["details"]["text"] == "invalid_query"
    assert sb.resources.count("Encounter") == 3
    assert LocalSandbox(conditional_create=True).resources.conditional_create is True


# -- faults on a generic type -------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["commit_then_500", "commit_then_504", "commit_then_drop"])
async def test_ambiguous_write_faults_commit_every_type(
    api: Api, sb: LocalSandbox, fault: str
) -> None:
    sb.inject(fault, method="POST", path_prefix=f"{FHIR}/Observation")
    if fault == "commit_then_drop":
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await api.create(resource("Observation", "F-1"))
    else:
        status, _, _ = await api.create(resource("Observation", "F-1"))
        assert status == int(fault[-3:])
    assert sb.resources.count("Observation") == 1 and sb.stats.resources_stored["Observation"] == 1
    status, _, body = await api.create(resource("Observation", "F-1"))  # a blind re-send
    assert status == 400 and body["issue"][0]["code"] == "duplicate"
    stored = sb.resources.ids("Observation")[0]
    sb.inject(fault, method="PUT")
    current = sb.resources.get("Observation", stored)
    assert current is not None
    with contextlib.suppress(aiohttp.ServerDisconnectedError):
        await api.put(f"Observation/{stored}", {**current, "status": "final"})
    after = sb.resources.get("Observation", stored)
    assert after is not None and after["status"] == "final"


async def test_late_commit_and_search_lag_apply_to_every_type(clock: Clock) -> None:
    async with (
        LocalSandbox(
            facilities=10, clock=clock, late_commit=(0.01, 0.02), search_lag=(10, 20)
        ) as sb,
        aiohttp.ClientSession() as http,
    ):
        api = await make_api(http, sb)
        sb.inject("commit_then_504", path_prefix=f"{FHIR}/Condition")
        status, _, _ = await api.create(resource("Condition", "L-1"))
        assert status == 504 and sb.resources.count("Condition") == 0
        assert sb.pending_commits == 1
        while sb.pending_commits:
            await asyncio.sleep(0.01)
        assert sb.resources.count("Condition") == 1  # committed after the error answer
        (cid,) = sb.resources.ids("Condition")
        system = local("condition", "")["system"]
        _, _, page = await api.search("Condition", identifier=f"{system}|L-1")
        assert page["total"] == 0  # the search index lags
        assert sb.resources.lagging == [("Condition", cid)]
        assert (await api.call("GET", api.url(f"Condition/{cid}")))[0] == 200  # reads do not
        status, _, body = await api.create(resource("Condition", "L-1"))
        assert status == 400 and body["issue"][0]["code"] == "duplicate"  # nor the rule
        clock.now += 20
        _, _, page = await api.search("Condition", identifier=f"{system}|L-1")
        assert page["total"] == 1
        await api.create(resource("Condition", "L-2"))
        await sb.settle()
        _, _, page = await api.search("Condition")
        assert page["total"] == 2 and sb.resources.lagging == []


async def test_random_write_faults_hit_generic_writes_and_stats_tell_the_truth(
    clock: Clock,
) -> None:
    kinds = ["503", "commit_then_500", "commit_then_drop"]
    faulty = LocalSandbox(facilities=10, clock=clock, fault_rate=0.4, fault_kinds=kinds)
    async with faulty as sb, aiohttp.ClientSession() as http:
        api = await make_api(http, sb)
        answered = 0
        for n in range(40):
            try:
                status, _, _ = await api.create(resource("Practitioner", f"R-{n}"))
                answered += status == 201
            except aiohttp.ServerDisconnectedError:
                pass
        stored = sb.resources.count("Practitioner")
        assert stored == sb.stats.resources_stored["Practitioner"]
        assert answered < stored < 40  # some committed and failed; some never committed
        assert sb.stats.faults_injected["commit_then_500"] > 0


async def test_metadata_is_a_capability_statement(api: Api) -> None:
    status, _, body = await api.call("GET", api.url("metadata"))
    assert status == 200 and body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    assert {"Encounter", "Observation", "Patient"} <= {
        r["type"] for r in body["rest"][0]["resource"]
    }
