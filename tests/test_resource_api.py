"""Issue 11: the generic FHIR resource API (``client.fhir(Encounter)``) on MockBackend.

A small FHIR store behind the official fake backend: reads, link-following searches (next
links on a foreign host rewritten onto ours), the short-of-total flag, duplicate-safe
creates under ambiguous write faults, update and patch rules, strict dict input, consent
and the organization rule.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from _support import RecordingSleep

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.errors import (
    APIError,
    BadRequestError,
    ConsentError,
    CreateOutcomeUnknown,
    NotFoundError,
    SatuSehatError,
    ServerError,
    ValidationError,
)
from satusehat_async.fhir import Condition, Encounter, Identifier, Observation, Reference
from satusehat_async.http import BackendRequest
from satusehat_async.patients import replace
from satusehat_async.resource import (
    AmbiguousIdentifierError,
    IncompleteSearchError,
    ResourceAPI,
    UnverifiableCreateOutcome,
)
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import MockBackend

ORG = "100025753"
BASE = "https://api.example.test"
FHIR = BASE + "/fhir-r4/v1"
ENC_SYSTEM = f"http://sys-ids.kemkes.go.id/encounter/{ORG}"
TOKEN = "tok-secret-123"
SUPPRESSED = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "information", "code": "suppressed", "details": {"text": "consent"}}],
}


def outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "details": {"text": text}}],
    }


@dataclass
class Store:
    """A FHIR store: pages of ``page_size`` with next links on ``link_host``; faults."""

    page_size: int = 100
    link_host: str | None = "https://healthcare.googleapis.com/v1/projects/p/fhir"
    cap: int | None = None  # SATUSEHAT: at most this many entries, no next link
    fail_after_commit: int = 0  # the next N creates commit, then answer 500
    fail_before_commit: int = 0  # the next N creates answer 500 without committing
    lag: int = 0  # a new record is missing from the next N identifier searches
    duplicate_rule: bool = True  # refuse a second record with the same local identifier
    ignore_identifier: bool = False  # a server that ignores identifier= (lists all)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    hidden: dict[str, int] = field(default_factory=dict)
    requests: list[BackendRequest] = field(default_factory=list)

    def __call__(self, request: BackendRequest) -> Any:
        if request.url.startswith(BASE + "/oauth2/"):
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        self.requests.append(request)
        assert request.url.startswith(FHIR + "/"), request.url
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        path = request.url[len(FHIR) + 1 :].split("?", 1)[0].strip("/").split("/")
        kind = path[0]
        if request.method == "POST":
            return self.create(kind, request.json())
        if request.method == "GET" and len(path) == 1:
            return self.search(kind, request)
        record = self.records.get(kind, {}).get(path[1])
        if record is None:
            return 404, outcome("not-found", f"{kind}/{path[1]} not found")
        if request.method == "PUT":
            body = request.json()
            if body.get("id") != path[1]:
                return 400, outcome("structure", "resource_mismatch")
            self.records[kind][path[1]] = body
            return 200, body
        if request.method == "PATCH":
            for op in request.json():
                record[op["path"].strip("/")] = op["value"]
            return 200, record
        return 200, record

    def tokens(self, record: dict[str, Any]) -> set[str]:
        return {f"{i.get('system')}|{i.get('value')}" for i in record.get("identifier", [])}

    def create(self, kind: str, body: dict[str, Any]) -> Any:
        stored = self.records.setdefault(kind, {})
        if self.fail_before_commit:
            self.fail_before_commit -= 1
            return 500, "Internal Server Error"
        local = {t for t in self.tokens(body) if t.startswith("http://sys-ids.kemkes.go.id/")}
        if self.duplicate_rule and any(local & self.tokens(r) for r in stored.values()):
            return 400, outcome("duplicate", f"Found duplicate resource: {kind}")
        record = {**body, "id": str(uuid.uuid4())}
        stored[record["id"]] = record
        self.hidden[record["id"]] = self.lag
        if self.fail_after_commit:
            self.fail_after_commit -= 1
            return 500, "Internal Server Error"
        return 201, {"Location": f"{FHIR}/{kind}/{record['id']}/_history/1"}, record

    def search(self, kind: str, request: BackendRequest) -> Any:
        query = request.query
        found = list(self.records.get(kind, {}).values())
        if "identifier" in query and not self.ignore_identifier:
            token = query["identifier"]
            found = [r for r in found if token in self.tokens(r)]
            visible = []
            for record in found:
                if self.hidden.get(record["id"], 0) > 0:
                    self.hidden[record["id"]] -= 1
                else:
                    visible.append(record)
            found = visible
        if "subject" in query:
            found = [r for r in found if r.get("subject", {}).get("reference") == query["subject"]]
        offset = int(query.get("_offset", "0"))
        size = min(int(query.get("_count", self.page_size)), self.page_size)
        if self.cap is not None:
            size = min(size, self.cap)
        page = found[offset : offset + size]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in page],
        }
        if self.cap is None and offset + size < len(found) and self.link_host is not None:
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "_offset")
            link = f"{self.link_host}/{kind}?{rest}&_offset={offset + size}"
            bundle["link"] = [{"relation": "next", "url": link}]
        return 200, bundle

    def posts(self) -> list[BackendRequest]:
        return [r for r in self.requests if r.method == "POST"]


def client_for(store: Any, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("circuit_breaker", CircuitBreaker(minimum_calls=1_000, window_size=1_000))
    kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_time=30))
    return SatuSehatClient(
        "id", "secret", base_url=BASE, backend=MockBackend(store), organization_id=ORG, **kwargs
    )


def encounter(n: int, *, subject: str = "Patient/P02478375538", org: str = ORG) -> Encounter:
    return Encounter(
        identifier=[
            Identifier(system="https://example.org/other", value=f"X-{n}"),
            Identifier(system=f"http://sys-ids.kemkes.go.id/encounter/{org}", value=f"RJ-{n}"),
        ],
        status="arrived",
        subject=Reference(reference=subject),
        service_provider=Reference(reference=f"Organization/{org}"),
    )


def seed(store: Store, kind: str, count: int, **extra: Any) -> list[str]:
    ids = []
    for n in range(count):
        record = {"resourceType": kind, "id": f"{kind.lower()}-{n}", "status": "final", **extra}
        store.records.setdefault(kind, {})[record["id"]] = record
        ids.append(record["id"])
    return ids


# -- the API's type and reads --------------------------------------------------------


async def test_fhir_by_class_or_name_and_unknown_names() -> None:
    async with client_for(Store()) as client:
        assert client.fhir(Encounter).cls is Encounter
        api = client.fhir("Condition")
        assert api.cls is Condition and api.url == FHIR + "/Condition"
        for bad in ("Nope", "Identifier", "encounter; drop", ""):
            with pytest.raises(ValidationError):
                client.fhir(bad)
        with pytest.raises(ValidationError, match="not a FHIR resource class"):
            client.fhir(Identifier)  # type: ignore[arg-type]


async def test_get_returns_the_typed_resource_and_not_found() -> None:
    store = Store()
    seed(store, "Observation", 1, code={"text": "nadi"})
    async with client_for(store) as client:
        observation = await client.fhir(Observation).get("observation-0")
        assert isinstance(observation, Observation)
        assert observation.id == "observation-0" and observation.status == "final"
        with pytest.raises(NotFoundError):
            await client.fhir(Observation).get("missing")
        sent = len(store.requests)
        for bad in ("..", "a/b", "x" * 65, 42):
            with pytest.raises(ValidationError):
                await client.fhir(Observation).get(bad)  # type: ignore[arg-type]
        assert len(store.requests) == sent  # refused before sending


async def test_a_read_of_another_type_is_an_api_error() -> None:
    def handler(request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        return 200, {"resourceType": "Patient", "id": "P1"}

    async with client_for(handler) as client:
        with pytest.raises(APIError, match="expected a Encounter, got Patient"):
            await client.fhir(Encounter).get("e1")


async def test_consent_suppressed_raises_on_get_and_search() -> None:
    def handler(request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        return 200, {"X-Request-Id": "rq-1"}, SUPPRESSED

    async with client_for(handler) as client:
        with pytest.raises(ConsentError):
            await client.fhir(Condition).get("c1")
        with pytest.raises(ConsentError):
            await client.fhir("AllergyIntolerance").search(patient="P02478375538").all()


# -- search ----------------------------------------------------------------------------


async def test_search_follows_foreign_next_links_on_our_own_base() -> None:
    store = Store(page_size=10)
    seed(store, "Observation", 25, subject={"reference": "Patient/P1"})
    async with client_for(store) as client:
        results = client.fhir(Observation).search(subject="Patient/P1", _count=10)
        found = [o.id async for o in results]
    assert found == [f"observation-{n}" for n in range(25)]
    assert results.stats.pages == 3 and results.stats.total == 25
    assert results.stats.complete and not results.stats.incomplete
    # every page went to our host (the store asserts it), never to the link's host
    assert all(r.url.startswith(FHIR + "/Observation?") for r in store.requests)
    assert "_offset=20" in store.requests[-1].url


async def test_search_pages_and_early_stop() -> None:
    store = Store(page_size=5)
    seed(store, "Condition", 12)
    async with client_for(store) as client:
        pages = [p async for p in client.fhir(Condition).search().pages()]
        assert [len(p.resources) for p in pages] == [5, 5, 2]
        assert [p.number for p in pages] == [1, 2, 3] and pages[-1].last
        before = len(store.requests)
        async with client.fhir(Condition).search() as results:
            async for condition in results:
                assert condition.id == "condition-0"
                break
        assert len(store.requests) == before + 1  # one page, nothing more
        assert not results.stats.exhausted
        search = client.fhir(Condition).search()
        [_ async for _ in search]
        with pytest.raises(SatuSehatError, match="already iterated"):
            search.pages()


async def test_short_of_total_is_flagged_warned_and_strict_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store(cap=100)  # SATUSEHAT: 100 entries, the true total, no next link
    seed(store, "Encounter", 722)
    async with client_for(store) as client:
        with caplog.at_level(logging.WARNING, "satusehat_async.resource"):
            results = client.fhir(Encounter).search()
            received = await results.all()
        assert len(received) == 100
        assert results.stats.total == 722 and results.stats.received == 100
        assert results.stats.incomplete and not results.stats.complete
        assert "total=722" in caplog.text and "narrow" in caplog.text
        strict = client.fhir(Encounter).search(strict=True)
        handed: list[Encounter] = []
        with pytest.raises(IncompleteSearchError) as info:
            async for e in strict:
                handed.append(e)
        assert handed == []  # the truncated page is never handed out as if complete
        assert (info.value.total, info.value.received) == (722, 100)
        # a narrower search that holds its whole total is complete, strict or not
        store.records["Encounter"] = dict(list(store.records["Encounter"].items())[:40])
        narrow = client.fhir(Encounter).search(strict=True)
        assert len(await narrow.all()) == 40 and narrow.stats.complete


async def test_answers_without_next_or_total_are_complete() -> None:
    def handler(request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        entry = [{"resource": {"resourceType": "Location", "id": "l1"}}]
        return 200, {"resourceType": "Bundle", "type": "searchset", "entry": entry}

    async with client_for(handler) as client:
        results = client.fhir("Location").search(name="Ruang 1A")
        assert [loc.id for loc in await results.all()] == ["l1"]
        assert results.stats.complete and results.stats.total is None


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2024-07-021"},
        {"date": "2024-02-30"},
        {"date": "xx2024-07-01"},
        {"_count": 0},
        {"_count": 1001},
        {"identifier": "a|b|c"},
        {"identifier": "http://x| "},
        {"subject": "Patient/ P1"},
        {"status": ""},
        {"bad name": "x"},
    ],
)
async def test_search_values_are_validated_before_sending(params: dict[str, Any]) -> None:
    store = Store()
    async with client_for(store) as client:
        with pytest.raises(ValidationError):
            client.fhir(Encounter).search(params)
    assert store.requests == []


async def test_search_parameter_forms_on_the_wire() -> None:
    store = Store()
    async with client_for(store) as client:
        await (
            client.fhir(Observation)
            .search(
                based_on="ServiceRequest/s1",
                date=["ge2024-07-01", "lt2024-08-01T00:00:00+07:00"],
                identifier=Identifier(
                    system="http://sys-ids.kemkes.go.id/observation/1", value="O1"
                ),
                _count=50,
            )
            .all()
        )
    query = store.requests[0].query
    assert query["based-on"] == "ServiceRequest/s1"
    assert query.getall("date") == ["ge2024-07-01", "lt2024-08-01T00:00:00+07:00"]
    assert query["identifier"] == "http://sys-ids.kemkes.go.id/observation/1|O1"


# -- create ----------------------------------------------------------------------------


async def test_create_searches_first_and_sends_if_none_exist() -> None:
    store = Store()
    async with client_for(store) as client:
        api = client.fhir(Encounter)
        result = await api.create(encounter(1))
        assert result.created is True
        assert result.resource is not None and result.resource.id == result.id
        post = store.posts()[0]
        # the local identifier is the create's identity, not the first one listed
        assert post.headers["If-None-Exist"] == f"identifier={ENC_SYSTEM}|RJ-1"
        assert store.requests[0].method == "GET"  # searched before writing
        again = await api.create(encounter(1))
        assert (again.id, again.created) == (result.id, False)
    assert len(store.posts()) == 1 and len(store.records["Encounter"]) == 1


async def test_ambiguous_failure_that_committed_is_reconciled_not_resent() -> None:
    store = Store(fail_after_commit=1)
    async with client_for(store) as client:
        result = await client.fhir(Encounter).create(encounter(2))
    assert result.created is True
    assert len(store.posts()) == 1  # found by the reconciling search: never re-sent
    assert list(store.records["Encounter"]) == [result.id]


async def test_ambiguous_failure_that_did_not_commit_is_resent_once() -> None:
    store = Store(fail_before_commit=1)
    async with client_for(store) as client:
        result = await client.fhir(Encounter).create(encounter(3))
    assert result.created is True and len(store.posts()) == 2
    assert list(store.records["Encounter"]) == [result.id]


async def test_duplicate_refusal_after_search_lag_is_the_existing_record() -> None:
    store = Store(fail_after_commit=1, lag=2)  # committed; two searches miss it
    async with client_for(store) as client:
        result = await client.fhir(Encounter).create(encounter(4))
        assert result.created is True  # our own first write stored it
        again = await client.fhir(Encounter).create(encounter(4))
        assert (again.id, again.created) == (result.id, False)
    assert len(store.records["Encounter"]) == 1


async def test_duplicate_refusal_of_a_record_made_elsewhere_is_created_false() -> None:
    store = Store(lag=1)
    existing = {**msgspec_dict(encounter(5)), "id": "e-old"}
    store.records["Encounter"] = {"e-old": existing}
    store.hidden["e-old"] = 1  # the search before sending misses it; the server knows
    async with client_for(store) as client:
        result = await client.fhir(Encounter).create(encounter(5))
    assert (result.id, result.created) == ("e-old", False)
    assert len(store.posts()) == 1 and len(store.records["Encounter"]) == 1


async def test_duplicate_refusal_never_found_raises_the_refusal() -> None:
    store = Store()
    store.records["Encounter"] = {"e-x": {**msgspec_dict(encounter(6)), "id": "e-x"}}
    store.hidden["e-x"] = 10_000
    async with client_for(
        store, retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_time=2)
    ) as c:
        with pytest.raises(BadRequestError, match="duplicate"):
            await c.fhir(Encounter).create(encounter(6))


async def test_no_identifier_create_is_never_resent_after_an_ambiguous_failure() -> None:
    store = Store(fail_after_commit=1)
    observation = Observation(status="final", code={"text": "nadi"})  # type: ignore[arg-type]
    async with client_for(store) as client:
        with pytest.raises(UnverifiableCreateOutcome) as info:
            await client.fhir(Observation).create(
                {"resourceType": "Observation", "status": "final"}
            )
        assert isinstance(info.value, CreateOutcomeUnknown)
        assert isinstance(info.value.last_error, ServerError)
        assert len(store.posts()) == 1
        assert not [r for r in store.requests if r.method == "GET"]  # nothing to search by
        ok = await client.fhir(Observation).create(
            {"resourceType": "Observation", "status": "final"}
        )
        assert ok.created and ok.id in store.records["Observation"]
    del observation


async def test_a_server_that_ignores_identifier_never_matches_other_records() -> None:
    store = Store(ignore_identifier=True, duplicate_rule=False)
    async with client_for(store) as client:
        first = await client.fhir(Encounter).create(encounter(7))
        second = await client.fhir(Encounter).create(encounter(8))
    assert first.id != second.id and second.created


async def test_two_records_with_the_identifier_are_ambiguous() -> None:
    store = Store()
    body = msgspec_dict(encounter(9))
    store.records["Encounter"] = {"a": {**body, "id": "a"}, "b": {**body, "id": "b"}}
    async with client_for(store) as client:
        with pytest.raises(AmbiguousIdentifierError) as info:
            await client.fhir(Encounter).create(encounter(9))
    assert set(info.value.ids) == {"a", "b"} and store.posts() == []


@pytest.mark.parametrize("kind", ["Encounter", "Condition", "Observation"])
async def test_concurrent_creates_under_faults_and_lag_leave_exactly_n(kind: str) -> None:
    store = Store(fail_after_commit=4, fail_before_commit=2, lag=1)
    n = 12
    system = f"http://sys-ids.kemkes.go.id/{kind.lower()}/{ORG}"

    def body(i: int) -> dict[str, Any]:
        return {"resourceType": kind, "identifier": [{"system": system, "value": f"L-{i}"}]}

    async with client_for(store) as client:
        api: ResourceAPI[Any] = client.fhir(kind)
        results = await asyncio.gather(*(api.create(body(i)) for i in range(n)))
        assert len(store.records[kind]) == n
        assert len({r.id for r in results}) == n
        for i, result in enumerate(results):
            stored = store.records[kind][result.id]
            assert stored["identifier"][0]["value"] == f"L-{i}"  # each its own record
        again = await asyncio.gather(*(api.create(body(i)) for i in range(n)))
        assert [(a.id, a.created) for a in again] == [(r.id, False) for r in results]
    assert len(store.records[kind]) == n


# -- input rules: strict dicts, the organization -----------------------------------------


async def test_dict_with_unknown_keys_is_refused_with_a_suggestion() -> None:
    store = Store()
    async with client_for(store) as client:
        with pytest.raises(ValidationError, match="did you mean serviceProvider"):
            await client.fhir(Encounter).create(
                {"resourceType": "Encounter", "serviceprovider": {"reference": "Organization/1"}}
            )
        with pytest.raises(ValidationError, match=r"subject\.referense \(did you mean reference"):
            await client.fhir(Encounter).update(
                {"resourceType": "Encounter", "id": "e1", "subject": {"referense": "x"}}
            )
        with pytest.raises(ValidationError, match="expected resourceType 'Encounter'"):
            await client.fhir(Encounter).create({"resourceType": "Condition"})
        with pytest.raises(ValidationError, match="expected a Encounter, got a Condition"):
            await client.fhir(Encounter).create(Condition())  # type: ignore[arg-type]
    assert store.requests == []


async def test_another_organizations_local_identifier_is_refused_before_sending() -> None:
    store = Store()
    async with client_for(store) as client:
        foreign = encounter(10, org="999999")
        for call in (client.fhir(Encounter).create, client.fhir(Encounter).update):
            with pytest.raises(ValidationError) as info:
                await call(foreign)
            assert "999999" in str(info.value) and ORG in str(info.value)
        made = client.fhir(Encounter).local_identifier("RJ-77")
        assert (made.system, made.value) == (ENC_SYSTEM, "RJ-77")
    assert store.requests == []


# -- update and patch ------------------------------------------------------------------


async def test_update_puts_with_the_id_in_the_body_and_refuses_missing_or_mismatch() -> None:
    store = Store()
    async with client_for(store) as client:
        api = client.fhir(Encounter)
        created = await api.create(encounter(11))
        assert created.resource is not None
        with pytest.raises(ValidationError, match="id in the body"):
            await api.update(encounter(11))
        with pytest.raises(ValidationError, match="mismatch"):
            await api.update(created.resource, resource_id="other")
        sent = len(store.requests)
        finished = msgspec_replace(created.resource, status="finished")
        updated = await api.update(finished)
        assert updated.status == "finished" and updated.id == created.id
        put = store.requests[sent]
        assert put.method == "PUT" and put.url == f"{FHIR}/Encounter/{created.id}"
        assert put.json()["id"] == created.id
        assert (await api.get(created.id)).status == "finished"


async def test_patch_sends_replace_operations() -> None:
    store = Store()
    seed(store, "Location", 1)
    async with client_for(store) as client:
        api = client.fhir("Location")
        patched = await api.patch("location-0", [replace("/status", "inactive")])
        assert patched.status == "inactive"
        request = store.requests[-1]
        assert request.headers["Content-Type"] == "application/json-patch+json"
        assert request.json() == [{"op": "replace", "path": "/status", "value": "inactive"}]
        sent = len(store.requests)
        with pytest.raises(ValidationError, match="only 'replace'"):
            await api.patch("location-0", [{"op": "remove", "path": "/status"}])
        with pytest.raises(ValidationError):
            await api.patch("..", [replace("/status", "active")])
        assert len(store.requests) == sent


def msgspec_dict(resource: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.json.decode(msgspec.json.encode(resource))  # type: ignore[no-any-return]


def msgspec_replace(resource: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(resource, **changes)


async def test_a_non_local_identifier_is_looked_for_over_the_window_not_resent() -> None:
    # A NIK is not kept unique by the store: after an ambiguous failure one search that
    # misses (search lag) must not lead to a second write.
    store = Store(fail_after_commit=1, lag=3, duplicate_rule=False)
    nik = {"system": "https://fhir.kemkes.go.id/id/nik", "value": "7209061211900001"}
    async with client_for(store) as client:
        api = client.fhir("Practitioner")
        result = await api.create({"resourceType": "Practitioner", "identifier": [nik]})
        assert result.created is True
        assert store.posts()[0].headers["If-None-Exist"].startswith("identifier=https://fhir")
    assert len(store.posts()) == 1 and list(store.records["Practitioner"]) == [result.id]


# -- against the sandbox (an independent FHIR store) -------------------------------------

SB_ORG = "10000004"
PATIENT = {"reference": "Patient/P02478375538"}
CODE = {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}
SANDBOX_TYPES = [
    "Encounter",
    "Condition",
    "Observation",
    "Practitioner",
    "Organization",
    "Location",
]


def sandbox_body(kind: str, n: int, org: str = SB_ORG) -> dict[str, Any]:
    """A minimal resource of ``kind`` with a local identifier of ``org``."""
    identifier = [
        {"system": f"http://sys-ids.kemkes.go.id/{kind.lower()}/{org}", "value": f"L-{n}"}
    ]
    by_kind: dict[str, dict[str, Any]] = {
        "Encounter": {
            "status": "arrived",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": PATIENT,
            "serviceProvider": {"reference": f"Organization/{org}"},
        },
        "Condition": {"code": {"text": "K35.8"}, "subject": PATIENT},
        "Observation": {"status": "final", "code": CODE, "subject": PATIENT},
        "Practitioner": {"name": [{"text": f"dr. Nomor {n}"}], "gender": "female"},
        "Organization": {"name": f"Poli {n}", "partOf": {"reference": f"Organization/{org}"}},
        "Location": {"name": f"Ruang {n}", "status": "active", "mode": "instance"},
    }
    return {"resourceType": kind, "identifier": identifier, **by_kind[kind]}


def sandbox_client(sb: Any, **kwargs: Any) -> SatuSehatClient:
    # real (short) sleeps: the sandbox's search lag runs on the wall clock
    kwargs.setdefault("circuit_breaker", CircuitBreaker(minimum_calls=1_000, window_size=1_000))
    kwargs.setdefault("retry", RetryPolicy(max_attempts=6, base_delay=0.02, max_time=60))
    client: SatuSehatClient = sb.client(**kwargs)
    return client


@pytest.mark.parametrize("kind", SANDBOX_TYPES)
async def test_sandbox_create_get_update_patch_search(kind: str) -> None:
    from satusehat_async.testing import Sandbox

    async with Sandbox(facilities=1) as sb, sandbox_client(sb) as client:
        api: ResourceAPI[Any] = client.fhir(kind)
        results = [await api.create(sandbox_body(kind, n)) for n in range(7)]
        assert all(r.created for r in results) and len({r.id for r in results}) == 7
        first = await api.get(results[0].id)
        assert first.id == results[0].id and first.identifier[0].value == "L-0"
        updated = await api.update(msgspec_replace(first, language="en"))
        assert updated.language == "en" and (await api.get(first.id)).language == "en"
        patched = await api.patch(first.id, [replace("/language", "id")])
        assert patched.language == "id" and (await api.get(first.id)).language == "id"
        search = api.search(_count=3)
        found = await search.all()
        assert sorted(r.id for r in found) == sorted(r.id for r in results)
        assert search.stats.pages == 3 and search.stats.complete
        token = f"http://sys-ids.kemkes.go.id/{kind.lower()}/{SB_ORG}|L-4"
        assert [r.id for r in await api.search(identifier=token).all()] == [results[4].id]
        with pytest.raises(NotFoundError):
            await api.get("00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize("kind", SANDBOX_TYPES)
async def test_sandbox_concurrent_creates_under_write_faults_and_lag_leave_exactly_n(
    kind: str,
) -> None:
    from satusehat_async.testing import Sandbox

    n = 8
    async with Sandbox(facilities=1, seed=3, search_lag=(0.02, 0.15)) as sb:
        path = f"/fhir-r4/v1/{kind}"
        for fault in ("commit_then_500", "commit_then_504", "commit_then_drop", "503"):
            sb.inject(fault, count=2, method="POST", path_prefix=path)
        async with sandbox_client(sb) as client:
            api: ResourceAPI[Any] = client.fhir(kind)
            results = await asyncio.gather(*(api.create(sandbox_body(kind, i)) for i in range(n)))
            assert sb.resources.count(kind) == n
            assert len({r.id for r in results}) == n
            for i, result in enumerate(results):
                stored = sb.resources.get(kind, result.id)
                assert stored is not None and stored["identifier"][0]["value"] == f"L-{i}"
            again = await asyncio.gather(*(api.create(sandbox_body(kind, i)) for i in range(n)))
            assert [(a.id, a.created) for a in again] == [(r.id, False) for r in results]
        assert sb.resources.count(kind) == n
        assert not sb.faults.pending  # every injected fault was met


async def test_sandbox_satusehat_style_search_is_flagged_incomplete() -> None:
    from satusehat_async.testing import Sandbox

    async with Sandbox(facilities=1, fhir_search_style="satusehat") as sb:
        for n in range(130):
            sb.resources.add(sandbox_body("Encounter", n))
        async with sandbox_client(sb) as client:
            search = client.fhir(Encounter).search(subject="Patient/P02478375538")
            assert len(await search.all()) == 100
            assert search.stats.total == 130 and search.stats.incomplete
            with pytest.raises(IncompleteSearchError):
                await client.fhir(Encounter).search(strict=True).all()


async def test_sandbox_refuses_what_the_client_refuses_first() -> None:
    from satusehat_async.testing import Sandbox

    async with Sandbox(facilities=1) as sb:
        async with sandbox_client(sb) as client:
            with pytest.raises(ValidationError, match="99999"):
                await client.fhir("Location").create(sandbox_body("Location", 1, org="99999"))
        # without the client's rule the server's RuleNumber 10117 refuses it
        async with sandbox_client(sb, organization_id=None) as bare:
            with pytest.raises(BadRequestError, match="10117"):
                await bare.fhir("Location").create(sandbox_body("Location", 1, org="99999"))
        assert sb.resources.count("Location") == 0


async def test_a_conditional_create_match_is_created_false() -> None:
    # A standard FHIR server honouring If-None-Exist answers 200 with the existing record.
    existing = {**msgspec_dict(encounter(12)), "id": "e-12"}

    def handler(request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        if request.method == "GET":  # the search lags: it shows nothing yet
            return 200, {"resourceType": "Bundle", "type": "searchset", "total": 0}
        assert request.headers["If-None-Exist"] == f"identifier={ENC_SYSTEM}|RJ-12"
        return 200, existing

    async with client_for(handler) as client:
        result = await client.fhir(Encounter).create(encounter(12))
    assert (result.id, result.created) == ("e-12", False)


def test_an_identifier_system_alone_means_any_value_in_it() -> None:
    from satusehat_async.resource.query import search_params

    assert search_params(identifier="http://sys-ids.kemkes.go.id/encounter/1|") == {
        "identifier": "http://sys-ids.kemkes.go.id/encounter/1|"
    }
    for bad in ("|", " ", "a|b|c", "urn:x| v", " urn:x|v"):
        with pytest.raises(ValidationError):
            search_params(identifier=bad)
