"""client.patients against the sandbox: idempotent creates under ambiguous write faults,
search, get and patch round trips, and refusals before sending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from _support import RecordingSleep

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.errors import NotFoundError, SatuSehatError, ServerError, ValidationError
from satusehat_async.patients import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    AmbiguousMatchError,
    CreateOutcomeUnknown,
    HumanName,
    Patient,
    Patients,
    is_masked,
    nik_ibu_identifier,
    nik_identifier,
    replace,
)
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import MockBackend, Sandbox

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
    kwargs.setdefault("circuit_breaker", CircuitBreaker(minimum_calls=1_000, window_size=1_000))
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


async def test_existing_nik_returns_its_id_in_one_request(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    first = await client.patients.create(adult(2))
    requests = sb.stats.requests
    again = await client.patients.create(adult(2))
    assert (again.id, again.created) == (first.id, False)
    # issue 14: one request, the POST, answered by the MPI's duplicate envelope
    assert sb.stats.requests == requests + 1
    assert sb.stats.requests_by_path[POST_PATIENT] == 2
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
        {"conditional_create": True},
        {"create_answer": "envelope", "conditional_create": True},
    ],
    ids=["resource", "envelope", "conditional-create", "envelope-conditional"],
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
    bodies = [
        page(
            ["P1", "P2"], "https://api-satusehat.example/fhir-r4/v1/Patient/?identifier=x&_page=2"
        ),
        page(["P3"], None),
    ]
    asked: list[str] = []

    def handler(request: Any) -> tuple[int, dict[str, str], bytes]:
        if request.url.startswith("http://gateway.local/oauth2/"):
            return 200, {}, b'{"access_token": "t", "expires_in": "3600"}'
        asked.append(request.url)
        return 200, {}, bodies.pop(0)

    backend = MockBackend(handler)
    async with SatuSehatClient(
        "id", "secret", base_url="http://gateway.local", backend=backend
    ) as client:
        found = await Patients(client).search(nik_ibu=MOTHERS[0])
    assert [p.id for p in found] == ["P1", "P2", "P3"]
    # the second page is asked of our own endpoint, never of the host the answer named
    assert asked[1] == "http://gateway.local/fhir-r4/v1/Patient?identifier=x&_page=2"


async def test_patients_objects_of_one_client_share_their_locks() -> None:
    def handler(request: Any) -> tuple[int, bytes]:
        return 500, b""

    client = SatuSehatClient("id", "secret", backend=MockBackend(handler))
    other = SatuSehatClient("id", "secret", backend=MockBackend(handler))
    one, two = Patients(client), Patients(client)
    assert one._locks is two._locks
    assert Patients(other)._locks is not one._locks


# -- newborns: a birth order is required, twins are never merged ------------------------

SITI = "3273014503880001"  # a mother whose twins share one placeholder name
WRITE_FAULTS = ("commit_then_500", "commit_then_504", "commit_then_drop")


def siti_baby(order: int | None = None, **elements: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": NIK_IBU_SYSTEM, "value": SITI}],
        "name": [{"use": "official", "text": "Bayi Ny. Siti"}],
        "birthDate": "2025-07-01",
        **elements,
    }
    if order is not None:
        resource["multipleBirthInteger"] = order
    return resource


def legacy_record(sb: Sandbox, **elements: Any) -> str:
    """A baby stored by some other system, without a birth order (the server fills 0)."""
    body = json.dumps(siti_baby(**elements)).encode()
    answer = sb.patients.create(body, "application/json", None)
    assert answer.status == 201
    return str(answer.body["id"])


@pytest.mark.parametrize(
    "elements",
    [
        {},  # no birth order at all
        {"multipleBirthInteger": -1},  # (0 is a single birth: accepted since issue 9)
        {"multipleBirthBoolean": True},  # a multiple birth, but which baby?
        {"multipleBirthBoolean": False, "multipleBirthInteger": 1},  # a choice type: one
    ],
)
async def test_newborn_without_a_usable_birth_order_is_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient, elements: dict[str, Any]
) -> None:
    before = sb.stats.requests
    for _ in range(2):  # twins with the same placeholder name were merged into one
        with pytest.raises(ValidationError, match=r"birth order|multipleBirth"):
            await client.patients.create(siti_baby(**elements))
    assert sb.stats.requests == before
    assert len(sb.patients) == 0


@pytest.mark.parametrize("fault", [None, *WRITE_FAULTS])
async def test_same_named_twins_created_one_after_the_other(
    sb: Sandbox, client: SatuSehatClient, fault: str | None
) -> None:
    results = []
    for order in (1, 2):
        if fault:
            sb.inject(fault, method="POST", path_prefix=PATIENT_PATH)
        results.append(await client.patients.create(siti_baby(order)))
    one, two = results
    assert one.created and two.created and one.id != two.id
    assert len(sb.patients) == sb.stats.patients_stored == 2
    for result, order in ((one, 1), (two, 2)):
        assert (await client.patients.get(result.id)).multiple_birth_integer == order
    # a retried create (say, after a crash) finds its own record, not its twin's
    for result, order in ((one, 1), (two, 2)):
        if fault:
            sb.inject(fault, method="POST", path_prefix=PATIENT_PATH)
        again = await client.patients.create(siti_baby(order))
        assert (again.id, again.created) == (result.id, False)
    assert len(sb.patients) == 2


@pytest.mark.parametrize("faults_per_kind", [0, 1, 2])
async def test_same_named_triplets_created_concurrently_and_twice_each(
    faults_per_kind: int,
) -> None:
    async with Sandbox(facilities=10) as sb, client_for(sb) as client:
        for kind in WRITE_FAULTS if faults_per_kind else ():
            sb.inject(kind, count=faults_per_kind, method="POST", path_prefix=PATIENT_PATH)
        orders = [1, 2, 3, 1, 2, 3]
        results = await asyncio.gather(*(client.patients.create(siti_baby(o)) for o in orders))
        assert len(sb.patients) == sb.stats.patients_stored == 3
        by_order: dict[int, set[str]] = {}
        for order, result in zip(orders, results, strict=True):
            by_order.setdefault(order, set()).add(result.id)
        assert all(len(ids) == 1 for ids in by_order.values())  # each triplet: one id
        assert len(set.union(*by_order.values())) == 3  # and never a sibling's
        assert [r.created for r in results].count(True) == 3
        # with faults, every one of the 3 writes (the others found a record) failed
        # ambiguously after it was stored
        assert sum(sb.stats.faults_injected.values()) == (3 if faults_per_kind else 0)
        for order, (patient_id,) in by_order.items():
            assert (await client.patients.get(patient_id)).multiple_birth_integer == order


async def test_twins_are_not_merged_with_a_record_without_birth_order(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    legacy = legacy_record(sb)  # same name and birth date, multipleBirthInteger 0
    one = await client.patients.create(siti_baby(1))
    assert one.created and one.id != legacy
    assert len(sb.patients) == 2


@pytest.mark.parametrize("fault", [None, *WRITE_FAULTS])
async def test_single_birth_is_multiple_birth_boolean_false(
    sb: Sandbox, client: SatuSehatClient, fault: str | None
) -> None:
    if fault:
        sb.inject(fault, method="POST", path_prefix=PATIENT_PATH)
    first = await client.patients.create(siti_baby(multipleBirthBoolean=False))
    assert first.created
    again = await client.patients.create(siti_baby(multipleBirthBoolean=False))
    assert (again.id, again.created) == (first.id, False)
    assert len(sb.patients) == sb.stats.patients_stored == 1
    # a baby of another birth order is another baby
    twin = await client.patients.create(siti_baby(1))
    assert twin.created and twin.id != first.id


async def test_single_birth_finds_a_record_the_server_stored_without_birth_order(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    legacy = legacy_record(sb)
    found = await client.patients.create(siti_baby(multipleBirthBoolean=False))
    assert (found.id, found.created) == (legacy, False)
    assert len(sb.patients) == 1


async def test_several_matching_records_are_an_error_not_a_guess(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    ids = {legacy_record(sb), legacy_record(sb)}  # two babies, no birth order
    with pytest.raises(AmbiguousMatchError) as info:
        await client.patients.create(siti_baby(multipleBirthBoolean=False))
    assert set(info.value.ids) == ids
    assert "2 " in str(info.value) and SITI not in str(info.value)
    assert len(sb.patients) == 2
    # the same when the server already holds two records of one twin
    for _ in range(2):
        sb.patients.create(json.dumps(siti_baby(2)).encode(), "application/json", None)
    with pytest.raises(AmbiguousMatchError):
        await client.patients.create(siti_baby(2))


# -- the outcome of a create that cannot be checked ---------------------------------------


async def test_failed_reconciliation_says_the_outcome_is_unknown(sb: Sandbox) -> None:
    async def faults_while_waiting(seconds: float) -> None:
        # the write has failed ambiguously; now the search that would check it fails too
        sb.inject("503", count=2, method="GET", path_prefix=PATIENT_PATH)

    async with client_for(sb, retry=RetryPolicy(max_attempts=2, jitter=None)) as client:
        patients = Patients(client, sleep=faults_while_waiting)
        sb.inject("commit_then_500", method="POST", path_prefix=PATIENT_PATH)
        with pytest.raises(CreateOutcomeUnknown) as info:
            await patients.create(adult(11))
        error = info.value
        assert isinstance(error, SatuSehatError)
        assert isinstance(error.last_error, ServerError) and error.last_error.status == 500
        assert isinstance(error.cause, ServerError) and error.cause.status == 503
        assert error.__cause__ is error.cause
        text = str(error)
        assert "unknown" in text and "safe" in text and "503" in text and "500" in text
        assert str(adult(11).nik) not in text
        assert sb.stats.patients_stored == 1  # it did commit
        # repeating the create is safe: it finds the record instead of adding one
        again = await patients.create(adult(11))
        assert again.created is False
        assert sb.stats.patients_stored == len(sb.patients) == 1


# -- strict dicts, ids, non-finite patch values -------------------------------------------


async def test_dict_with_unknown_keys_is_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    before = sb.stats.requests
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": NIK_SYSTEM, "value": "3273015708950078"}],
        "birth_date": "1990-01-01",  # snake_case: not FHIR
        "nama": "Budi",
        "name": [{"text": "Budi", "given_name": "Budi"}],
    }
    with pytest.raises(ValidationError) as info:
        await client.patients.create(resource)
    text = str(info.value)
    assert "birth_date" in text and "nama" in text and "given_name" in text
    assert "birthDate" in text  # the FHIR spelling is suggested
    assert sb.stats.requests == before


@pytest.mark.parametrize("patient_id", [".", ".."])
async def test_dot_ids_are_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient, patient_id: str
) -> None:
    before = sb.stats.requests
    with pytest.raises(ValidationError, match="invalid Patient id"):
        await client.patients.get(patient_id)
    with pytest.raises(ValidationError, match="invalid Patient id"):
        await client.patients.patch(patient_id, [replace("/language", "id")])
    assert sb.stats.requests == before


async def test_non_finite_patch_values_are_refused_before_sending(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    created = await client.patients.create(adult(12))
    before = sb.stats.requests
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValidationError, match="finite"):
            await client.patients.patch(
                created.id, [{"op": "replace", "path": "/x", "value": value}]
            )
    assert sb.stats.requests == before


# -- 200 answers and conditional create ----------------------------------------------------


async def test_sandbox_does_not_honour_if_none_exist_by_default(sb: Sandbox) -> None:
    assert sb.patients.conditional_create is False


async def test_plain_200_patient_answer_to_a_create_is_a_creation(
    sb: Sandbox, client: SatuSehatClient
) -> None:
    sb.patients.create_status = 200  # a server that answers a new record with 200
    baby = await client.patients.create(siti_baby(1))  # no If-None-Exist for a newborn
    assert (baby.created, sb.stats.patients_stored) == (True, 1)
    assert baby.resource is not None and baby.resource.id == baby.id
