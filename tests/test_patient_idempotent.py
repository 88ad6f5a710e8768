"""The idempotent create, step by step, against scripted fakes (no server)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from satusehat_async.errors import (
    APIError,
    BadRequestError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from satusehat_async.patients import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    HumanName,
    Identifier,
    Patient,
    is_ambiguous,
    newborn_matches,
    nik_ibu_identifier,
    nik_identifier,
)
from satusehat_async.patients.idempotent import (
    KeyedLocks,
    create_idempotently,
    plan_create,
    to_patient,
)
from satusehat_async.retry import RetryPolicy

NIK = "3273015708950003"
MOTHER = "9104025209000006"
POLICY = RetryPolicy(max_attempts=3, base_delay=0.5, jitter=None)


def adult() -> Patient:
    return Patient(identifier=[nik_identifier(NIK)], name=[HumanName(text="Dewi Putri")])


def baby(name: str = "Bayi Ny. Dewi I", order: int | None = 1, **kw: Any) -> Patient:
    return Patient(
        identifier=[nik_ibu_identifier(MOTHER)],
        name=[HumanName(text=name)],
        birth_date=kw.pop("birth_date", "2025-02-03"),
        multiple_birth_integer=order,
        **kw,
    )


# -- planning ------------------------------------------------------------------------


def test_plan_for_nik_sends_if_none_exist() -> None:
    plan = plan_create(adult())
    assert plan.system == NIK_SYSTEM and plan.value == NIK
    assert plan.headers["If-None-Exist"] == f"identifier={NIK_SYSTEM}|{NIK}"
    assert plan.headers["Content-Type"] == "application/json"
    assert plan.conditional
    assert msgspec.json.decode(plan.body, type=Patient) == adult()


def test_plan_for_newborn_never_sends_if_none_exist() -> None:
    plan = plan_create(baby())
    assert plan.system == NIK_IBU_SYSTEM and plan.value == MOTHER
    assert "If-None-Exist" not in plan.headers
    assert not plan.conditional
    assert plan.lock_key == f"{NIK_IBU_SYSTEM}|{MOTHER}"


def test_nik_wins_over_nik_ibu() -> None:
    both = Patient(identifier=[nik_ibu_identifier(MOTHER), nik_identifier(NIK)])
    assert plan_create(both).system == NIK_SYSTEM


@pytest.mark.parametrize(
    ("patient", "reason"),
    [
        (Patient(name=[HumanName(text="x")]), "needs a NIK"),
        ({"resourceType": "Patient", "identifier": [{"system": NIK_SYSTEM, "value": "12"}]}, "NIK"),
        (
            {"identifier": [{"system": NIK_IBU_SYSTEM, "value": "31710123"}], "birthDate": "2025"},
            "NIK-ibu",
        ),
        ({"identifier": [{"system": NIK_IBU_SYSTEM, "value": MOTHER}]}, "birthDate"),
        ({"resourceType": "Practitioner"}, "resourceType"),
        ({"resourceType": "Patient", "active": "yes"}, "not a valid FHIR Patient"),
        ("not a patient", "expected a Patient"),
    ],
)
def test_unfit_patients_are_refused_before_sending(patient: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        plan_create(patient)


def test_dict_input_keeps_decimal_digits() -> None:
    patient = to_patient(
        {
            "identifier": [{"system": NIK_SYSTEM, "value": NIK}],
            "extension": [{"url": "u", "valueDecimal": Decimal("1.50")}],
        }
    )
    assert b'"valueDecimal":1.50' in plan_create(patient).body


# -- matching ------------------------------------------------------------------------


def test_newborn_matching() -> None:
    wanted = baby("Bayi Ny. Dewi I", 1, gender="female")
    assert newborn_matches(baby("bayi  ny. DEWI i", 1), wanted)  # case, spaces; no gender
    assert not newborn_matches(baby("Bayi Ny. Dewi II", 2), wanted)  # the twin
    assert not newborn_matches(baby("Bayi Ny. Dewi I", 2), wanted)  # other birth order
    assert not newborn_matches(baby("Bayi Ny. Dewi I", 1, birth_date="2024-02-03"), wanted)
    assert not newborn_matches(baby("Bayi Ny. Dewi I", 1, gender="male"), wanted)
    # given + family match the server's text form, either order
    parts = Patient(
        name=[HumanName(given=["Bayi", "Dewi"], family="Putri")],
        birth_date="2025-02-03",
    )
    assert newborn_matches(baby("Bayi Dewi Putri", 0), parts)
    assert newborn_matches(baby("Putri Bayi Dewi", 0), parts)
    # nothing said about birth order: the server's default 0 does not block the match
    assert newborn_matches(baby("Bayi Ny. Dewi I", 0), baby("Bayi Ny. Dewi I", None))


def test_ambiguous_failures() -> None:
    assert is_ambiguous(RequestTimeout("t"))
    assert is_ambiguous(TransportError("dropped", sent=True))
    assert not is_ambiguous(TransportError("refused", sent=False))
    for status in (500, 502, 503, 504, 408, 429):
        assert is_ambiguous(APIError("x", status=status))
    for status in (400, 401, 403, 404, 409, 422):
        assert not is_ambiguous(APIError("x", status=status))
    assert not is_ambiguous(ValueError("x"))


async def test_keyed_locks_serialize_one_key_and_clean_up() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(key: str, name: str) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            order.append(f"{name}-")

    await asyncio.gather(hold("a", "1"), hold("a", "2"), hold("b", "3"))
    assert order.index("1-") < order.index("2+")  # same key: one at a time
    assert order.index("3+") < order.index("1-")  # other key: concurrently
    assert len(locks) == 0


# -- the create loop ---------------------------------------------------------------------


class Script:
    """Scripted post() answers/errors, search() results and a recording sleep."""

    def __init__(self, posts: list[Any], searches: list[list[Patient]]) -> None:
        self.posts = posts
        self.searches = searches
        self.post_calls = 0
        self.search_calls: list[tuple[str, str]] = []
        self.sleeps: list[float] = []

    async def post(self) -> Any:
        self.post_calls += 1
        item = self.posts.pop(0)
        if isinstance(item, BaseException):
            raise item
        status, body = item
        return SimpleNamespace(status=status, body=body, headers={})

    async def search(self, system: str, value: str) -> list[Patient]:
        self.search_calls.append((system, value))
        return self.searches.pop(0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def run(self, patient: Patient) -> Any:
        return await create_idempotently(
            plan_create(patient),
            post=self.post,
            search=self.search,
            policy=POLICY,
            sleep=self.sleep,
        )


def stored(pid: str, patient: Patient) -> Patient:
    return msgspec.structs.replace(patient, id=pid)


def resource(pid: str, patient: Patient) -> bytes:
    return msgspec.json.encode(stored(pid, patient))


def envelope(success: bool, pid: str) -> bytes:
    key = "Patient ID:" if success else "resourceID"
    return json.dumps({"success": success, "message": "m", "data": {key: pid}}).encode()


async def test_existing_record_is_returned_without_sending() -> None:
    s = Script(posts=[], searches=[[stored("P1", adult())]])
    result = await s.run(adult())
    assert (result.id, result.created, s.post_calls) == ("P1", False, 0)
    assert s.search_calls == [(NIK_SYSTEM, NIK)]


async def test_plain_success() -> None:
    s = Script(posts=[(201, resource("P1", adult()))], searches=[[]])
    result = await s.run(adult())
    assert (result.id, result.created, s.post_calls, s.sleeps) == ("P1", True, 1, [])


async def test_committed_then_500_is_found_by_reconciliation() -> None:
    s = Script(posts=[ServerError("boom", status=500)], searches=[[], [stored("P1", adult())]])
    result = await s.run(adult())
    assert (result.id, result.created, s.post_calls) == ("P1", True, 1)
    assert s.sleeps == [0.5]  # waited before reconciling


async def test_lost_write_is_sent_again_after_reconciling() -> None:
    s = Script(
        posts=[RequestTimeout("t"), (201, resource("P2", adult()))],
        searches=[[], []],
    )
    result = await s.run(adult())
    assert (result.id, result.created, s.post_calls, len(s.search_calls)) == ("P2", True, 2, 2)


async def test_late_commit_answered_as_duplicate_is_still_ours() -> None:
    # attempt 1 committed after the reconciling search looked; attempt 2 hears "duplicate"
    s = Script(
        posts=[TransportError("dropped", sent=True), (200, envelope(False, "P3"))],
        searches=[[], []],
    )
    result = await s.run(adult())
    assert (result.id, result.created) == ("P3", True)


async def test_duplicate_on_first_attempt_means_it_existed() -> None:
    s = Script(posts=[(200, envelope(False, "P4"))], searches=[[]])
    result = await s.run(adult())
    assert (result.id, result.created) == ("P4", False)


async def test_conditional_match_on_first_attempt_means_it_existed() -> None:
    s = Script(posts=[(200, resource("P5", adult()))], searches=[[]])
    result = await s.run(adult())
    assert (result.id, result.created) == ("P5", False)


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("NIK not in Dukcapil", status=400),
        TransportError("refused", sent=False),
        ValidationError("x"),
    ],
)
async def test_unambiguous_failures_are_raised_without_reconciling(error: Exception) -> None:
    s = Script(posts=[error], searches=[[]])
    with pytest.raises(type(error)):
        await s.run(adult())
    assert (s.post_calls, len(s.search_calls)) == (1, 1)


async def test_bounded_attempts_then_the_last_error() -> None:
    errors = [ServerError("a", status=503), RequestTimeout("b"), ServerError("c", status=502)]
    s = Script(posts=list(errors), searches=[[], [], [], []])
    with pytest.raises(ServerError, match="c"):
        await s.run(adult())
    assert s.post_calls == POLICY.max_attempts == 3
    assert len(s.search_calls) == 4  # before, and after each failure
    assert s.sleeps == [0.5, 1.0, 2.0]  # backoff schedule from the policy


async def test_retry_after_is_honoured() -> None:
    s = Script(
        posts=[
            RateLimitError("slow down", status=429, retry_after=7.0),
            (201, resource("P6", adult())),
        ],
        searches=[[], []],
    )
    assert (await s.run(adult())).id == "P6"
    assert s.sleeps == [7.0]


async def test_unreadable_2xx_is_reconciled_but_never_resent() -> None:
    s = Script(posts=[(201, b'{"weird": true}')], searches=[[], [stored("P7", adult())]])
    result = await s.run(adult())
    assert (result.id, result.created, s.post_calls) == ("P7", True, 1)
    s = Script(posts=[(201, b'{"weird": true}')], searches=[[], []])
    with pytest.raises(APIError):
        await s.run(adult())
    assert s.post_calls == 1


async def test_explicit_refusal_envelope_is_not_reconciled() -> None:
    s = Script(posts=[(200, b'{"success": false, "message": "NIK invalid"}')], searches=[[]])
    with pytest.raises(APIError, match="NIK invalid"):
        await s.run(adult())
    assert len(s.search_calls) == 1


async def test_newborn_reconciliation_picks_the_right_twin() -> None:
    twin_one = baby("Bayi Ny. Dewi I", 1)
    twin_two = baby("Bayi Ny. Dewi II", 2)
    older = baby("Bayi Ny. Dewi", 0, birth_date="2021-01-15")
    s = Script(
        posts=[ServerError("boom", status=500)],
        searches=[
            [stored("P10", older), stored("P11", twin_one)],  # before: twin one exists
            [stored("P10", older), stored("P11", twin_one), stored("P12", twin_two)],
        ],
    )
    result = await s.run(twin_two)
    assert (result.id, result.created) == ("P12", True)
    assert s.search_calls[0] == (NIK_IBU_SYSTEM, MOTHER)


async def test_existing_newborn_is_returned_not_duplicated() -> None:
    twin_one = baby("Bayi Ny. Dewi I", 1)
    s = Script(posts=[], searches=[[stored("P11", twin_one)]])
    result = await s.run(twin_one)
    assert (result.id, result.created, s.post_calls) == ("P11", False, 0)


async def test_masked_nik_search_result_counts_as_a_match_but_a_different_nik_does_not() -> None:
    masked = Patient(id="P1", identifier=[Identifier(system=NIK_SYSTEM, value="#" * 16)])
    other = stored("P9", Patient(identifier=[nik_identifier("3171012345678901")]))
    s = Script(posts=[(201, resource("P2", adult()))], searches=[[other]])
    assert (await s.run(adult())).id == "P2"
    s = Script(posts=[], searches=[[masked]])
    assert (await s.run(adult())).id == "P1"
