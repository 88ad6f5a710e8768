"""The idempotent create, step by step, against scripted fakes (no server)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async.errors import (
    APIError,
    BadRequestError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from satusehat_async.http.response import Response
from satusehat_async.patients import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    AmbiguousMatchError,
    CreateOutcomeUnknown,
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


def response(status: int, body: bytes) -> Response:
    """A POST's answer as the transport returns it."""
    url = "https://api-satusehat-stg.dto.kemkes.go.id/fhir-r4/v1/Patient"
    return Response(status, CIMultiDictProxy(CIMultiDict()), body, "POST", url)


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
        return response(status, body)

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


# -- birth order, ambiguity, an unknown outcome -----------------------------------------------


def test_newborn_needs_a_birth_order() -> None:
    for order in (None, -2):
        with pytest.raises(ValidationError, match="birth order"):
            plan_create(baby(order=order))
    # 0 is the documented single birth (issue 9): accepted, and sent as given
    single = plan_create(baby(order=0))
    assert msgspec.json.decode(single.body)["multipleBirthInteger"] == 0
    with pytest.raises(ValidationError, match="birth order"):
        plan_create(baby(order=None, multiple_birth_boolean=True))
    with pytest.raises(ValidationError, match="not both"):
        plan_create(baby(order=1, multiple_birth_boolean=False))
    assert plan_create(baby(order=2)).system == NIK_IBU_SYSTEM
    boolean = plan_create(baby(order=None, multiple_birth_boolean=False))
    assert boolean.system == NIK_IBU_SYSTEM
    # the documents' form of a single birth is what goes out
    sent = msgspec.json.decode(boolean.body)
    assert sent["multipleBirthInteger"] == 0 and "multipleBirthBoolean" not in sent
    # an adult's own NIK is unique: no birth order needed
    assert plan_create(adult()).system == NIK_SYSTEM


def test_birth_orders_that_match() -> None:
    single = baby(order=None, multiple_birth_boolean=False)
    unstated = baby(order=None)
    assert newborn_matches(baby(order=1), baby(order=1))
    assert not newborn_matches(baby(order=2), baby(order=1))
    # a record without a birth order is not one of twins with an order
    assert not newborn_matches(unstated, baby(order=1))
    assert not newborn_matches(baby(order=0), baby(order=1))
    assert not newborn_matches(baby(order=None, multiple_birth_boolean=True), baby(order=1))
    assert not newborn_matches(single, baby(order=1))
    # a single birth is the record stored as one, or stored without any birth order
    assert newborn_matches(single, single)
    assert newborn_matches(baby(order=0), single)
    assert newborn_matches(unstated, single)
    assert not newborn_matches(baby(order=1), single)
    assert not newborn_matches(baby(order=None, multiple_birth_boolean=True), single)


async def test_same_named_twins_without_order_were_merged_now_refused() -> None:
    first = baby("Bayi Ny. Siti", order=None)
    s = Script(posts=[], searches=[[stored("P21", first)]])
    with pytest.raises(ValidationError, match="birth order"):
        await s.run(baby("Bayi Ny. Siti", order=None))
    assert (s.post_calls, s.search_calls) == (0, [])


async def test_several_matches_are_ambiguous() -> None:
    twin = baby("Bayi Ny. Siti", 1)
    s = Script(posts=[], searches=[[stored("P1", twin), stored("P2", twin)]])
    with pytest.raises(AmbiguousMatchError, match="2 records") as info:
        await s.run(twin)
    assert info.value.ids == ("P1", "P2")
    assert MOTHER not in str(info.value)
    assert s.post_calls == 0
    # found after an ambiguous failure: still two, still an error
    s = Script(
        posts=[ServerError("boom", status=500)],
        searches=[[], [stored("P1", twin), stored("P2", twin)]],
    )
    with pytest.raises(AmbiguousMatchError):
        await s.run(twin)
    masked = Patient(id="P3", identifier=[Identifier(system=NIK_SYSTEM, value="#" * 16)])
    s = Script(posts=[], searches=[[masked, msgspec.structs.replace(masked, id="P4")]])
    with pytest.raises(AmbiguousMatchError):
        await s.run(adult())


class FailingSearch(Script):
    """Searches answer from the script until it runs out, then fail."""

    def __init__(self, posts: list[Any], searches: list[list[Patient]], error: Exception):
        super().__init__(posts, searches)
        self.error = error

    async def search(self, system: str, value: str) -> list[Patient]:
        if not self.searches:
            self.search_calls.append((system, value))
            raise self.error
        return await super().search(system, value)


@pytest.mark.parametrize(
    "search_error",
    [ServerError("no healthy upstream", status=503), RequestTimeout("timed out")],
)
async def test_failed_reconciliation_is_an_unknown_outcome(search_error: Exception) -> None:
    write_error = ServerError("boom", status=500)
    s = FailingSearch(posts=[write_error], searches=[[]], error=search_error)
    with pytest.raises(CreateOutcomeUnknown) as info:
        await s.run(adult())
    error = info.value
    assert error.last_error is write_error and error.cause is search_error
    assert error.__cause__ is search_error
    assert "outcome" in str(error) and "unknown" in str(error)
    assert "safe" in str(error) and NIK not in str(error)
    assert s.post_calls == 1  # never re-sent blindly


async def test_failed_search_before_sending_is_raised_as_is() -> None:
    s = FailingSearch(posts=[], searches=[], error=ServerError("down", status=503))
    with pytest.raises(ServerError):
        await s.run(adult())
    assert s.post_calls == 0


async def test_refusal_with_a_sentence_for_data_is_a_bad_request() -> None:
    body = b'{"success": false, "data": "NIK tidak ditemukan di Dukcapil"}'
    s = Script(posts=[(200, body)], searches=[[]])
    with pytest.raises(BadRequestError, match="NIK tidak ditemukan di Dukcapil"):
        await s.run(adult())
    assert (s.post_calls, len(s.search_calls)) == (1, 1)  # not reconciled, not re-sent


def test_dict_with_unknown_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"birth_date.*birthDate"):
        to_patient({"identifier": [{"system": NIK_SYSTEM, "value": NIK}], "birth_date": "x"})
    with pytest.raises(ValidationError, match=r"\$\.name\[1\]\.nama"):
        to_patient({"name": [{"text": "a"}, {"nama": "b"}]})
    with pytest.raises(ValidationError, match=r"\$\._birthDate\.extension\[0\]\.valueFoo"):
        to_patient({"_birthDate": {"extension": [{"url": "u", "valueFoo": 1}]}})
    # every declared element is known, nulls included; contained resources are kept raw
    patient = to_patient(
        {
            "resourceType": "Patient",
            "gender": None,
            "_birthDate": {"extension": [{"url": "u", "valueDecimal": 1.5}]},
            "contained": [{"resourceType": "Organization", "anything": 1}],
            "contact": [{"name": {"given": ["a"], "_given": [None, {"id": "x"}]}}],
        }
    )
    assert patient.gender is None and patient.contained is not None
