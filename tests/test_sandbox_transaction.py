"""The sandbox's Bundle transactions over raw HTTP (issue 12): ``POST /fhir-r4/v1``.

An oracle is tested on its own: plain aiohttp, no client code. Checked against
reference/satusehat-clinical.md §1 (the request, the captured ``transaction-response``, the
error shape with ``Bundle.entry[i].resource.`` expressions, all or nothing), §1.4
(``duplicate``), §1.5 (RuleNumbers 10117 and 10132), §2.2 (UTC times, 3 June 2014) and
§2.4 (a PUT carries its id); the ambiguous write faults and the search lag.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from satusehat_async.sandbox import LocalSandbox

ORG = "10000004"
FHIR = "/fhir-r4/v1"
PATIENT = "Patient/P02478375538"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VISIT_TYPES = ["Encounter", "Condition", "Condition", "Observation", "Observation", "Observation"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def local(kind: str, value: str, org: str = ORG) -> dict[str, str]:
    return {"system": f"http://sys-ids.kemkes.go.id/{kind}/{org}", "value": value}


def urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def entry(resource: dict[str, Any], full_url: str | None, url: str | None = None) -> dict[str, Any]:
    method = "PUT" if url and "/" in url else "POST"
    found: dict[str, Any] = {
        "resource": resource,
        "request": {"method": method, "url": url or resource["resourceType"]},
    }
    if full_url is not None:
        found["fullUrl"] = full_url
    return found


def encounter(reg: str, conditions: list[str]) -> dict[str, Any]:
    start, end = "2023-08-31T00:00:00+00:00", "2023-08-31T02:00:00+00:00"
    return {
        "resourceType": "Encounter",
        "identifier": [local("encounter", reg)],
        "status": "finished",
        "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": PATIENT},
        "period": {"start": start, "end": end},
        "statusHistory": [
            {"status": "arrived", "period": {"start": start, "end": start}},
            {"status": "finished", "period": {"start": end, "end": end}},
        ],
        "diagnosis": [
            {"condition": {"reference": c}, "rank": n} for n, c in enumerate(conditions, 1)
        ],
        "serviceProvider": {"reference": f"Organization/{ORG}"},
    }


def visit(reg: str) -> dict[str, Any]:
    """An outpatient visit: an Encounter, 2 Conditions and 3 vital-sign Observations, the
    Encounter's diagnoses and every encounter reference a ``urn:uuid`` of the Bundle."""
    enc = urn(f"{reg}/enc")
    conds = [urn(f"{reg}/cond/{n}") for n in range(2)]
    entries = [entry(encounter(reg, conds), enc)]
    for n, (url, icd) in enumerate(zip(conds, ["K35.8", "J06.9"], strict=True)):
        condition = {
            "resourceType": "Condition",
            "identifier": [local("condition", f"{reg}-D{n}")],
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
        }
        entries.append(entry(condition, url))
    for n, loinc in enumerate(["8867-4", "8480-6", "8310-5"]):
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
            "effectiveDateTime": "2023-08-31T01:00:00+00:00",
        }
        entries.append(entry(observation, urn(f"{reg}/obs/{n}")))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


class Api:
    def __init__(self, http: aiohttp.ClientSession, sb: LocalSandbox, token: str) -> None:
        self.http, self.sb, self.token = http, sb, token

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        url = f"{self.sb.base_url}{FHIR}{path}"
        async with self.http.request(method, url, headers=headers, **kw) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw) if raw else None
            except ValueError:  # a gateway's text/plain answer
                return resp.status, raw.decode()

    async def transact(self, bundle: Any, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", "", json=bundle, **kw)


async def make_api(http: aiohttp.ClientSession, sb: LocalSandbox) -> Api:
    async with http.post(
        sb.base_url + "/oauth2/v1/accesstoken",
        params={"grant_type": "client_credentials"},
        data={"client_id": sb.client_id, "client_secret": sb.client_secret},
    ) as resp:
        token = (await resp.json())["access_token"]
    return Api(http, sb, token)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=10, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
async def api(sb: LocalSandbox) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield await make_api(http, sb)


def version_time(version_id: str) -> int:
    return int(base64.b64decode(version_id + "=" * (-len(version_id) % 4)).decode())


def stored_counts(sb: LocalSandbox) -> tuple[int, ...]:
    """How many Encounters, Conditions and Observations the sandbox holds."""
    return tuple(sb.resources.count(t) for t in ("Encounter", "Condition", "Observation"))


def ids_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["response"]["resourceType"], e["response"]["resourceID"]) for e in body["entry"]]


# -- success ---------------------------------------------------------------------------------
async def test_a_visit_is_stored_with_every_reference_resolved(api: Api, sb: LocalSandbox) -> None:
    status, body = await api.transact(visit("REG-1"))
    assert status == 200, body
    assert stored_counts(sb) == (1, 2, 3)
    ((_, eid), *rest) = ids_of(body)
    assert [t for t, _ in ids_of(body)] == VISIT_TYPES  # in request order
    encounter_ = sb.resources.get("Encounter", eid)
    assert encounter_ is not None
    conditions = [i for t, i in rest if t == "Condition"]
    assert [d["condition"]["reference"] for d in encounter_["diagnosis"]] == [
        f"Condition/{c}" for c in conditions
    ]
    for kind, rid in rest:
        found = sb.resources.get(kind, rid)
        assert found is not None and found["encounter"] == {"reference": f"Encounter/{eid}"}
    assert sb.stats.transactions == 1 and sb.stats.transactions_refused == 0
    assert sb.stats.resources_stored == {"Encounter": 1, "Condition": 2, "Observation": 3}


async def test_the_answer_is_satusehats_transaction_response(
    api: Api, sb: LocalSandbox, clock: Clock
) -> None:
    status, body = await api.transact(visit("REG-2"))
    assert status == 200
    assert set(body) == {"entry", "resourceType", "total", "type"}
    assert (body["resourceType"], body["type"], body["total"]) == (
        "Bundle",
        "transaction-response",
        6,
    )
    versions = set()
    for answered, kind in zip(body["entry"], VISIT_TYPES, strict=True):
        assert list(answered) == ["response"]  # no fullUrl, resource, outcome
        response = answered["response"]
        assert set(response) == {
            "etag",
            "lastModified",
            "location",
            "status",
            "resourceType",
            "resourceID",
        }
        assert response["status"] == "201 Created" and response["resourceType"] == kind
        rid = response["resourceID"]
        assert re.fullmatch(UUID, rid)
        match = re.fullmatch(
            rf"{re.escape(sb.base_url)}{FHIR}/{kind}/{rid}/_history/([A-Za-z0-9]+)",
            response["location"],
        )
        assert match is not None
        assert response["etag"] == f'W/"{match.group(1)}"'
        stored = sb.resources.get(kind, rid)
        assert stored is not None and stored["meta"]["versionId"] == match.group(1)
        assert response["lastModified"] == stored["meta"]["lastUpdated"]
        versions.add(match.group(1))
    (version,) = versions  # one transaction, one timestamp
    assert version_time(version) == int(clock.now * 1e9)
    kind, rid = ids_of(body)[3]
    assert (await api.call("GET", f"/{kind}/{rid}/_history/{version}"))[0] == 200


async def test_the_standard_style_answers_fhirs_transaction_response(clock: Clock) -> None:
    sandbox = LocalSandbox(facilities=10, clock=clock, transaction_style="standard")
    async with sandbox as sb, aiohttp.ClientSession() as http:
        api = await make_api(http, sb)
        status, body = await api.transact(visit("STD-1"))
        assert status == 200, body
        assert set(body) == {"entry", "resourceType", "type"}  # total is a searchset's
        assert body["type"] == "transaction-response"
        eid = body["entry"][0]["resource"]["id"]
        for answered, kind in zip(body["entry"], VISIT_TYPES, strict=True):
            assert set(answered) == {"fullUrl", "resource", "response"}
            stored = answered["resource"]
            assert stored == sb.resources.get(kind, stored["id"])
            assert answered["fullUrl"] == f"{sb.base_url}{FHIR}/{kind}/{stored['id']}"
            vid = stored["meta"]["versionId"]
            assert answered["response"] == {
                "status": "201 Created",
                "location": f"{kind}/{stored['id']}/_history/{vid}",
                "etag": f'W/"{vid}"',
                "lastModified": stored["meta"]["lastUpdated"],
            }
            if kind != "Encounter":
                assert stored["encounter"] == {"reference": f"Encounter/{eid}"}
        _, minimal = await api.transact(visit("STD-2"), headers={"Prefer": "return=minimal"})
        assert all(set(e) == {"fullUrl", "response"} for e in minimal["entry"])
        sb.resources.transaction_style = "satusehat"
        _, again = await api.transact(visit("STD-3"))
        assert "total" in again
        with pytest.raises(ValueError, match="transaction_style"):
            sb.resources.transaction_style = "hapi"  # type: ignore[assignment]


async def test_a_put_entry_updates_with_its_id_and_its_full_url_resolves(
    api: Api, sb: LocalSandbox
) -> None:
    _, first = await api.transact(visit("PUT-1"))
    eid = ids_of(first)[0][1]
    current = sb.resources.get("Encounter", eid)
    assert current is not None
    enc = urn("PUT-1/enc/again")
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": PATIENT},
        "encounter": {"reference": enc},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry({**current, "status": "cancelled"}, enc, f"Encounter/{eid}"),
            entry(condition, urn("PUT-1/cond/new")),
        ],
    }
    status, body = await api.transact(bundle)
    assert status == 200, body
    assert [e["response"]["status"] for e in body["entry"]] == ["200 OK", "201 Created"]
    assert ids_of(body)[0] == ("Encounter", eid)
    updated = sb.resources.get("Encounter", eid)
    assert updated is not None and updated["status"] == "cancelled"
    new = sb.resources.get("Condition", ids_of(body)[1][1])
    assert new is not None and new["encounter"] == {"reference": f"Encounter/{eid}"}
    assert sb.stats.resources_updated["Encounter"] == 1 and stored_counts(sb) == (1, 3, 3)


async def test_if_none_exist_is_honoured_only_with_conditional_create(clock: Clock) -> None:
    def with_condition(reg: str) -> dict[str, Any]:
        bundle = visit(reg)
        system = local("encounter", "")["system"]
        bundle["entry"][0]["request"]["ifNoneExist"] = f"identifier={system}|{reg}"
        for found in bundle["entry"][1:]:
            found["resource"].pop("identifier", None)
        return bundle

    async with aiohttp.ClientSession() as http:
        async with LocalSandbox(facilities=10, clock=clock) as sb:
            api = await make_api(http, sb)
            assert (await api.transact(with_condition("C-1")))[0] == 200
            status, body = await api.transact(with_condition("C-1"))
            assert status == 400 and body["issue"][0]["code"] == "duplicate"  # ignored
        async with LocalSandbox(facilities=10, clock=clock, conditional_create=True) as sb:
            api = await make_api(http, sb)
            _, first = await api.transact(with_condition("C-2"))
            status, again = await api.transact(with_condition("C-2"))
            assert status == 200, again
            assert again["entry"][0]["response"]["status"] == "200 OK"
            eid = ids_of(first)[0][1]
            assert ids_of(again)[0] == ("Encounter", eid)
            assert stored_counts(sb) == (1, 4, 6)
            for kind, rid in ids_of(again)[1:]:
                found = sb.resources.get(kind, rid)
                assert found is not None and found["encounter"]["reference"] == f"Encounter/{eid}"


# -- refusals: all or nothing, the entry's index in the expression -------------------------
def _unknown_reference(bundle: dict[str, Any]) -> None:
    bundle["entry"][4]["resource"]["encounter"]["reference"] = urn("nowhere")


def _unparseable(bundle: dict[str, Any]) -> None:
    bundle["entry"][2]["resource"]["identifier"] = "C-1"


def _not_an_object(bundle: dict[str, Any]) -> None:
    bundle["entry"][3]["resource"] = ["Observation"]


def _type_mismatch(bundle: dict[str, Any]) -> None:
    bundle["entry"][5]["request"]["url"] = "Condition"


def _other_organization(bundle: dict[str, Any]) -> None:
    bundle["entry"][1]["resource"]["identifier"] = [local("condition", "X", org="99999999")]


def _duplicate_in_bundle(bundle: dict[str, Any]) -> None:
    bundle["entry"][2]["resource"]["identifier"] = bundle["entry"][1]["resource"]["identifier"]


def _naive(bundle: dict[str, Any]) -> None:
    bundle["entry"][0]["resource"]["statusHistory"][1]["period"]["start"] = "2023-08-31T02:00:00"


def _wib(bundle: dict[str, Any]) -> None:
    bundle["entry"][5]["resource"]["effectiveDateTime"] = "2023-08-31T08:00:00+07:00"


def _space(bundle: dict[str, Any]) -> None:
    bundle["entry"][3]["resource"]["effectiveDateTime"] = "2023-08-31 01:00:00+00:00"


def _date_alone(bundle: dict[str, Any]) -> None:
    bundle["entry"][0]["resource"]["period"]["end"] = "2023-08-31"


def _too_old(bundle: dict[str, Any]) -> None:
    bundle["entry"][4]["resource"]["effectiveDateTime"] = "2014-06-02T23:59:59+00:00"


def _delete(bundle: dict[str, Any]) -> None:
    bundle["entry"][1]["request"] = {"method": "DELETE", "url": "Condition/abc"}


def _put_without_url_id(bundle: dict[str, Any]) -> None:
    bundle["entry"][0]["request"] = {"method": "PUT", "url": "Encounter"}


REFUSALS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str, str]] = {
    # name: (change, issue code, details.text (start), expression)
    "unknown urn:uuid": (
        _unknown_reference,
        "processing",
        "invalid_reference",
        "Bundle.entry[4].resource.encounter.reference",
    ),
    "unparseable": (
        _unparseable,
        "structure",
        "unparseable_resource",
        "Bundle.entry[2].resource.identifier",
    ),
    "not an object": (_not_an_object, "structure", "unparseable_resource", "Bundle.entry[3]"),
    "type mismatch": (_type_mismatch, "structure", "resource_mismatch", "Bundle.entry[5]"),
    "10117": (
        _other_organization,
        "value",
        "Wrong organization ID provided by system URL",
        "Bundle.entry[1].resource.identifier[0].system",
    ),
    "duplicate in the Bundle": (
        _duplicate_in_bundle,
        "duplicate",
        "Found duplicate resource: Condition",
        "Bundle.entry[2].resource",
    ),
    "naive": (
        _naive,
        "format",
        "Invalid date time format : 2023-08-31T02:00:00",
        "Bundle.entry[0].resource.statusHistory[1].period.start",
    ),
    "WIB": (
        _wib,
        "format",
        "Invalid date time format",
        "Bundle.entry[5].resource.effectiveDateTime",
    ),
    "space": (
        _space,
        "format",
        "Invalid date time format",
        "Bundle.entry[3].resource.effectiveDateTime",
    ),
    "date alone": (
        _date_alone,
        "format",
        "Invalid date time format",
        "Bundle.entry[0].resource.period.end",
    ),
    "before 2014-06-03": (
        _too_old,
        "value",
        "Not Allowed : Future Date or Past Date older than 03 June 2014",
        "Bundle.entry[4].resource.effectiveDateTime",
    ),
    "DELETE": (_delete, "not-supported", "invalid_request", "Bundle.entry[1].request.method"),
    "PUT without an id in the url": (
        _put_without_url_id,
        "value",
        "invalid_request",
        "Bundle.entry[0].request.url",
    ),
}


@pytest.mark.parametrize("name", list(REFUSALS))
async def test_one_bad_entry_refuses_the_whole_bundle(
    api: Api, sb: LocalSandbox, name: str
) -> None:
    change, code, text, expression = REFUSALS[name]
    bundle = visit("BAD-1")
    change(bundle)
    status, body = await api.transact(bundle)
    assert status == 400, body
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["severity"] == "error" and issue["code"] == code
    assert issue["details"]["text"].startswith(text)
    assert issue["expression"][0].startswith(expression), issue["expression"]
    if code in ("format", "value") and "RuleNumber" in json.dumps(body):
        assert body["text"] == {"status": "generated"}  # SATUSEHAT's validator
    assert stored_counts(sb) == (0, 0, 0) and sb.resources.lagging == []
    assert sb.stats.transactions == 0 and sb.stats.transactions_refused == 1
    assert sum(sb.stats.resources_stored.values()) == 0
    status, _ = await api.transact(visit("BAD-1"))  # the same visit, fixed, is taken
    assert status == 200 and stored_counts(sb) == (1, 2, 3)


async def test_rule_numbers_are_in_the_sentences(api: Api) -> None:
    for change, number in ((_other_organization, "10117"), (_naive, "10132"), (_too_old, "10132")):
        bundle = visit("RULE")
        change(bundle)
        _, body = await api.transact(bundle)
        assert body["issue"][0]["details"]["text"].endswith(f"(RuleNumber: {number})")


async def test_a_visit_already_stored_is_refused_duplicate_and_nothing_more_is_stored(
    api: Api, sb: LocalSandbox
) -> None:
    assert (await api.transact(visit("DUP-1")))[0] == 200
    status, body = await api.transact(visit("DUP-1"))
    assert status == 400
    assert body == {
        "resourceType": "OperationOutcome",
        "text": {"status": "generated"},
        "issue": [
            {
                "severity": "error",
                "code": "duplicate",
                "details": {"text": "Found duplicate resource: Encounter"},
                "expression": ["Bundle.entry[0].resource"],
            }
        ],
    }
    assert stored_counts(sb) == (1, 2, 3)


async def test_a_put_entry_without_the_id_in_its_body_is_refused(
    api: Api, sb: LocalSandbox
) -> None:
    _, first = await api.transact(visit("PID-1"))
    eid = ids_of(first)[0][1]
    current = sb.resources.get("Encounter", eid)
    assert current is not None
    del current["id"]
    bundle = visit("PID-2")
    bundle["entry"].append(entry(current, None, f"Encounter/{eid}"))
    status, body = await api.transact(bundle)
    assert status == 400
    assert body["issue"][0]["details"]["text"] == "id is required"
    assert body["issue"][0]["expression"] == ["Bundle.entry[6].resource.id"]
    current["id"] = "another"
    status, body = await api.transact(bundle)
    assert status == 400 and body["issue"][0]["details"]["text"] == "resource_mismatch"
    assert body["issue"][0]["expression"] == ["Bundle.entry[6].resource"]
    assert stored_counts(sb) == (1, 2, 3)  # PID-2's six entries were not stored either


async def test_what_is_not_a_transaction_bundle_is_refused(api: Api, sb: LocalSandbox) -> None:
    batch = {**visit("B-1"), "type": "batch"}
    status, body = await api.transact(batch)
    assert status == 400 and body["issue"][0]["expression"] == ["Bundle.type"]
    status, body = await api.transact({"resourceType": "Encounter"})
    assert status == 400 and body["issue"][0]["code"] == "structure"
    status, body = await api.call(
        "POST", "", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["issue"][0]["details"]["text"] == "unparseable_resource"
    status, _ = await api.call("POST", "", data=b"{}", headers={"Content-Type": "text/plain"})
    assert status == 415
    patient = visit("B-2")
    patient["entry"][0] = entry({"resourceType": "Patient"}, None)
    status, body = await api.transact(patient)
    assert status == 400 and body["issue"][0]["expression"] == ["Bundle.entry[0].request.url"]
    assert stored_counts(sb) == (0, 0, 0) and sb.stats.transactions_refused == 5


# -- faults and search lag on Bundle POSTs ---------------------------------------------------
@pytest.mark.parametrize("fault", ["commit_then_500", "commit_then_504", "commit_then_drop"])
async def test_ambiguous_faults_commit_the_whole_transaction(
    api: Api, sb: LocalSandbox, fault: str
) -> None:
    sb.inject(fault, method="POST", path_prefix=FHIR)
    if fault == "commit_then_drop":
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await api.transact(visit("F-1"))
    else:
        status, _ = await api.transact(visit("F-1"))
        assert status == int(fault[-3:])
    assert stored_counts(sb) == (1, 2, 3) and sb.stats.transactions == 1
    assert sb.stats.faults_injected[fault] == 1
    status, body = await api.transact(visit("F-1"))  # a blind re-send
    assert status == 400 and body["issue"][0]["code"] == "duplicate"
    assert stored_counts(sb) == (1, 2, 3)


async def test_a_fault_before_the_work_stores_nothing(api: Api, sb: LocalSandbox) -> None:
    sb.inject("503", method="POST", path_prefix=FHIR)
    assert (await api.transact(visit("F-2")))[0] == 503
    assert stored_counts(sb) == (0, 0, 0) and sb.stats.transactions == 0


async def test_late_commit_and_search_lag_apply_to_transactions(clock: Clock) -> None:
    sandbox = LocalSandbox(facilities=10, clock=clock, late_commit=(0.01, 0.02), search_lag=(5, 9))
    async with sandbox as sb, aiohttp.ClientSession() as http:
        api = await make_api(http, sb)
        sb.inject("commit_then_504", method="POST", path_prefix=FHIR)
        assert (await api.transact(visit("L-1")))[0] == 504
        assert stored_counts(sb) == (0, 0, 0) and sb.pending_commits == 1
        while sb.pending_commits:
            await asyncio.sleep(0.01)
        assert stored_counts(sb) == (1, 2, 3)  # committed after the error answer
        system = local("encounter", "")["system"]
        _, page = await api.call("GET", "/Encounter", params={"identifier": f"{system}|L-1"})
        assert page["total"] == 0 and len(sb.resources.lagging) == 6  # the index lags
        status, body = await api.transact(visit("L-1"))
        assert status == 400 and body["issue"][0]["code"] == "duplicate"  # the rule does not
        clock.now += 9
        _, page = await api.call("GET", "/Encounter", params={"identifier": f"{system}|L-1"})
        assert page["total"] == 1


async def test_random_write_faults_hit_transactions_and_stats_tell_the_truth(
    clock: Clock,
) -> None:
    kinds = ["commit_then_500", "commit_then_drop"]
    faulty = LocalSandbox(facilities=10, clock=clock, fault_rate=0.5, fault_kinds=kinds)
    async with faulty as sb, aiohttp.ClientSession() as http:
        api = await make_api(http, sb)
        answered = 0
        for n in range(20):
            with contextlib.suppress(aiohttp.ServerDisconnectedError):
                answered += (await api.transact(visit(f"R-{n}")))[0] == 200
        assert stored_counts(sb) == (20, 40, 60) and sb.stats.transactions == 20
        assert answered < 20  # some committed and failed their answer


# -- the date-time rule on single writes too -------------------------------------------------
async def test_the_datetime_rule_applies_to_single_writes_and_can_be_relaxed(
    clock: Clock,
) -> None:
    naive = encounter("T-1", [])
    naive["period"]["start"] = "2023-08-31T07:00:00+07:00"
    old = encounter("T-2", [])
    old["period"] = {"start": "2010-01-01T00:00:00+00:00"}
    async with aiohttp.ClientSession() as http:
        async with LocalSandbox(facilities=10, clock=clock) as sb:
            api = await make_api(http, sb)
            status, body = await api.call("POST", "/Encounter", json=naive)
            assert status == 400 and body["issue"][0]["expression"] == ["Encounter.period.start"]
            status, body = await api.call("POST", "/Encounter", json=old)
            assert status == 400 and body["issue"][0]["code"] == "value"
            fine = encounter("T-3", [])
            fine["meta"] = {"lastUpdated": "2010-01-01T00:00:00.123456+07:00"}  # the server's
            fine["period"]["start"] = "2023-08-31T00:00:00.250+00:00"
            assert (await api.call("POST", "/Encounter", json=fine))[0] == 201
        relaxed = LocalSandbox(facilities=10, clock=clock, datetime_rule=False, earliest_date=None)
        async with relaxed as sb:
            api = await make_api(http, sb)
            assert (await api.call("POST", "/Encounter", json=naive))[0] == 201
            assert (await api.call("POST", "/Encounter", json=old))[0] == 201
