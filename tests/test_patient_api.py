"""client.patients against the sandbox: idempotent creates under ambiguous write faults,
search, get and patch round trips, and refusals before sending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from _support import RecordingSleep

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.errors import NotFoundError, ServerError, ValidationError
from satusehat_async.patients import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    HumanName,
    Patient,
    Patients,
    is_masked,
    nik_ibu_identifier,
    nik_identifier,
    replace,
)
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox

POST_PATIENT = "POST /fhir-r4/v1/Patient"
PATIENT_PATH = "/fhir-r4/v1/Patient"


def adult(n: int, name: str | None = None) -> Patient:
    return Patient(
        identifier=[nik_identifier(f"32730157089500{n:02d}")],
        name=[HumanName(use="official", text=name or f"Pasien Nomor {n}")],
        gender="female" if n % 2 else "male",
        birth_date=f"1990-01-{n % 28 + 1:02d}",
    )


def newborn(mother: str, order: int, *, text: str | None = None) -> Patient:
    return Patient(
        identifier=[nik_ibu_identifier(mother)],
        name=[HumanName(use="official", text=text or f"Bayi Ny. {mother[-4:]} {order}")],
        gender="male" if order % 2 else "female",
        birth_date="2025-02-03",
        multiple_birth_integer=order,
    )


MOTHERS = ["9104025209000006", "3174015203900002", "3171014501900001"]


def population() -> list[Patient]:
    """Adults by NIK, and twins/triplets of three mothers by NIK-ibu."""
    people = [adult(n) for n in range(1, 7)]
    people += [newborn(MOTHERS[0], 1), newborn(MOTHERS[0], 2)]
    people += [newborn(MOTHERS[1], 1), newborn(MOTHERS[1], 2), newborn(MOTHERS[1], 3)]
    # same name and birth date, told apart only by birth order
    people += [
        newborn(MOTHERS[2], 1, text="Bayi Ny. Sari"),
        newborn(MOTHERS[2], 2, text="Bayi Ny. Sari"),
    ]
    return people


def client_for(sb: Sandbox, **kwargs: Any) -> SatuSehatClient:
    # never wait for real; a breaker that many injected 5xx in a row do not open
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("circuit_breaker", CircuitBreaker(threshold=1_000))
    return sb.client(**kwargs)


@pytest_asyncio.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=10) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def client(sb: Sandbox) -> AsyncIterator[SatuSehatClient]:
    async with client_for(sb) as c:
        yield c


async def assert_each_is_its_own(
    client: SatuSehatClient, people: list[Patient], results: list[Any]
) -> None:
    """Every result's id reads back as the very patient that call asked to create."""
    assert len({r.id for r in results}) == len(people)
    for person, result in zip(people, results, strict=True):
        stored = await client.patients.get(result.id)
        assert stored.id == result.id
        assert stored.nik == person.nik
        assert stored.nik_ibu == person.nik_ibu
        assert stored.name is not None and person.name is not None
        assert stored.name[0].text == person.name[0].text
        assert stored.multiple_birth_integer == (
            person.multiple_birth_integer or 0 if person.nik_ibu else None
        )
        assert stored.birth_date == person.birth_date


# -- idempotent creates ------------------------------------------------------------------


async def test_create_then_get_and_search(sb: Sandbox, client: SatuSehatClient) -> None:
    person = adult(1, "Dewi Putri Maharani")
    result = await client.patients.create(person)
    assert result.created is True
    assert result.resource is not None and result.resource.id == result.id
    assert sb.stats.patients_stored == 1
    fetched = await client.patients.get(result.id)
    assert fetched.nik == person.nik
    assert fetched.ihs_number == result.id
    (found,) = await client.patients.search(nik=person.nik)
    assert found.id == result.id
    assert is_masked(found.nik)


async def test_existing_nik_returns_its_id_without_posting(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    first = await client.patients.create(adult(2))
    posts = sb.stats.requests_by_path[POST_PATIENT]
    again = await client.patients.create(adult(2))
    assert (again.id, again.created) == (first.id, False)
    assert sb.stats.requests_by_path[POST_PATIENT] == posts  # found by the search first
    assert sb.stats.patients_stored == 1


async def test_existing_newborn_returns_its_id(sb: Sandbox, client: SatuSehatClient) -> None:
    first = await client.patients.create(newborn(MOTHERS[0], 1))
    twin = await client.patients.create(newborn(MOTHERS[0], 2))
    again = await client.patients.create(newborn(MOTHERS[0], 1))
    assert twin.created and twin.id != first.id
    assert (again.id, again.created) == (first.id, False)
    assert sb.stats.patients_stored == 2


async def test_dict_input(sb: Sandbox, client: SatuSehatClient) -> None:
    result = await client.patients.create(
        {
            "resourceType": "Patient",
            "identifier": [{"use": "official", "system": NIK_SYSTEM, "value": "3273015708950077"}],
            "name": [{"text": "Dari Dict"}],
        }
    )
    assert result.created
    assert (await client.patients.get(result.id)).name == [HumanName(text="Dari Dict")]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"create_answer": "envelope"},
        {"conditional_create": False},
        {"create_answer": "envelope", "conditional_create": False},
    ],
    ids=["resource", "envelope", "no-conditional-create", "envelope-no-conditional"],
)
async def test_concurrent_creates_under_ambiguous_faults_leave_exactly_n(
    options: dict[str, Any],
) -> None:
    people = population()
    async with Sandbox(facilities=10, **options) as sb:
        for kind in ("commit_then_500", "commit_then_504", "commit_then_drop"):
            sb.inject(kind, count=3, method="POST", path_prefix=PATIENT_PATH)
        async with client_for(sb) as client:
            results = await asyncio.gather(*(client.patients.create(p) for p in people))
            assert sb.stats.patients_stored == len(people) == len(sb.patients)
            assert sum(sb.stats.faults_injected.values()) == 9
            assert all(r.created for r in results)
            await assert_each_is_its_own(client, people, results)


async def test_faults_before_commit_are_resent(sb: Sandbox, client: SatuSehatClient) -> None:
    people = population()
    sb.inject("500", count=2, method="POST", path_prefix=PATIENT_PATH)
    sb.inject("drop", count=2, method="POST", path_prefix=PATIENT_PATH)
    sb.inject("504", count=2, method="POST", path_prefix=PATIENT_PATH)
    results = await asyncio.gather(*(client.patients.create(p) for p in people))
    assert sb.stats.patients_stored == len(people)
    assert sb.stats.requests_by_path[POST_PATIENT] == len(people) + 6
    await assert_each_is_its_own(client, people, results)


async def test_mixed_faults_on_writes_and_searches(sb: Sandbox, client: SatuSehatClient) -> None:
    people = population()
    # the reconciling searches fail too at first: the transport retries those GETs
    sb.inject("commit_then_drop", count=4, method="POST", path_prefix=PATIENT_PATH)
    sb.inject("503", count=4, method="GET", path_prefix=PATIENT_PATH)
    results = await asyncio.gather(*(client.patients.create(p) for p in people))
    assert sb.stats.patients_stored == len(people)
    await assert_each_is_its_own(client, people, results)


async def test_twins_sequentially_each_under_a_fault(sb: Sandbox, client: SatuSehatClient) -> None:
    ids = []
    for order, kind in ((1, "commit_then_504"), (2, "commit_then_drop"), (3, "commit_then_500")):
        sb.inject(kind, method="POST", path_prefix=PATIENT_PATH)
        result = await client.patients.create(newborn(MOTHERS[1], order, text="Bayi Kembar"))
        assert result.created
        ids.append(result.id)
    babies = await client.patients.search(nik_ibu=MOTHERS[1])
    assert {b.id: b.multiple_birth_integer for b in babies} == dict(
        zip(ids, (1, 2, 3), strict=True)
    )
    assert sb.stats.patients_stored == 3


async def test_gives_up_after_bounded_attempts(sb: Sandbox) -> None:
    async with client_for(sb, retry=RetryPolicy(max_attempts=2, jitter=None)) as client:
        sb.inject("500", count=10, method="POST", path_prefix=PATIENT_PATH)
        with pytest.raises(ServerError):
            await client.patients.create(adult(3))
        assert sb.stats.requests_by_path[POST_PATIENT] == 2
        assert sb.stats.patients_stored == 0


async def test_invalid_patients_are_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    before = sb.stats.requests
    for bad in (
        Patient(name=[HumanName(text="Tanpa NIK")]),
        {"identifier": [{"system": NIK_SYSTEM, "value": "12345"}]},
        {"identifier": [{"system": NIK_IBU_SYSTEM, "value": MOTHERS[0]}]},  # no birthDate
    ):
        with pytest.raises(ValidationError):
            await client.patients.create(bad)
    assert sb.stats.requests == before


# -- search, get, patch ----------------------------------------------------------------------


async def test_search_combinations(sb: Sandbox, client: SatuSehatClient) -> None:
    person = adult(5, "Salsabila Anjani Rizki")
    created = await client.patients.create(person)
    nik, name, birthdate, gender = (
        person.nik,
        "Salsabila Anjani Rizki",
        person.birth_date,
        person.gender,
    )
    assert nik and birthdate and gender
    short = await client.patients.search(nik=nik, name=name)
    assert [p.id for p in short] == [created.id]
    assert short[0].name is not None and is_masked(short[0].name[0].text)
    (full,) = await client.patients.search(nik=nik, name=name, birthdate=birthdate)
    assert full.nik == nik  # the caller proved it knows all three: unmasked
    (masked,) = await client.patients.search(name=name, birthdate=birthdate, gender=gender)
    assert masked.id == created.id and is_masked(masked.nik)
    (by_token,) = await client.patients.search(identifier=f"{NIK_SYSTEM}|{nik}")
    assert by_token.id == created.id
    assert await client.patients.search(nik="3273015708950099") == []
    assert await client.patients.search(nik_ibu=MOTHERS[2]) == []


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"name": "x"},
        {"nik": "3273015708950001", "gender": "male"},
        {"nik": "3273015708950001", "nik_ibu": "3273015708950001"},
        {"name": "x", "birthdate": "2000-01-01"},
        {"name": "x", "birthdate": "2000-02-30", "gender": "male"},
        {"name": "x", "birthdate": "2000-01-01", "gender": "lelaki"},
        {"nik": "327301570895"},
        {"identifier": "https://fhir.kemkes.go.id/id/ihs-number|P02280547535"},
        {"identifier": f"{NIK_SYSTEM}|3273015708950001", "nik": "3273015708950001"},
    ],
)
async def test_unsupported_searches_are_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient, query: dict[str, str]
) -> None:
    before = sb.stats.requests
    with pytest.raises(ValidationError):
        await client.patients.search(**query)
    assert sb.stats.requests == before


async def test_get_missing_patient(client: SatuSehatClient) -> None:
    with pytest.raises(NotFoundError):
        await client.patients.get("P99999999999")
    with pytest.raises(ValidationError):
        await client.patients.get("../Organization/1")


async def test_patch_round_trip(sb: Sandbox, client: SatuSehatClient) -> None:
    # JSON Patch replace needs the target to exist: start with a language
    created = await client.patients.create(msgspec.structs.replace(adult(6), language="jv"))
    updated = await client.patients.patch(
        created.id,
        [
            replace("/language", "id"),
            {"op": "replace", "path": "/name/0/text", "value": "Nama Baru"},
        ],
    )
    assert updated.language == "id"
    assert updated.name is not None and updated.name[0].text == "Nama Baru"
    assert (await client.patients.get(created.id)) == updated
    again = await client.patients.patch(
        created.id, [replace("/active", False)], content_type="application/json"
    )
    assert again.active is False


async def test_patch_is_retried_after_an_ambiguous_failure(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    created = await client.patients.create(msgspec.structs.replace(adult(7), language="jv"))
    sb.inject("commit_then_500", method="PATCH")
    updated = await client.patients.patch(created.id, [replace("/language", "en")])
    assert updated.language == "en"
    assert sb.stats.patches_applied == 2  # applied twice, same result: replace is idempotent


async def test_unsupported_patches_are_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    created = await client.patients.create(adult(8))
    before = sb.stats.requests
    for ops in (
        [{"op": "add", "path": "/language", "value": "id"}],
        [{"op": "remove", "path": "/language"}],
        [],
    ):
        with pytest.raises(ValidationError):
            await client.patients.patch(created.id, ops)
    with pytest.raises(ValidationError):
        await client.patients.patch(
            created.id, [replace("/language", "id")], content_type="text/plain"
        )
    assert sb.stats.requests == before


async def test_client_patients_is_one_object_and_constructible(client: SatuSehatClient) -> None:
    assert client.patients is client.patients
    assert isinstance(Patients(client), Patients)
    assert Patients(client).url == f"{client.fhir_url}/Patient"


async def test_same_patient_created_concurrently_is_stored_once(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    baby = newborn(MOTHERS[0], 1)
    person = adult(9)
    sb.inject("commit_then_drop", count=2, method="POST", path_prefix=PATIENT_PATH)
    results = await asyncio.gather(
        *(client.patients.create(baby) for _ in range(4)),
        *(client.patients.create(person) for _ in range(4)),
    )
    assert sb.stats.patients_stored == 2
    assert len({r.id for r in results[:4]}) == 1 and len({r.id for r in results[4:]}) == 1
    # exactly one call per patient created it; the others found it
    assert [r.created for r in results[:4]].count(True) == 1
    assert [r.created for r in results[4:]].count(True) == 1


# -- with a fake transport ---------------------------------------------------------------


class FakeTransport:
    """Answers GETs from a list of bodies; records the URLs asked for."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies
        self.urls: list[str] = []
        self.retry = RetryPolicy()

    async def send(self, method: str, url: str, **kwargs: Any) -> Any:
        params = kwargs.get("params")
        self.urls.append(
            url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        )
        return SimpleNamespace(status=200, headers={}, body=self.bodies.pop(0))


class FakeClient:
    def __init__(self, transport: FakeTransport) -> None:
        self.fhir_url = "http://gateway.local/fhir-r4/v1"
        self.transport = transport


def page(ids: list[str], next_url: str | None) -> bytes:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Patient", "id": i}} for i in ids],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return json.dumps(bundle).encode()


async def test_search_follows_next_pages_on_the_configured_host() -> None:
    transport = FakeTransport(
        [
            page(
                ["P1", "P2"],
                "https://api-satusehat.example/fhir-r4/v1/Patient/?identifier=x&_page=2",
            ),
            page(["P3"], None),
        ]
    )
    patients = Patients(FakeClient(transport))  # type: ignore[arg-type]
    found = await patients.search(nik_ibu=MOTHERS[0])
    assert [p.id for p in found] == ["P1", "P2", "P3"]
    # the second page is asked of our own endpoint, never of the host the answer named
    assert transport.urls[1] == "http://gateway.local/fhir-r4/v1/Patient?identifier=x&_page=2"


async def test_patients_objects_of_one_client_share_their_locks() -> None:
    client = FakeClient(FakeTransport([]))
    one, two = Patients(client), Patients(client)  # type: ignore[arg-type]
    assert one._locks is two._locks
    assert Patients(FakeClient(FakeTransport([])))._locks is not one._locks  # type: ignore[arg-type]
