"""Issue 10: the duplicate-safe create is generic (satusehat_async.idempotency) and the
Patient's NIK/newborn rules are one identity policy; one retry engine decides re-sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from _support import FakeClock, RecordingSleep

from satusehat_async import SatuSehatClient
from satusehat_async.errors import (
    APIError,
    RequestTimeout,
    ResponseTooLarge,
    SatuSehatError,
    ServerError,
    TransportError,
    ValidationError,
)
from satusehat_async.http.retry import RetryPolicy
from satusehat_async.idempotency import (
    Created,
    CreateMemory,
    CreatePlan,
    Identity,
    ReconcileWindow,
    run_create,
    write_headers,
)
from satusehat_async.patients import NIK_IBU_SYSTEM, NIK_SYSTEM, Patients, is_ambiguous
from satusehat_async.patients.idempotent import create_idempotently, plan_create
from satusehat_async.patients.policy import PatientIdentity
from satusehat_async.testing import MockBackend

NIK = "3273015708950003"
POLICY = RetryPolicy(max_attempts=3, base_delay=0.5, jitter=None)


# -- a policy for a resource that is not a Patient: the seam the FHIR core plugs into -----


@dataclass(frozen=True)
class Thing:
    """A toy resource: an identifier value, a colour, and the server's id once stored."""

    code: str
    colour: str = "red"
    id: str | None = None


class Taken(SatuSehatError):
    pass


@dataclass(frozen=True)
class ThingIdentity:
    unique: bool = True
    window: ReconcileWindow = field(default_factory=lambda: ReconcileWindow(span=4.0))

    @property
    def resource_type(self) -> str:
        return "Thing"

    def identify(self, resource: Thing) -> Identity:
        if not resource.code:
            raise ValidationError("a Thing needs a code")
        return Identity("urn:things", resource.code, unique=self.unique, conditional=self.unique)

    def matches(self, candidate: Thing, wanted: Thing, identity: Identity) -> bool:
        return candidate.code == identity.value and candidate.colour == wanted.colour

    def id_of(self, resource: Thing) -> str | None:
        return resource.id

    def with_id(self, resource: Thing, resource_id: str) -> Thing:
        return replace(resource, id=resource_id)

    def ambiguous(
        self, ids: Sequence[str], identity: Identity, after: SatuSehatError | None
    ) -> SatuSehatError:
        return Taken(f"{len(ids)} things")


class Server:
    """Scripted writes and searches for run_create, on a fake clock."""

    def __init__(self, writes: list[Any], searches: list[list[Thing]]) -> None:
        self.writes, self.searches = writes, searches
        self.clock = FakeClock(0.0)
        self.sleep = RecordingSleep(self.clock)
        self.write_times: list[float] = []
        self.asked: list[Identity] = []

    async def post(self) -> Created[Thing]:
        self.write_times.append(self.clock.now)
        item = self.writes.pop(0)
        if isinstance(item, BaseException):
            raise item
        return Created(id=item, created=True, resource=None)

    async def search(self, identity: Identity) -> list[Thing]:
        self.asked.append(identity)
        return self.searches.pop(0) if self.searches else []

    async def run(self, policy: ThingIdentity, thing: Thing, **kw: Any) -> Created[Thing]:
        identity = policy.identify(thing)
        plan = CreatePlan(thing, b"{}", identity, write_headers(identity))
        return await run_create(
            plan,
            policy,
            post=self.post,
            search=self.search,
            budget=POLICY.start(self.clock),
            sleep=self.sleep,
            **kw,
        )


def test_the_write_headers_follow_the_identity() -> None:
    conditional = Identity("urn:things", "a1", unique=True, conditional=True)
    assert write_headers(conditional) == {
        "Content-Type": "application/json",
        "If-None-Exist": "identifier=urn:things|a1",
    }
    assert "If-None-Exist" not in write_headers(replace(conditional, conditional=False))


async def test_any_resource_type_plugs_in_its_own_identity_policy() -> None:
    policy = ThingIdentity()
    # found before writing: nothing sent
    s = Server(writes=[], searches=[[Thing("a1", id="T1"), Thing("a1", colour="blue", id="T2")]])
    found = await s.run(policy, Thing("a1"))
    assert (found.id, found.created, s.write_times) == ("T1", False, [])
    assert s.asked[0].token == "urn:things|a1"
    # a 500 whose write committed: found by the one reconciling search after the backoff
    s = Server(writes=[ServerError("boom", status=500)], searches=[[], [Thing("a1", id="T3")]])
    result = await s.run(policy, Thing("a1"))
    assert (result.id, result.created, s.sleep.waits) == ("T3", True, [0.5])
    # the policy's own error for several matches
    s = Server(writes=[], searches=[[Thing("a1", id="T1"), Thing("a1", id="T4")]])
    with pytest.raises(Taken, match="2 things"):
        await s.run(policy, Thing("a1"))


async def test_a_non_unique_identity_is_watched_over_the_policys_window() -> None:
    policy = ThingIdentity(unique=False)
    memory = CreateMemory()
    s = Server(writes=[RequestTimeout("t"), "T9"], searches=[])
    result = await s.run(policy, Thing("b2"), memory=memory)
    assert (result.id, result.created) == ("T9", True)
    # never written again inside the window (4 s, the policy's): searched until its end
    assert s.write_times == [0.0, 4.0]
    # the record this process created is a candidate of later searches (search lag)
    assert memory.created("Thing urn:things|b2", s.clock.now) == [Thing("b2", id="T9")]
    again = Server(writes=[], searches=[])
    again.clock.now = s.clock.now
    found = await again.run(policy, Thing("b2"), memory=memory)
    assert (found.id, found.created) == ("T9", False)


# -- one retry engine: whether to re-send is may_retry's answer, waits the budget's ---------


class Script:
    """Scripted POST answers and searches for the Patient create loop."""

    def __init__(self, posts: list[Any]) -> None:
        self.posts = posts
        self.clock = FakeClock(0.0)
        self.sleep = RecordingSleep(self.clock)
        self.post_count = 0

    async def post(self) -> Any:
        self.post_count += 1
        item = self.posts.pop(0)
        if isinstance(item, BaseException):
            raise item
        raise AssertionError("unexpected success")

    async def search(self, system: str, value: str) -> list[Any]:
        return []

    async def run(self, policy: RetryPolicy) -> Any:
        adult = {"identifier": [{"system": NIK_SYSTEM, "value": NIK}]}
        return await create_idempotently(
            plan_create(adult),
            post=self.post,
            search=self.search,
            policy=policy,
            sleep=self.sleep,
            monotonic=self.clock,
        )


async def test_a_write_is_sent_again_only_for_errors_the_retry_policy_retries() -> None:
    # 503 left out of the policy's statuses: reconciled (not stored), then not re-sent
    picky = RetryPolicy(
        max_attempts=3, base_delay=0.5, jitter=None, retry_statuses=frozenset({500})
    )
    s = Script(posts=[ServerError("busy", status=503)])
    with pytest.raises(ServerError, match="busy"):
        await s.run(picky)
    assert s.post_count == 1
    # 501 may have committed (reconciled) but is no status worth another attempt
    s = Script(posts=[APIError("not implemented", status=501)])
    with pytest.raises(APIError):
        await s.run(POLICY)
    assert s.post_count == 1


async def test_one_budget_bounds_every_wait_of_a_create() -> None:
    policy = RetryPolicy(max_attempts=10, max_time=3.0, base_delay=1.0, jitter=None)
    s = Script(posts=[RequestTimeout("t") for _ in range(10)])
    with pytest.raises(RequestTimeout):
        await s.run(policy)
    assert sum(s.sleep.waits) <= policy.max_time and s.clock.now <= policy.max_time
    # written at 0, 1 and 3 s (backoff 1 s, 2 s); then the budget is spent: no 4 s wait
    assert s.post_count == 3 and s.sleep.waits == [1.0, 2.0]


def test_is_ambiguous_is_the_errors_may_have_committed() -> None:
    errors: list[SatuSehatError] = [
        RequestTimeout("t"),
        TransportError("refused", sent=False),
        ServerError("x", status=502),
        APIError("x", status=404),
        ResponseTooLarge("big", limit=1, status=200),
    ]
    for error in errors:
        assert is_ambiguous(error) is error.may_have_committed
    assert not is_ambiguous(ValueError("x"))


# -- the Patient's rules are one such policy; the per-client state lives on the context -----


def test_the_patient_policy_names_nik_and_newborn_identities() -> None:
    rules = PatientIdentity()
    adult = plan_create({"identifier": [{"system": NIK_SYSTEM, "value": NIK}]})
    assert adult.identity == Identity(NIK_SYSTEM, NIK, unique=True, conditional=True)
    newborn = plan_create(
        {
            "identifier": [{"system": NIK_IBU_SYSTEM, "value": "9104025209000006"}],
            "birthDate": "2025-01-01",
            "multipleBirthInteger": 0,
        }
    )
    assert not newborn.identity.unique and not newborn.identity.conditional
    assert rules.resource_type == "Patient" and rules.window == ReconcileWindow()


def test_patients_keep_their_per_client_state_on_the_context() -> None:
    def handler(request: Any) -> tuple[int, bytes]:
        return 500, b""

    client = SatuSehatClient("id", "secret", backend=MockBackend(handler))
    patients = Patients(client.context)
    assert patients._memory is client.context.creates is Patients(client)._memory
    assert patients._locks is client.context.locks
