"""Issue 9, Patient part: newborns never stored twice when a write commits after its error
and searches lag; the documented single birth (``multipleBirthInteger: 0``); one time budget
per create; the circuit breaker and reconciled failures; wrong-typed arguments."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from _support import FakeClock, RecordingSleep
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.errors import RateLimitError, ServerError, ValidationError
from satusehat_async.http.response import Response
from satusehat_async.patients import (
    NIK_IBU_SYSTEM,
    CreateOutcomeUnknown,
    CreateResult,
    HumanName,
    Patient,
    Patients,
    nik_identifier,
    replace,
)
from satusehat_async.patients.idempotent import ReconcileWindow, create_idempotently, plan_create
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox

PATIENT_PATH = "/fhir-r4/v1/Patient"
WRITE_FAULTS = ("commit_then_504", "commit_then_drop", "commit_then_500")
MOTHERS = ["3273014503880001", "3174015203900002", "3171014501900001", "9104025209000006"]
NIK = "3273015708950003"
# Small waits so the suite stays fast; the window is well above the sandbox's lag.
QUICK = RetryPolicy(max_attempts=5, max_time=20.0, base_delay=0.02, max_delay=0.1, jitter=None)
WINDOW = ReconcileWindow(span=0.8)


def quiet_breaker() -> CircuitBreaker:
    return CircuitBreaker(minimum_calls=1_000, window_size=1_000)


def baby(mother: str, order: int | None, **elements: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": NIK_IBU_SYSTEM, "value": mother}],
        "name": [{"use": "official", "text": f"Bayi Ny. {mother[-4:]}"}],  # twins share it
        "birthDate": "2026-01-15",
        **elements,
    }
    if order is not None:
        resource["multipleBirthInteger"] = order
    return resource


def adult() -> Patient:
    return Patient(identifier=[nik_identifier(NIK)], name=[HumanName(text="Dewi Putri")])


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=10) as sandbox:
        yield sandbox


def stored_babies(sb: Sandbox) -> Counter[tuple[str, int]]:
    """(mother's NIK, birth order) of every stored record, counted."""
    found: Counter[tuple[str, int]] = Counter()
    for patient_id in sb.patients.ids:
        record = sb.patients.get(patient_id)
        assert record is not None
        mother = next(i["value"] for i in record["identifier"] if i["system"] == NIK_IBU_SYSTEM)
        found[(mother, record["multipleBirthInteger"])] += 1
    return found


# -- 1. a write that commits after its error, searches that lag --------------------------


@pytest.mark.parametrize("late_commit", [None, (0.02, 0.15)])
async def test_newborns_under_ambiguous_faults_and_search_lag_are_never_stored_twice(
    late_commit: tuple[float, float] | None,
) -> None:
    # Twins and single births of four mothers, every baby asked for twice at once; every
    # write fails ambiguously; a record shows in searches only 0.05-0.3 s after it is
    # stored (and, with late_commit, is stored only after the error answer).
    wanted = [(m, order) for m in MOTHERS[:3] for order in (1, 2)] + [(MOTHERS[3], 0)]
    async with Sandbox(
        facilities=10, seed=5, search_lag=(0.05, 0.3), late_commit=late_commit
    ) as sb:
        for kind, count in zip(WRITE_FAULTS, (3, 2, 2), strict=True):
            sb.inject(kind, count=count, method="POST", path_prefix=PATIENT_PATH)
        async with sb.client(retry=QUICK, circuit_breaker=quiet_breaker()) as client:
            patients = Patients(client, window=WINDOW)
            calls = wanted * 2
            results = await asyncio.gather(
                *(patients.create(baby(m, o)) for m, o in calls), return_exceptions=True
            )
            unknown = [c for c, r in zip(calls, results, strict=True) if not _is_result(r)]
            for outcome in results:
                assert _is_result(outcome) or isinstance(outcome, CreateOutcomeUnknown)
            await sb.settle()  # every held-back write committed, every lag over
            # a create whose outcome was unknown is repeated: it finds its record
            for mother, order in unknown:
                await patients.create(baby(mother, order))
            ids: dict[tuple[str, int], set[str]] = {}
            for (mother, order), outcome in zip(calls, results, strict=True):
                if isinstance(outcome, CreateResult):
                    record = sb.patients.get(outcome.id)
                    assert record is not None  # its own id, stored
                    assert record["multipleBirthInteger"] == order
                    ids.setdefault((mother, order), set()).add(outcome.id)
        assert sum(sb.stats.faults_injected.values()) == len(wanted) == 7
        assert stored_babies(sb) == Counter(dict.fromkeys(wanted, 1))  # 0 duplicates
        assert all(len(found) == 1 for found in ids.values())  # both calls: one id
        assert sb.stats.patients_stored == len(wanted)


def _is_result(outcome: object) -> bool:
    return isinstance(outcome, CreateResult)


async def test_a_window_cut_by_the_budget_is_an_unknown_outcome_and_a_repeat_finds_it() -> None:
    async with Sandbox(facilities=10, search_lag=(0.25, 0.25)) as sb:
        sb.inject("commit_then_504", method="POST", path_prefix=PATIENT_PATH)
        async with sb.client(retry=QUICK, circuit_breaker=quiet_breaker()) as client:
            window = ReconcileWindow(span=1.0)
            hurried = Patients(client, retry=RetryPolicy(max_time=0.05, base_delay=0.01))
            hurried.window = window
            with pytest.raises(CreateOutcomeUnknown) as info:
                await hurried.create(baby(MOTHERS[0], 1))
            error = info.value
            assert error.cause is None and isinstance(error.last_error, ServerError)
            assert error.repeat_after is not None and 0 < error.repeat_after <= 1.0
            assert "unknown" in str(error) and MOTHERS[0] not in str(error)
            assert len(sb.patients) == 1  # it did commit: searches do not show it yet
            # the repeat (same client) does not write again: it looks until it shows up
            again = await Patients(client, window=window).create(baby(MOTHERS[0], 1))
            assert again.created is False and again.id == sb.patients.ids[0]
        assert len(sb.patients) == sb.stats.patients_stored == 1
        assert sb.stats.requests_by_path["POST /fhir-r4/v1/Patient"] == 1


async def test_a_write_that_never_committed_is_sent_again_only_after_its_window() -> None:
    async with Sandbox(facilities=10, search_lag=(0.1, 0.1)) as sb:
        sb.inject("504", method="POST", path_prefix=PATIENT_PATH)  # fails before storing
        async with sb.client(retry=QUICK, circuit_breaker=quiet_breaker()) as client:
            hurried = Patients(client, retry=RetryPolicy(max_time=0.05, base_delay=0.01))
            hurried.window = ReconcileWindow(span=0.3)
            with pytest.raises(CreateOutcomeUnknown):
                await hurried.create(baby(MOTHERS[1], 0))
            # a repeat waits out the rest of the window, then writes
            result = await Patients(client, window=hurried.window).create(baby(MOTHERS[1], 0))
            assert result.created is True
        assert len(sb.patients) == 1
        assert sb.stats.requests_by_path["POST /fhir-r4/v1/Patient"] == 2


def response(status: int, body: bytes) -> Response:
    """A POST's answer as the transport returns it."""
    url = "https://api-satusehat-stg.dto.kemkes.go.id/fhir-r4/v1/Patient"
    return Response(status, CIMultiDictProxy(CIMultiDict()), body, "POST", url)


class Script:
    """A scripted POST and search for the pure create loop, on a fake clock."""

    def __init__(self, posts: list[Any], searches: list[list[Patient]]) -> None:
        self.posts, self.searches = posts, searches
        self.clock = FakeClock(0.0)
        self.sleep = RecordingSleep(self.clock)
        self.search_times: list[float] = []
        self.post_times: list[float] = []

    async def post(self) -> Any:
        self.post_times.append(self.clock.now)
        item = self.posts.pop(0)
        if isinstance(item, BaseException):
            raise item
        return response(201, json.dumps(item).encode())

    async def search(self, system: str, value: str) -> list[Patient]:
        self.search_times.append(self.clock.now)
        return self.searches.pop(0) if self.searches else []

    async def run(self, patient: dict[str, Any], policy: RetryPolicy) -> Any:
        return await create_idempotently(
            plan_create(patient),
            post=self.post,
            search=self.search,
            policy=policy,
            sleep=self.sleep,
            monotonic=self.clock,
        )


async def test_the_newborn_window_schedule_and_no_resend_inside_it() -> None:
    fresh = {**baby(MOTHERS[0], 2), "id": "P00000000002"}
    s = Script(posts=[ServerError("gateway", status=504), fresh], searches=[])
    policy = RetryPolicy(max_attempts=3, max_time=60.0, base_delay=0.25, jitter=None)
    result = await s.run(baby(MOTHERS[0], 2), policy)
    assert (result.id, result.created) == ("P00000000002", True)
    # searched at 0.25, 0.75, 1.75, 3.75, 7.75 and 10 s after the failure (10 s: the
    # default window), and sent again only then
    assert s.search_times == [0.0, 0.25, 0.75, 1.75, 3.75, 7.75, 10.0]
    assert s.post_times == [0.0, 10.0]


async def test_a_newborn_found_inside_the_window_stops_the_search() -> None:
    twin = msgspec.json.decode(
        json.dumps({**baby(MOTHERS[0], 1), "id": "P00000000001"}), type=Patient
    )
    s = Script(posts=[ServerError("gateway", status=504)], searches=[[], [], [], [twin]])
    result = await s.run(baby(MOTHERS[0], 1), RetryPolicy(base_delay=0.25, jitter=None))
    assert (result.id, result.created) == ("P00000000001", True)
    assert s.search_times == [0.0, 0.25, 0.75, 1.75]
    assert s.post_times == [0.0]


# -- 2. the official newborn rule: multipleBirthInteger 0 is a single birth ---------------


async def test_multiple_birth_integer_0_is_a_single_birth(sb: Sandbox) -> None:
    async with sb.client(circuit_breaker=quiet_breaker(), sleep=RecordingSleep()) as client:
        single = await client.patients.create(baby(MOTHERS[0], 0))
        assert single.created
        assert (await client.patients.get(single.id)).multiple_birth_integer == 0
        again = await client.patients.create(baby(MOTHERS[0], 0))
        assert (again.id, again.created) == (single.id, False)
        # multipleBirthBoolean false says the same, and is that same baby
        same = await client.patients.create(baby(MOTHERS[0], None, multipleBirthBoolean=False))
        assert (same.id, same.created) == (single.id, False)
        # a single birth never matches one of twins, nor a twin a single birth
        twin = await client.patients.create(baby(MOTHERS[0], 1))
        assert twin.created and twin.id != single.id
        other = await client.patients.create(baby(MOTHERS[1], 1))
        lone = await client.patients.create(baby(MOTHERS[1], 0))
        assert lone.created and lone.id != other.id
    assert len(sb.patients) == 4


async def test_multiple_birth_boolean_false_is_sent_as_integer_0(sb: Sandbox) -> None:
    async with sb.client(circuit_breaker=quiet_breaker(), sleep=RecordingSleep()) as client:
        result = await client.patients.create(baby(MOTHERS[2], None, multipleBirthBoolean=False))
    record = sb.patients.get(result.id)
    assert record is not None
    assert record["multipleBirthInteger"] == 0 and "multipleBirthBoolean" not in record


# -- 3. one budget bounds every wait of a create ----------------------------------------------


@pytest.mark.parametrize("retry_after", ["100", "25"])
@pytest.mark.parametrize("who", ["adult", "newborn"])
async def test_retry_after_is_never_waited_beyond_the_budget(retry_after: str, who: str) -> None:
    clock = FakeClock(0.0)
    sleep = RecordingSleep(clock)
    policy = RetryPolicy(max_attempts=5, max_time=60.0, jitter=None)
    async with Sandbox(facilities=10, retry_after=retry_after) as sb:
        sb.inject("429", count=20, method="POST", path_prefix=PATIENT_PATH)
        async with sb.client(retry=policy, sleep=sleep, circuit_breaker=quiet_breaker()) as c:
            c.transport.monotonic = clock
            # a newborn's last write may end inside its window: an unknown outcome
            raised = (RateLimitError,) if who == "adult" else (RateLimitError, CreateOutcomeUnknown)
            with pytest.raises(raised):
                await c.patients.create(adult() if who == "adult" else baby(MOTHERS[0], 1))
        posts = sb.stats.requests_by_path["POST /fhir-r4/v1/Patient"]
    assert sum(sleep.waits) <= policy.max_time
    assert clock.now <= policy.max_time
    # Retry-After 100 never fits in 60 s: one write; 25 s: at 0, 25 and 50 s
    assert posts == (1 if retry_after == "100" else 3)


# -- 4. the circuit breaker does not count a failure the create reconciled ----------------


async def test_a_reconciled_failure_does_not_open_the_breaker(sb: Sandbox) -> None:
    # opens as soon as half of the last two calls failed
    breaker = CircuitBreaker(0.5, minimum_calls=2, window_size=2, cooldown=600.0)
    host = f"127.0.0.1:{sb.port}"
    async with sb.client(circuit_breaker=breaker, sleep=RecordingSleep()) as client:
        sb.inject("commit_then_504", method="POST", path_prefix=PATIENT_PATH)
        result = await client.patients.create(adult())
        assert result.created
        assert breaker.state(host) == "closed" and breaker.failure_rate(host) == 0.0
        sb.inject("commit_then_drop", method="POST", path_prefix=PATIENT_PATH)
        twin = await client.patients.create(baby(MOTHERS[0], 1))
        assert twin.created and breaker.state(host) == "closed"


async def test_a_failure_that_was_not_reconciled_still_counts(sb: Sandbox) -> None:
    breaker = CircuitBreaker(1.0, minimum_calls=3, window_size=3, cooldown=600.0)
    host = f"127.0.0.1:{sb.port}"
    policy = RetryPolicy(max_attempts=1, base_delay=0.0)
    async with sb.client(circuit_breaker=breaker, retry=policy, sleep=RecordingSleep()) as c:
        sb.inject("503", method="POST", path_prefix=PATIENT_PATH)  # refused before storing
        with pytest.raises(ServerError):
            await c.patients.create(adult())
    # the CapabilityStatement read (issue 14: the write goes first), the write that
    # failed, and the search after it
    assert breaker.failure_rate(host) == pytest.approx(1 / 3)
    assert len(sb.patients) == 0


# -- 5. wrong-typed arguments are a ValidationError, and nothing is sent ----------------------

BAD_CALLS: list[tuple[str, Any]] = [
    ("search identifier=5", lambda c: c.patients.search(identifier=5)),
    ("search nik=123", lambda c: c.patients.search(nik=123)),
    ("search name list", lambda c: c.patients.search(nik=NIK, name=["Budi"])),
    ("search birthdate int", lambda c: c.patients.search(name="a", birthdate=1, gender="male")),
    (
        "search gender list",
        lambda c: c.patients.search(name="a", birthdate="2020-01-01", gender=[]),
    ),
    ("get 5", lambda c: c.patients.get(5)),
    ("get None", lambda c: c.patients.get(None)),
    ("get list", lambda c: c.patients.get(["P00000000001"])),
    ("patch ops 5", lambda c: c.patients.patch("P00000000001", 5)),
    ("patch ops None", lambda c: c.patients.patch("P00000000001", None)),
    (
        "patch op list",
        lambda c: c.patients.patch("P00000000001", [{"op": ["replace"], "path": "/a", "value": 1}]),
    ),
    (
        "patch int key",
        lambda c: c.patients.patch(
            "P00000000001", [{"op": "replace", "path": "/a", "value": 1, 5: 2}]
        ),
    ),
    (
        "patch object value",
        lambda c: c.patients.patch(
            "P00000000001", [{"op": "replace", "path": "/a", "value": object()}]
        ),
    ),
    ("create 5", lambda c: c.patients.create(5)),
    ("create str", lambda c: c.patients.create("Patient")),
    ("create None", lambda c: c.patients.create(None)),
    ("create bad struct", lambda c: c.patients.create(Patient(identifier="abc"))),  # type: ignore[arg-type]
    (
        "create deep dict",
        lambda c: c.patients.create({"identifier": _deep(3_000)}),
    ),
]


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(("name", "call"), BAD_CALLS, ids=[name for name, _ in BAD_CALLS])
async def test_wrong_typed_arguments_are_refused_before_sending(
    sb: Sandbox, name: str, call: Any
) -> None:
    async with sb.client(circuit_breaker=quiet_breaker()) as client:
        before = sb.stats.requests
        with pytest.raises(ValidationError):
            await call(client)
        assert sb.stats.requests == before


@pytest.mark.parametrize(
    ("path", "value"),
    [(5, "x"), (None, "x"), (b"/language", "x"), (("name", 0.5), "x"), ("/a", object())],
)
def test_patch_builders_refuse_wrong_types(path: Any, value: Any) -> None:
    with pytest.raises(ValidationError):
        replace(path, value)


def test_patch_builders_still_build() -> None:
    assert replace(("name", 0, "text"), "Budi").path == "/name/0/text"
    assert replace("/language", {"coding": [{"code": "id"}]}).value["coding"][0]["code"] == "id"


# -- the sandbox's knobs ------------------------------------------------------------------


async def test_sandbox_search_lag_hides_new_records_from_searches_only() -> None:
    clock = FakeClock(1_700_000_000.0)
    async with Sandbox(facilities=10, clock=clock, search_lag=(2.0, 3.0)) as sb:
        answer = sb.patients.create(
            json.dumps(baby(MOTHERS[0], 1)).encode(), "application/json", None
        )
        patient_id = answer.body["id"]
        query = [("identifier", f"{NIK_IBU_SYSTEM}|{MOTHERS[0]}")]
        assert sb.patients.search(query).body["total"] == 0
        assert sb.patients.read(patient_id).status == 200  # a read by id sees it at once
        assert sb.patients.lagging == [patient_id]
        clock.advance(3.0)
        assert sb.patients.search(query).body["total"] == 1
        sb.patients.search_lag = None
        sb.patients.create(json.dumps(baby(MOTHERS[0], 2)).encode(), "application/json", None)
        assert sb.patients.search(query).body["total"] == 2


async def test_sandbox_late_commit_stores_the_write_after_its_error() -> None:
    async with Sandbox(facilities=10, late_commit=(0.5, 0.5)) as sb:
        sb.inject("commit_then_504", method="POST", path_prefix=PATIENT_PATH)
        policy = RetryPolicy.none()
        async with sb.client(
            retry=policy, circuit_breaker=quiet_breaker(), sleep=RecordingSleep()
        ) as client:
            with pytest.raises(ServerError):  # one write, one search: nothing there yet
                await client.patients.create(adult())
        assert len(sb.patients) == 0 and sb.pending_commits == 1
        await sb.settle()
        assert sb.pending_commits == 0 and len(sb.patients) == sb.stats.patients_stored == 1


@pytest.mark.parametrize("bad", [(1.0,), (2.0, 1.0), (-1.0, 1.0), ("a", "b"), (0, float("inf")), 3])
def test_sandbox_lag_knobs_are_checked(bad: Any) -> None:
    with pytest.raises(ValueError):
        Sandbox(facilities=10, search_lag=bad)
    with pytest.raises(ValueError):
        Sandbox(facilities=10, late_commit=bad)


async def test_client_fixture_shape(sb: Sandbox) -> None:
    # the Patients object of a client and one built on it share the memory of creates
    async with sb.client(circuit_breaker=quiet_breaker()) as client:
        assert isinstance(client, SatuSehatClient)
        assert Patients(client)._memory is client.patients._memory


async def test_sandbox_draws_random_ambiguous_write_faults() -> None:
    kinds = ("commit_then_504", "commit_then_drop", "503")
    async with Sandbox(facilities=10, fault_rate=0.3, fault_kinds=kinds, seed=2) as sb:
        async with sb.client(retry=QUICK, circuit_breaker=quiet_breaker()) as client:
            patients = Patients(client, window=WINDOW)
            for n in range(20):
                patient = Patient(identifier=[nik_identifier(f"32730157089{n + 1:05d}")])
                for _ in range(10):  # an unknown outcome is repeated, as documented
                    try:
                        await patients.create(patient)
                    except (CreateOutcomeUnknown, ServerError):
                        continue
                    break
        drawn = sb.stats.faults_injected
        assert drawn["commit_then_504"] + drawn["commit_then_drop"] > 0 and drawn["503"] > 0
        # every create left exactly one record, whatever the faults
        assert len(sb.patients) == sb.stats.patients_stored == 20


def test_sandbox_refuses_kinds_that_cannot_be_random() -> None:
    with pytest.raises(ValueError, match="random fault kind"):
        Sandbox(facilities=10, fault_kinds=["token_500"])
    with pytest.raises(ValueError, match="fault_rate"):
        Sandbox(facilities=10, fault_rate=1.5, fault_kinds=["commit_then_504"])
