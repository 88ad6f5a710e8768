"""``client.practitioners``: by NIK (cached with a TTL, single-flight), by id, by name.

Against the embedded sandbox, whose practitioner directory holds SATUSEHAT's 10
published dummy practitioners and a few hundred generated ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _support import FakeClock

from satusehat_async import SatuSehatClient
from satusehat_async.errors import NotFoundError, ServerError, ValidationError
from satusehat_async.fhir import Practitioner as FHIRPractitioner
from satusehat_async.practitioners import IHS_NUMBER_SYSTEM, Practitioner
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import LocalSandbox

SEARCH = "GET /fhir-r4/v1/{type}"
READ = "GET /fhir-r4/v1/{type}/{id}"
ALEXANDER = ("7209061211900001", "10009880728")
UNKNOWN = "3171071609900099"  # a valid NIK no practitioner has


@pytest.fixture
async def sb() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=1, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
async def client(sb: LocalSandbox, clock: FakeClock) -> AsyncIterator[SatuSehatClient]:
    fast = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    async with sb.client(monotonic=clock, retry=fast) as c:
        yield c


def searches(sb: LocalSandbox) -> int:
    return sb.stats.requests_by_path[SEARCH]


async def test_a_published_dummy_practitioner_by_nik(sb: LocalSandbox, client: Any) -> None:
    found = await client.practitioners.by_nik(ALEXANDER[0])
    assert isinstance(found, Practitioner) and isinstance(found, FHIRPractitioner)
    assert found.id == found.ihs_number == ALEXANDER[1]
    ihs = [i.value for i in found.identifier if i.system == IHS_NUMBER_SYSTEM]
    assert ihs == [ALEXANDER[1]]
    assert found.display_name == "dr. Alexander" and found.birth_date == "1994-01-01"
    assert found.nik is None  # the sandbox masks it, as the patient index does
    assert searches(sb) == 1


async def test_100_concurrent_look_ups_of_one_nik_send_one_request(
    sb: LocalSandbox, client: Any
) -> None:
    results = await asyncio.gather(*(client.practitioners.by_nik(ALEXANDER[0]) for _ in range(100)))
    assert searches(sb) == 1
    assert {r.id for r in results} == {ALEXANDER[1]}
    assert len({id(r) for r in results}) == 100  # each caller its own copy
    assert client.practitioners.cache.coalesced == 99


async def test_100_nik_then_0_within_the_ttl_then_100_after_it(
    sb: LocalSandbox, client: Any, clock: FakeClock
) -> None:
    directory = sb.resources.practitioners
    niks = directory.niks[10:110]
    assert len(set(niks)) == 100
    lookups = client.practitioners

    first = await asyncio.gather(*(lookups.by_nik(n) for n in niks))
    assert searches(sb) == 100
    assert [p.id for p in first] == [directory.ihs_number(n) for n in niks]

    clock.advance(3599)
    again = await asyncio.gather(*(lookups.by_nik(n) for n in niks))
    assert searches(sb) == 100 and [p.id for p in again] == [p.id for p in first]

    clock.advance(2)  # past the default hour
    await asyncio.gather(*(lookups.by_nik(n) for n in niks))
    assert searches(sb) == 200


async def test_the_ttl_is_configurable_and_validated(
    sb: LocalSandbox, client: Any, clock: FakeClock
) -> None:
    lookups = client.practitioners
    lookups.ttl = 60
    await lookups.by_nik(ALEXANDER[0])
    clock.advance(59)
    await lookups.by_nik(ALEXANDER[0])
    assert searches(sb) == 1
    clock.advance(2)
    await lookups.by_nik(ALEXANDER[0])
    assert searches(sb) == 2
    for bad in (-1, "60", None, True):
        with pytest.raises(ValidationError):
            lookups.ttl = bad


async def test_an_unknown_nik_is_none_and_cached_for_the_shorter_miss_ttl(
    sb: LocalSandbox, client: Any, clock: FakeClock
) -> None:
    lookups = client.practitioners
    assert await lookups.by_nik(UNKNOWN) is None
    assert await lookups.by_nik(UNKNOWN) is None
    assert searches(sb) == 1
    clock.advance(lookups.miss_ttl + 1)
    assert await lookups.by_nik(UNKNOWN) is None
    assert searches(sb) == 2


@pytest.mark.parametrize(
    "bad",
    [
        "720906121190000",  # 15 digits
        "72090612119000011",  # 17 digits
        "0109061211900001",  # province 01
        "7209061211900000",  # serial 0000
        "7209O61211900001",  # a letter O
        7209061211900001,  # not a string
        None,
    ],
)
async def test_a_bad_nik_is_refused_before_sending_and_masked(
    sb: LocalSandbox, client: Any, bad: Any
) -> None:
    sb.reset_stats()
    with pytest.raises(ValidationError) as caught:
        await client.practitioners.by_nik(bad)
    assert sb.stats.requests == 0
    if isinstance(bad, str):
        assert bad not in str(caught.value) and bad[4:12] not in str(caught.value)


async def test_the_nik_appears_in_no_repr_message_or_log(
    sb: LocalSandbox, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sb.resources.practitioners.mask_nik = False  # the server answers it unmasked
    nik = ALEXANDER[0]
    with caplog.at_level(logging.DEBUG, logger="satusehat_async"):
        found = await client.practitioners.by_nik(nik)
        await client.practitioners.by_nik(UNKNOWN)
    assert found is not None and found.nik == nik  # readable when the server sends it
    shown = [repr(found), str(found), repr(client.practitioners), repr(client.practitioners.cache)]
    shown += [r.getMessage() for r in caplog.records]
    assert caplog.records  # the look-ups were logged...
    for text in shown:
        assert nik not in text and UNKNOWN not in text  # ...masked
    assert any("7209********0001" in r.getMessage() for r in caplog.records)


async def test_a_failed_look_up_reaches_every_waiter_and_is_not_cached(
    sb: LocalSandbox, client: Any
) -> None:
    sb.inject("500", count=3, method="GET", path_prefix="/fhir-r4/v1/Practitioner")
    results = await asyncio.gather(
        *(client.practitioners.by_nik(ALEXANDER[0]) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(r, ServerError) for r in results)
    assert searches(sb) == 3  # one look-up, its three attempts
    found = await client.practitioners.by_nik(ALEXANDER[0])
    assert found is not None and found.id == ALEXANDER[1] and searches(sb) == 4


async def test_a_cancelled_caller_does_not_cancel_the_others(sb: LocalSandbox, client: Any) -> None:
    sb.latency = 0.05
    first = asyncio.ensure_future(client.practitioners.by_nik(ALEXANDER[0]))
    second = asyncio.ensure_future(client.practitioners.by_nik(ALEXANDER[0]))
    await asyncio.sleep(0.01)
    first.cancel()
    found = await second
    assert found is not None and found.id == ALEXANDER[1]
    assert first.cancelled() and searches(sb) == 1


async def test_get_by_ihs_number_is_cached_and_search_by_name(
    sb: LocalSandbox, client: Any
) -> None:
    lookups = client.practitioners
    one = await lookups.get("10006926841")
    two = await lookups.get("10006926841")
    assert one.display_name == two.display_name == "dr. Yoga Yandika, Sp.A"
    assert sb.stats.requests_by_path[READ] == 1
    with pytest.raises(NotFoundError):
        await lookups.get("19999999999")
    found = await lookups.search(name="Olivia", birthdate="1984-06-06", gender="female")
    assert [p.ihs_number for p in found] == ["10002074224"]
    assert await lookups.search(name="Olivia", birthdate="1984", gender="male") == []


@pytest.mark.parametrize(
    "query",
    [
        {"name": "", "birthdate": "1984", "gender": "female"},
        {"name": "Olivia", "birthdate": "06-06-1984", "gender": "female"},
        {"name": "Olivia", "birthdate": "1984", "gender": "F"},
    ],
)
async def test_a_bad_search_is_refused_before_sending(
    sb: LocalSandbox, client: Any, query: dict[str, str]
) -> None:
    sb.reset_stats()
    with pytest.raises(ValidationError):
        await client.practitioners.search(**query)
    with pytest.raises(ValidationError):
        await client.practitioners.get("not an id/../x")
    assert sb.stats.requests == 0


async def test_the_cache_lives_as_long_as_the_client(sb: LocalSandbox, client: Any) -> None:
    assert client.practitioners is client.practitioners
    await client.practitioners.by_nik(ALEXANDER[0])
    async with sb.client() as other:  # another client: its own cache
        await other.practitioners.by_nik(ALEXANDER[0])
    await client.practitioners.by_nik(ALEXANDER[0])
    assert searches(sb) == 2


async def test_the_directory_is_deterministic_and_valid() -> None:
    from satusehat_async.patients.identifiers import is_valid_nik

    one, two = LocalSandbox(facilities=1, seed=9), LocalSandbox(facilities=1, seed=9)
    directory = one.resources.practitioners
    assert directory.niks == two.resources.practitioners.niks
    assert len(directory) >= 300 and len(set(directory.niks)) == len(directory)
    assert all(is_valid_nik(n) for n in directory.niks)
    assert directory.ihs_number("3578083008700010") == "10001915884"
    assert (
        LocalSandbox(facilities=1, seed=10).resources.practitioners.niks[10:]
        != (directory.niks[10:])
    )


async def test_two_practitioners_with_one_nik_are_ambiguous(sb: LocalSandbox, client: Any) -> None:
    from satusehat_async.errors import AmbiguousMatchError

    nik = {"system": "https://fhir.kemkes.go.id/id/nik", "value": ALEXANDER[0]}
    sb.resources.add({"resourceType": "Practitioner", "id": "10000000001", "identifier": [nik]})
    with pytest.raises(AmbiguousMatchError) as caught:
        await client.practitioners.by_nik(ALEXANDER[0])
    assert "10000000001" in str(caught.value) and ALEXANDER[0] not in str(caught.value)


async def test_a_record_showing_another_nik_is_not_a_match() -> None:
    # a server ignoring the identifier parameter would list everyone: a record whose NIK
    # reads as another one's is not taken for the practitioner asked for
    from satusehat_async.testing import MockBackend

    other = {"system": "https://fhir.kemkes.go.id/id/nik", "value": "3322071302900002"}
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [{"resource": {"resourceType": "Practitioner", "id": "1", "identifier": [other]}}],
    }

    def handler(request: Any) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": "t", "expires_in": "3600"}
        return 200, bundle

    async with SatuSehatClient("id", "secret", backend=MockBackend(handler)) as client:
        assert await client.practitioners.by_nik(ALEXANDER[0]) is None
