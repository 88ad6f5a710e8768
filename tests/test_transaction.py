"""Issue 12: Bundle transactions (``fhir.Transaction``, ``resource.transaction``) on MockBackend.

A small all-or-nothing FHIR store that answers transactions in SATUSEHAT's form or the
standard one, with ambiguous write faults, search lag and the duplicate rule: the builder,
both answer shapes, refusals mapped to the caller's entry, reconciliation before sending
and after ambiguous failures, and transactions without identifiers never re-sent.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from _support import RecordingSleep

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.errors import (
    CreateOutcomeUnknown,
    ServerError,
    TransactionError,
    UnverifiableTransactionOutcome,
    ValidationError,
)
from satusehat_async.fhir import (
    Condition,
    Encounter,
    Identifier,
    Observation,
    Period,
    Reference,
    Transaction,
    TransactionResult,
)
from satusehat_async.http import BackendRequest
from satusehat_async.idempotency import ReconcileWindow
from satusehat_async.resource import transaction
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import MockBackend

ORG = "100025753"
BASE = "https://api.example.test"
FHIR = BASE + "/fhir-r4/v1"
TOKEN = "tok-secret-123"
LOCAL = "http://sys-ids.kemkes.go.id"


def outcome(code: str, text: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "details": {"text": text}}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@dataclass
class Store:
    """An all-or-nothing FHIR store with transactions, faults and search lag."""

    style: str = "satusehat"  # or "standard"
    fail_after_commit: int = 0  # the next N transactions commit, then answer 500
    fail_before_commit: int = 0  # the next N answer 500 without committing
    lag: int = 0  # a new record is missing from the next N identifier searches of it
    duplicate_rule: bool = True  # refuse a second record with the same local identifier
    honour_if_none_exist: bool = False
    refuse: dict[str, Any] | None = None  # the next transaction is answered 400 with this
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    hidden: dict[str, int] = field(default_factory=dict)
    requests: list[BackendRequest] = field(default_factory=list)
    bundles: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: BackendRequest) -> Any:
        if request.url.startswith(BASE + "/oauth2/"):
            return 200, {"access_token": TOKEN, "expires_in": "3600"}
        self.requests.append(request)
        if request.method == "POST":
            assert request.url == FHIR, request.url  # the FHIR base, not /Bundle
            return self.transaction(request.json())
        kind = request.url[len(FHIR) + 1 :].split("?", 1)[0]
        return self.search(kind, request.query["identifier"])

    def tokens(self, record: dict[str, Any]) -> set[str]:
        return {f"{i.get('system')}|{i.get('value')}" for i in record.get("identifier", [])}

    def find(self, kind: str, token: str) -> list[dict[str, Any]]:
        return [r for r in self.records.get(kind, {}).values() if token in self.tokens(r)]

    def transaction(self, bundle: dict[str, Any]) -> Any:
        self.bundles.append(bundle)
        if self.refuse is not None:
            refusal, self.refuse = self.refuse, None
            return 400, refusal
        if self.fail_before_commit:
            self.fail_before_commit -= 1
            return 500, "Internal Server Error"
        staged, answers, urns = [], [], {}
        for entry in bundle["entry"]:
            resource, request = entry["resource"], entry["request"]
            kind = resource["resourceType"]
            local = {t for t in self.tokens(resource) if t.startswith(LOCAL)}
            clash = [r for t in local for r in self.find(kind, t)]
            if self.duplicate_rule and clash:
                return 400, outcome("duplicate", f"Found duplicate resource: {kind}")
            query = request.get("ifNoneExist", "")
            existing = self.find(kind, query.split("=", 1)[1]) if query else []
            if self.honour_if_none_exist and existing:
                urns[entry.get("fullUrl")] = f"{kind}/{existing[0]['id']}"
                answers.append((kind, existing[0]["id"], "200 OK"))
                continue
            record = {**resource, "id": resource.get("id") or str(uuid.uuid4())}
            urns[entry.get("fullUrl")] = f"{kind}/{record['id']}"
            staged.append(record)
            answers.append((kind, record["id"], "201 Created"))
        for record in staged:  # resolve urn:uuid references, all or nothing
            self.resolve(record, urns)
            self.records.setdefault(record["resourceType"], {})[record["id"]] = record
            self.hidden[record["id"]] = self.lag
        if self.fail_after_commit:
            self.fail_after_commit -= 1
            return 500, "Internal Server Error"
        return 200, self.response(answers)

    def resolve(self, value: Any, urns: dict[str, str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "reference" and isinstance(item, str) and item.startswith("urn:"):
                    assert item in urns, f"unresolved {item}"
                    value[key] = urns[item]
                else:
                    self.resolve(item, urns)
        elif isinstance(value, list):
            for item in value:
                self.resolve(item, urns)

    def response(self, answers: list[tuple[str, str, str]]) -> dict[str, Any]:
        entries = []
        for kind, rid, status in answers:
            if self.style == "satusehat":
                response = {
                    "status": status,
                    "location": f"{FHIR}/{kind}/{rid}/_history/MTc1",
                    "etag": 'W/"MTc1"',
                    "resourceType": kind,
                    "resourceID": rid,
                }
            else:
                response = {"status": status.split()[0], "location": f"{kind}/{rid}/_history/1"}
            entries.append({"response": response})
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}

    def search(self, kind: str, token: str) -> Any:
        visible = []
        for record in self.find(kind, token):
            if self.hidden.get(record["id"], 0) > 0:
                self.hidden[record["id"]] -= 1
            else:
                visible.append(record)
        entries = [{"resource": r, "search": {"mode": "match"}} for r in visible]
        return 200, {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(visible),
            "entry": entries,
        }

    def posts(self) -> list[BackendRequest]:
        return [r for r in self.requests if r.method == "POST"]

    def count(self, kind: str) -> int:
        return len(self.records.get(kind, {}))


def client_for(store: Any, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("circuit_breaker", CircuitBreaker(minimum_calls=1_000, window_size=1_000))
    kwargs.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.01, max_time=30))
    return SatuSehatClient(
        "id", "secret", base_url=BASE, backend=MockBackend(store), organization_id=ORG, **kwargs
    )


def local(kind: str, value: str, org: str = ORG) -> Identifier:
    return Identifier(system=f"{LOCAL}/{kind}/{org}", value=value)


def visit(n: int, *, identified: bool = True) -> Transaction:
    """An Encounter, 2 Conditions and 3 Observations, wired by urn:uuid references."""
    tx = Transaction()
    enc = tx.add(
        Encounter(
            identifier=[local("encounter", f"RJ-{n}")] if identified else None,
            status="finished",
            subject=Reference(reference="Patient/P02478375538"),
            period=Period(start="2024-07-01T08:00:00+07:00", end="2024-07-01T09:00:00+07:00"),
            service_provider=Reference(reference=f"Organization/{ORG}"),
        )
    )
    for d in range(2):
        tx.add(
            Condition(
                identifier=[local("condition", f"RJ-{n}-D{d}")] if identified else None,
                subject=Reference(reference="Patient/P02478375538"),
                encounter=enc,
            )
        )
    for o in range(3):
        tx.add(
            {
                "resourceType": "Observation",
                "identifier": [{"system": f"{LOCAL}/observation/{ORG}", "value": f"RJ-{n}-O{o}"}]
                if identified
                else [],
                "status": "final",
                "code": {"text": "nadi"},
                "encounter": {"reference": enc.reference},
                "effectiveDateTime": "2024-07-01T08:30:00+07:00",
            }
        )
    return tx


def references_right(store: Store) -> None:
    for kind in ("Condition", "Observation"):
        for record in store.records.get(kind, {}).values():
            target = record["encounter"]["reference"]
            assert target.startswith("Encounter/")
            encounter = store.records["Encounter"][target.split("/")[1]]
            n = record["identifier"][0]["value"].split("-")[1]
            assert encounter["identifier"][0]["value"] == f"RJ-{n}"


# -- the builder -------------------------------------------------------------------------


def test_add_gives_urn_uuid_full_urls_requests_and_if_none_exist() -> None:
    tx = visit(1)
    bundle = tx.bundle()
    assert bundle.type == "transaction" and len(bundle.entry or []) == 6
    first = (bundle.entry or [])[0]
    assert first.full_url and first.full_url.startswith("urn:uuid:")
    uuid.UUID(first.full_url[len("urn:uuid:") :], version=4)
    assert first.request is not None and first.request.method == "POST"
    assert first.request.url == "Encounter"
    assert first.request.if_none_exist == f"identifier={LOCAL}/encounter/{ORG}|RJ-1"
    condition = (bundle.entry or [])[1].resource
    assert isinstance(condition, Condition) and condition.encounter is not None
    assert condition.encounter.reference == first.full_url
    observation = (bundle.entry or [])[3].resource
    assert isinstance(observation, Observation)  # a dict entry, decoded strictly
    assert len({e.full_url for e in bundle.entry or []}) == 6


def test_update_entries_are_put_with_the_id_and_refused_without() -> None:
    tx = Transaction()
    ref = tx.add(Encounter(id="enc-1", status="finished"))
    assert ref.reference == "Encounter/enc-1"
    entry = tx.entries[0]
    assert (entry.method, entry.url, entry.full_url) == ("PUT", "Encounter/enc-1", None)
    with pytest.raises(ValidationError, match="id in the body"):
        tx.update(Encounter(status="finished"))
    with pytest.raises(ValidationError, match="updated twice"):
        tx.update({"resourceType": "Encounter", "id": "enc-1", "status": "finished"})


def test_dict_entries_are_checked_strictly_and_times_converted() -> None:
    tx = Transaction()
    with pytest.raises(ValidationError, match="serviceProvider"):
        tx.add({"resourceType": "Encounter", "status": "arrived", "serviceprovider": {}})
    with pytest.raises(ValidationError, match="resourceType"):
        tx.add({"status": "arrived"})
    with pytest.raises(ValidationError, match=r"Encounter\.period\.start.*naive"):
        tx.add({"resourceType": "Encounter", "period": {"start": "2024-07-01T08:00:00"}})
    tx.add({"resourceType": "Encounter", "period": {"start": "2024-07-01T08:00:00+07:00"}})
    period = tx.entries[0].resource.period
    assert period.start == "2024-07-01T01:00:00+00:00"
    assert len(tx) == 1


# -- sending and the answers ---------------------------------------------------------


@pytest.mark.parametrize("style", ["satusehat", "standard"])
async def test_a_visit_is_posted_to_the_fhir_base_and_results_line_up(style: str) -> None:
    store = Store(style=style)
    async with client_for(store) as client:
        result = await transaction(client, visit(1))
    assert isinstance(result, TransactionResult)
    assert [e.resource_type for e in result.entries] == ["Encounter"] + ["Condition"] * 2 + [
        "Observation"
    ] * 3
    assert all(e.created for e in result.entries) and result.created
    assert result.entries[0].status == ("201 Created" if style == "satusehat" else "201")
    enc_id = result.entries[0].id
    assert store.records["Encounter"][enc_id]["status"] == "finished"
    assert (
        result.entries[0].location and f"Encounter/{enc_id}/_history/" in result.entries[0].location
    )
    references_right(store)
    assert len(store.posts()) == 1 and store.requests[-1].url == FHIR
    # the times went as UTC
    assert store.records["Encounter"][enc_id]["period"]["start"] == "2024-07-01T01:00:00+00:00"


async def test_a_bundle_dict_is_accepted_too() -> None:
    store = Store()
    bundle = msgspec_plain(visit(2).bundle())
    async with client_for(store) as client:
        result = await client.transaction(bundle)
    assert len(result.entries) == 6 and store.count("Observation") == 3
    references_right(store)


def msgspec_plain(value: Any) -> Any:
    from satusehat_async.fhir import to_builtins

    return to_builtins(value)


async def test_resubmitting_the_same_visit_creates_nothing_and_returns_the_same_ids() -> None:
    store = Store()
    async with client_for(store) as client:
        first = await client.transaction(visit(3))
        again = await client.transaction(visit(3))
    assert again.ids() == first.ids()
    assert not any(e.created for e in again.entries) and again.attempts == 0
    assert len(store.posts()) == 1


async def test_entries_stored_already_are_dropped_and_references_rewritten() -> None:
    store = Store()
    async with client_for(store) as client:
        tx = Transaction()
        enc = tx.add(Encounter(identifier=[local("encounter", "RJ-9")], status="arrived"))
        await client.transaction(tx)
        enc_id = next(iter(store.records["Encounter"]))
        full = visit(9)
        result = await client.transaction(full)
    assert enc.reference and result.entries[0].id == enc_id and not result.entries[0].created
    assert all(e.created for e in result.entries[1:])
    sent = store.bundles[-1]["entry"]
    assert [e["resource"]["resourceType"] for e in sent] == ["Condition"] * 2 + ["Observation"] * 3
    assert all(e["resource"]["encounter"]["reference"] == f"Encounter/{enc_id}" for e in sent)
    assert store.count("Encounter") == 1


# -- refusals ----------------------------------------------------------------------------


async def test_an_error_at_bundle_entry_i_names_the_callers_entry() -> None:
    store = Store()
    async with client_for(store) as client:
        tx = Transaction()
        enc = tx.add(Encounter(identifier=[local("encounter", "RJ-5")], status="arrived"))
        await client.transaction(tx)
        full = visit(5)  # entry 0 exists: the Bundle sent starts at the caller's entry 1
        store.refuse = outcome(
            "value", "Code not found (RuleNumber: 10001)", "Bundle.entry[3].resource.code"
        )
        with pytest.raises(TransactionError) as caught:
            await client.transaction(full)
    error = caught.value
    assert enc.reference
    assert error.entry_index == 4 and error.resource_type == "Observation"
    assert error.expression == "Bundle.entry[4].resource.code"
    assert error.entry is full.entries[4].source and error.status == 400
    assert "entry 4 (Observation)" in str(error) and "10001" in str(error)


async def test_refused_before_sending() -> None:
    store = Store()
    async with client_for(store) as client:
        other = Transaction()
        other.add(Encounter(identifier=[local("encounter", "X", org="999")], status="arrived"))
        with pytest.raises(ValidationError, match=r"entry 0 .*organization 999.*10117"):
            await client.transaction(other)
        dangling = Transaction()
        dangling.add(Condition(encounter=Reference(reference=f"urn:uuid:{uuid.uuid4()}")))
        with pytest.raises(ValidationError, match="no entry of this transaction"):
            await client.transaction(dangling)
        with pytest.raises(ValidationError, match="at least one entry"):
            await client.transaction(Transaction())
        with pytest.raises(ValidationError, match="transaction Bundle"):
            await client.transaction({"resourceType": "Bundle", "type": "batch", "entry": []})
    assert store.requests == []


async def test_an_undecodable_answer_is_an_api_error() -> None:
    store = Store()

    def handler(request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return store(request)
        if request.method == "GET":
            return store(request)
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": []}

    async with client_for(handler) as client:
        with pytest.raises(Exception, match="0 entries for 6 sent"):
            await client.transaction(visit(6))


# -- ambiguous failures ------------------------------------------------------------------


async def test_committed_then_500_is_found_not_resent() -> None:
    store = Store(fail_after_commit=1)
    async with client_for(store) as client:
        result = await client.transaction(visit(7))
    assert len(store.posts()) == 1 and store.count("Condition") == 2
    assert all(e.created for e in result.entries)
    references_right(store)


async def test_500_before_commit_is_resent_once() -> None:
    store = Store(fail_before_commit=1)
    async with client_for(store) as client:
        result = await client.transaction(visit(8))
    assert len(store.posts()) == 2 and result.attempts == 2
    assert store.count("Observation") == 3 and result.created


async def test_commit_then_500_with_search_lag_ends_in_no_duplicate() -> None:
    # the reconciling search misses the lagging records; the re-send is refused duplicate,
    # and the records are looked for over the window
    store = Store(fail_after_commit=1, lag=1)
    async with client_for(store) as client:
        result = await client.transaction(visit(10))
    assert store.count("Encounter") == 1 and store.count("Observation") == 3
    assert result.ids() == [
        *store.records["Encounter"],
        *store.records["Condition"],
        *store.records["Observation"],
    ]
    assert all(e.created for e in result.entries)


async def test_someone_else_stored_part_the_rest_is_sent() -> None:
    store = Store(fail_before_commit=1)
    async with client_for(store) as client:
        # another client stores the Encounter while our Bundle fails before commit
        other = Transaction()
        other.add(Encounter(identifier=[local("encounter", "RJ-11")], status="arrived"))
        original = store.transaction

        def racing(bundle: dict[str, Any]) -> Any:
            store.transaction = original  # type: ignore[method-assign]
            answer = original(bundle)  # fails before commit
            original(msgspec_plain(other.bundle()))
            return answer

        store.transaction = racing  # type: ignore[method-assign]
        result = await client.transaction(visit(11))
    assert store.count("Encounter") == 1 and store.count("Condition") == 2
    assert not result.entries[0].created and all(e.created for e in result.entries[1:])
    references_right(store)


async def test_non_unique_identifiers_are_watched_over_the_window() -> None:
    store = Store(fail_after_commit=1, lag=3, duplicate_rule=False)
    sleep = RecordingSleep()
    async with client_for(store, sleep=sleep) as client:
        tx = Transaction()
        tx.add(Encounter(identifier=[Identifier(system="https://rs.example/reg", value="A1")]))
        result = await client.transaction(tx, window=ReconcileWindow(span=5.0, first=0.5))
    assert len(store.posts()) == 1 and store.count("Encounter") == 1
    assert result.entries[0].created


async def test_no_identifier_is_sent_once_never_again() -> None:
    store = Store(fail_before_commit=1)
    async with client_for(store) as client:
        with pytest.raises(UnverifiableTransactionOutcome) as caught:
            await client.transaction(visit(12, identified=False))
    assert len(store.posts()) == 1
    assert caught.value.unidentified == (0, 1, 2, 3, 4, 5)
    assert isinstance(caught.value, CreateOutcomeUnknown)


async def test_out_of_attempts_is_an_unknown_outcome_and_a_repeat_is_safe() -> None:
    store = Store(fail_before_commit=10)
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_time=30)
    async with client_for(store, retry=retry) as client:
        with pytest.raises(CreateOutcomeUnknown) as caught:
            await client.transaction(visit(13))
        assert isinstance(caught.value.last_error, ServerError)
        assert len(store.posts()) == 2 and store.count("Encounter") == 0
        # committed, answered 500, and the search lags: out of attempts, unknown
        store.fail_before_commit, store.fail_after_commit, store.lag = 0, 1, 1
        with pytest.raises(CreateOutcomeUnknown):
            await client.transaction(visit(13), retry=RetryPolicy(max_attempts=1))
        repeat = await client.transaction(visit(13))  # searches first: nothing created
    assert store.count("Encounter") == 1 and not repeat.created and repeat.attempts == 0


async def test_concurrent_visits_under_faults_and_lag_leave_exact_counts() -> None:
    store = Store(fail_after_commit=4, fail_before_commit=3, lag=1)
    retry = RetryPolicy(max_attempts=10, base_delay=0.01, max_time=30)  # faults may stack
    async with client_for(store, retry=retry) as client:
        await asyncio.gather(*(client.transaction(visit(n)) for n in range(20)))
        again = await asyncio.gather(*(client.transaction(visit(n)) for n in range(20)))
    assert (store.count("Encounter"), store.count("Condition"), store.count("Observation")) == (
        20,
        40,
        60,
    )
    references_right(store)
    assert not any(e.created for r in again for e in r.entries)


# -- against the sandbox -----------------------------------------------------------------


def sandbox_references_right(sb: Any) -> None:
    for kind in ("Condition", "Observation"):
        for rid in sb.resources.ids(kind):
            record = sb.resources.get(kind, rid)
            target = record["encounter"]["reference"]
            encounter = sb.resources.get("Encounter", target.split("/", 1)[1])
            n = record["identifier"][0]["value"].split("-")[1]
            assert target.startswith("Encounter/") and encounter is not None
            assert encounter["identifier"][0]["value"] == f"RJ-{n}"


VISITS = 50  # the issue's figure: 50 visits -> 50 Encounters, 100 Conditions, 150 Observations


@pytest.mark.parametrize("style", ["satusehat", "standard"])
async def test_sandbox_concurrent_visits_under_faults_and_lag(style: str) -> None:
    from satusehat_async.sandbox import LocalSandbox

    kinds = ["commit_then_500", "commit_then_drop", "503"]
    sandbox = LocalSandbox(
        facilities=10,
        organization_id=ORG,
        fault_rate=0.3,
        fault_kinds=kinds,
        search_lag=(0.02, 0.15),
        transaction_style=style,  # type: ignore[arg-type]
    )
    retry = RetryPolicy(max_attempts=10, base_delay=0.02, max_delay=0.2, max_time=30)
    window = ReconcileWindow(span=0.5, first=0.05)
    async with sandbox as sb:
        client = SatuSehatClient(
            sb.client_id,
            sb.client_secret,
            base_url=sb.base_url,
            organization_id=ORG,
            retry=retry,
            circuit_breaker=CircuitBreaker(minimum_calls=10_000, window_size=10_000),
        )
        async with client:
            first = await asyncio.gather(
                *(client.transaction(visit(n), window=window) for n in range(VISITS))
            )
            sb.faults.clear()
            counts = tuple(sb.resources.count(t) for t in ("Encounter", "Condition", "Observation"))
            assert counts == (VISITS, 2 * VISITS, 3 * VISITS)
            sandbox_references_right(sb)
            await asyncio.sleep(0.2)  # the search index catches up
            again = await asyncio.gather(
                *(client.transaction(visit(n), window=window) for n in range(VISITS))
            )
        counts = tuple(sb.resources.count(t) for t in ("Encounter", "Condition", "Observation"))
        assert counts == (VISITS, 2 * VISITS, 3 * VISITS)
        assert sum(sb.stats.faults_injected.values()) > 0
    assert [r.ids() for r in again] == [r.ids() for r in first]
    assert not any(e.created for r in again for e in r.entries)
