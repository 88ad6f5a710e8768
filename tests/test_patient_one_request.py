"""Issue 14: one round trip per new patient by NIK, where the server keeps the NIK unique.

The POST goes first (with ``If-None-Exist``) against the MPI — SATUSEHAT's hosts, or the
local sandbox, which declares the MPI's uniqueness in its CapabilityStatement — and against
a server declaring conditional create; its answer (the new record, the duplicate envelope,
a conditional match, a 412) is the whole create. A search follows only an ambiguous
failure. Newborns, and servers that declare neither, stay search-first. Under ambiguous
write faults (late commits, lagging searches, concurrent creates from two clients) every
NIK is stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from typing import Any

import pytest
from _support import FakeClock, RecordingSleep, Routes
from fhir_server import FhirServerInfo, fhir_server_oauth  # noqa: F401

from satusehat_async import CircuitBreaker, SatuSehatClient
from satusehat_async.config import Environment
from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.metrics import RequestEvent
from satusehat_async.patients import (
    NIK_SYSTEM,
    AmbiguousMatchError,
    CreateOutcomeUnknown,
    CreateResult,
    HumanName,
    Patient,
    Patients,
    nik_ibu_identifier,
    nik_identifier,
)
from satusehat_async.patients import capabilities as caps
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import patients as sandbox_patients
from satusehat_async.testing import Sandbox

POST = "POST /fhir-r4/v1/Patient"
SEARCH = "GET /fhir-r4/v1/Patient"
METADATA = "GET /fhir-r4/v1/metadata"
PATIENT_PATH = "/fhir-r4/v1/Patient"
QUICK = RetryPolicy(max_attempts=6, max_time=30.0, base_delay=0.02, max_delay=0.1, jitter=None)
MOTHER = "9104025209000006"


def adult(n: int) -> Patient:
    return Patient(
        identifier=[nik_identifier(f"3273015708{n + 1:06d}")],
        name=[HumanName(use="official", text=f"Pasien {n}")],
        gender="female",
        birth_date="1990-01-01",
    )


def baby(order: int) -> Patient:
    return Patient(
        identifier=[nik_ibu_identifier(MOTHER)],
        name=[HumanName(text="Bayi Ny. Siti")],
        birth_date="2025-07-01",
        multiple_birth_integer=order,
    )


def quiet() -> CircuitBreaker:
    return CircuitBreaker(minimum_calls=100_000, window_size=100_000)


def fhir_requests(sb: Sandbox) -> Counter[str]:
    """Requests by route, the token endpoint's left out."""
    return Counter({k: v for k, v in sb.stats.requests_by_path.items() if "oauth2" not in k})


# -- the request count against the sandbox ------------------------------------------------


async def test_a_new_patient_is_one_request_against_the_mpi() -> None:
    async with Sandbox(facilities=10) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            client.patients.nik_unique = True  # said outright: nothing else is read
            result = await client.patients.create(adult(1))
        assert result.created and sb.patients.get(result.id) is not None
        assert fhir_requests(sb) == Counter({POST: 1})


async def test_the_sandbox_is_known_as_the_mpi_from_its_capability_statement() -> None:
    async with Sandbox(facilities=10) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            traits = await client.patients.server_traits()
            assert (traits.nik_unique, traits.source) == (True, "metadata")
            # 30 new patients at once: one metadata read between them, then one POST each
            results = await asyncio.gather(*(client.patients.create(adult(n)) for n in range(30)))
        assert all(r.created for r in results) and len({r.id for r in results}) == 30
        assert fhir_requests(sb) == Counter({POST: 30, METADATA: 1})


async def test_concurrent_first_creates_share_one_metadata_read() -> None:
    async with Sandbox(facilities=10, latency=0.02) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            await asyncio.gather(*(client.patients.create(adult(n)) for n in range(10)))
            # a second Patients object of the same client knows it too
            await Patients(client).create(adult(11))
        assert fhir_requests(sb) == Counter({POST: 11, METADATA: 1})


async def test_an_existing_nik_is_one_request_answered_by_the_duplicate_envelope() -> None:
    async with Sandbox(facilities=10) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            client.patients.nik_unique = True
            first = await client.patients.create(adult(2))
            sb.reset_stats()
            again = await client.patients.create(adult(2))
        assert (again.id, again.created) == (first.id, False)
        assert fhir_requests(sb) == Counter({POST: 1})
        assert len(sb.patients) == 1


async def test_a_conditional_create_server_is_one_request_too() -> None:
    async with Sandbox(facilities=10, conditional_create=True) as sb:
        sb.patients.announce_unique_nik = False  # only FHIR's conditionalCreate is declared
        async with sb.client(circuit_breaker=quiet()) as client:
            traits = await client.patients.server_traits()
            assert (traits.nik_unique, traits.conditional_create) == (False, True)
            sb.reset_stats()
            new = await client.patients.create(adult(3))
            assert new.created and fhir_requests(sb) == Counter({POST: 1})
            sb.reset_stats()
            again = await client.patients.create(adult(3))
        # 200 and the existing resource: created=False, with the record
        assert (again.id, again.created) == (new.id, False)
        assert again.resource is not None and again.resource.id == new.id
        assert fhir_requests(sb) == Counter({POST: 1})


async def test_a_server_that_declares_neither_is_searched_first() -> None:
    async with Sandbox(facilities=10) as sb:
        sb.patients.announce_unique_nik = False
        async with sb.client(circuit_breaker=quiet()) as client:
            assert not (await client.patients.server_traits()).write_first
            sb.reset_stats()
            new = await client.patients.create(adult(4))
            assert new.created and fhir_requests(sb) == Counter({SEARCH: 1, POST: 1})
            sb.reset_stats()
            again = await client.patients.create(adult(4))
        assert (again.id, again.created) == (new.id, False)
        assert fhir_requests(sb) == Counter({SEARCH: 1})  # found: nothing sent


async def test_nik_unique_false_ignores_the_uniqueness_extension() -> None:
    async with Sandbox(facilities=10) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            client.patients.nik_unique = False
            await client.patients.create(adult(5))
        assert fhir_requests(sb) == Counter({METADATA: 1, SEARCH: 1, POST: 1})


async def test_newborns_stay_search_first_even_against_the_mpi() -> None:
    async with Sandbox(facilities=10, conditional_create=True) as sb:
        async with sb.client(circuit_breaker=quiet()) as client:
            client.patients.nik_unique = True
            first = await client.patients.create(baby(1))
            twin = await client.patients.create(baby(2))
            again = await client.patients.create(baby(1))
        assert first.created and twin.created and first.id != twin.id
        assert (again.id, again.created) == (first.id, False)
        # searched before each write; never If-None-Exist (twins share the mother's NIK)
        assert fhir_requests(sb) == Counter({SEARCH: 3, POST: 2})
        assert len(sb.patients) == 2


def test_nik_unique_takes_only_a_bool_or_none() -> None:
    client = SatuSehatClient("id", "secret", backend=Routes().backend)
    for bad in ("yes", 1, 0):
        with pytest.raises(ValidationError):
            Patients(client, nik_unique=bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            client.patients.nik_unique = bad  # type: ignore[assignment]
    assert Patients(client, nik_unique=True).nik_unique is True


# -- ambiguous write faults: reconciled by a search, never stored twice ----------------------


@pytest.mark.parametrize("conditional", [False, True])
async def test_a_late_commit_hidden_from_search_is_not_stored_twice(conditional: bool) -> None:
    # The write commits 0.3 s after its 504; the search right after sees nothing, so the
    # write is sent again: the server's uniqueness (the envelope, or the conditional
    # match) keeps one record when the late write lands.
    async with Sandbox(
        facilities=10, late_commit=(0.3, 0.3), search_lag=(0.5, 0.5), conditional_create=conditional
    ) as sb:
        sb.patients.announce_unique_nik = not conditional
        sb.inject("commit_then_504", method="POST", path_prefix=PATIENT_PATH)
        async with sb.client(retry=QUICK, circuit_breaker=quiet()) as client:
            result = await client.patients.create(adult(6))
            await sb.settle()
        assert sb.patients.ids == [result.id] and result.created
        assert sb.stats.patients_stored == 1
        requests = fhir_requests(sb)
        assert requests[POST] == 2 and requests[SEARCH] == 1  # a search only after the 504


async def test_a_write_committed_before_its_dropped_answer_is_found_by_one_search() -> None:
    async with Sandbox(facilities=10) as sb:
        sb.inject("commit_then_drop", method="POST", path_prefix=PATIENT_PATH)
        async with sb.client(retry=QUICK, circuit_breaker=quiet()) as client:
            client.patients.nik_unique = True
            result = await client.patients.create(adult(7))
        assert (result.id, result.created) == (sb.patients.ids[0], True)
        assert fhir_requests(sb) == Counter({POST: 1, SEARCH: 1})


def _nik(n: int) -> str:
    return f"3201011201{n + 1:06d}"


async def _until_known(patients: Patients, patient: Patient) -> CreateResult[Patient]:
    for _ in range(40):
        try:
            return await patients.create(patient)
        except (CreateOutcomeUnknown, SatuSehatError):  # repeating is safe, as documented
            await asyncio.sleep(0.05)
    raise AssertionError("no outcome after 40 tries")


@pytest.mark.parametrize("conditional", [False, True])
async def test_many_concurrent_creates_under_random_ambiguous_faults_store_one_per_nik(
    conditional: bool,
) -> None:
    kinds = ["commit_then_504", "commit_then_drop", "commit_then_500", "503", "drop"]
    people = [
        Patient(identifier=[nik_identifier(_nik(n))], name=[HumanName(text=f"P {n}")])
        for n in range(40)
    ]
    async with Sandbox(
        facilities=10,
        fault_rate=0.4,
        fault_kinds=kinds,
        late_commit=(0.0, 0.2),
        search_lag=(0.0, 0.3),
        conditional_create=conditional,
        seed=7,
    ) as sb:
        sb.patients.announce_unique_nik = not conditional
        async with (
            sb.client(retry=QUICK, circuit_breaker=quiet()) as one,
            sb.client(retry=QUICK, circuit_breaker=quiet()) as two,
        ):
            # every patient asked for twice by one client and once by another, all at once
            calls = [(c, p) for p in people for c in (one.patients, one.patients, two.patients)]
            random.Random(3).shuffle(calls)
            results = await asyncio.gather(*(_until_known(c, p) for c, p in calls))
            assert (await one.patients.server_traits()).write_first
        await sb.settle()
        stored = Counter()
        for patient_id in sb.patients.ids:
            record = sb.patients.get(patient_id)
            assert record is not None
            stored[next(i["value"] for i in record["identifier"] if i["system"] == NIK_SYSTEM)] += 1
        assert stored == Counter({_nik(n): 1 for n in range(40)})  # 0 duplicates, 0 lost
        by_nik: dict[str, set[str]] = {}
        for (_, person), result in zip(calls, results, strict=True):
            by_nik.setdefault(str(person.nik), set()).add(result.id)
        assert all(len(ids) == 1 for ids in by_nik.values())  # every caller: the one record
        assert sum(sb.stats.faults_injected.values()) > 10  # the faults were really there


# -- the answers' shapes, through MockBackend ----------------------------------------------

STAGING = Environment.SANDBOX.base_url
OTHER = "https://fhir.example.org"
TOKEN = (200, {}, {"access_token": "t", "expires_in": "3600"})


def _client(routes: Routes, base_url: str = STAGING, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1, jitter=None))
    return SatuSehatClient(
        "id",
        "secret",
        base_url=base_url,
        backend=routes.backend,
        sleep=RecordingSleep(),
        circuit_breaker=quiet(),
        **kwargs,
    )


def _fhir_calls(routes: Routes) -> list[str]:
    return [
        f"{r.method} {r.url.split('?')[0].split('/fhir-r4/v1')[1]}"
        for r in routes.calls()
        if "oauth2" not in r.url
    ]


def _capability(**patient: Any) -> dict[str, Any]:
    entry = {"type": "Patient", **patient}
    return {
        "resourceType": "CapabilityStatement",
        "rest": [{"mode": "server", "resource": [entry]}],
    }


def _searchset(*ids: str) -> dict[str, Any]:
    entries = [{"resource": {"resourceType": "Patient", "id": i}} for i in ids]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(ids), "entry": entries}


async def test_on_satusehat_hosts_the_envelope_answers_an_existing_nik_in_one_post() -> None:
    routes = Routes()
    routes.post(f"{STAGING}/oauth2/v1/accesstoken", TOKEN)
    envelope = {
        "success": False,
        "message": "Failed to create new patient, another identifier has found",
        "data": {"resourceID": "P02029102427"},
    }
    routes.post(f"{STAGING}/fhir-r4/v1/Patient", (200, {}, envelope))
    async with _client(routes) as client:
        result = await client.patients.create(adult(8))
    assert (result.id, result.created) == ("P02029102427", False)
    assert _fhir_calls(routes) == ["POST /Patient"]  # no metadata, no search
    (post,) = routes.calls("POST")[1:]
    assert post.headers["If-None-Exist"] == f"identifier={NIK_SYSTEM}|{adult(8).nik}"


async def test_a_412_for_several_matches_is_the_typed_ambiguity_error() -> None:
    routes = Routes()
    routes.post(f"{OTHER}/oauth2/v1/accesstoken", TOKEN)
    routes.get(f"{OTHER}/fhir-r4/v1/metadata", (200, {}, _capability(conditionalCreate=True)))
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "multiple-matches"}],
    }
    routes.post(f"{OTHER}/fhir-r4/v1/Patient", (412, {}, outcome))
    routes.get(f"{OTHER}/fhir-r4/v1/Patient", (200, {}, _searchset("a-1", "a-2")))
    async with _client(routes, OTHER) as client:
        with pytest.raises(AmbiguousMatchError) as info:
            await client.patients.create(adult(9))
    assert info.value.ids == ("a-1", "a-2")
    assert adult(9).nik not in str(info.value)
    assert _fhir_calls(routes) == ["GET /metadata", "POST /Patient", "GET /Patient"]


async def test_a_conditional_match_is_created_false_in_one_post() -> None:
    routes = Routes()
    routes.post(f"{OTHER}/oauth2/v1/accesstoken", TOKEN)
    routes.get(f"{OTHER}/fhir-r4/v1/metadata", (200, {}, _capability(conditionalCreate=True)))
    existing = {"resourceType": "Patient", "id": "x-1", "identifier": [{"system": NIK_SYSTEM}]}
    routes.post(f"{OTHER}/fhir-r4/v1/Patient", (200, {}, existing), repeat=True)
    async with _client(routes, OTHER) as client:
        first = await client.patients.create(adult(10))
        second = await client.patients.create(adult(11))
    assert (first.id, first.created, second.created) == ("x-1", False, False)
    assert _fhir_calls(routes) == ["GET /metadata", "POST /Patient", "POST /Patient"]


@pytest.mark.parametrize(
    "metadata",
    [
        (404, {}, b""),
        (200, {}, b"<html>maintenance</html>"),
        (200, {}, {"resourceType": "Bundle"}),
        (200, {}, _capability(conditionalCreate="true")),  # a string is no declaration
        (200, {}, _capability(conditionalCreate=True) | {"rest": [{"mode": "client"}]}),
    ],
    ids=["404", "html", "not-a-capability-statement", "string-true", "client-mode"],
)
async def test_a_server_declaring_nothing_is_searched_first_and_asked_once(metadata: Any) -> None:
    routes = Routes()
    routes.post(f"{OTHER}/oauth2/v1/accesstoken", TOKEN)
    routes.get(f"{OTHER}/fhir-r4/v1/metadata", metadata)
    routes.get(f"{OTHER}/fhir-r4/v1/Patient", (200, {}, _searchset()), repeat=True)
    created = {"resourceType": "Patient", "id": "n-1"}
    routes.post(f"{OTHER}/fhir-r4/v1/Patient", (201, {}, created), repeat=True)
    async with _client(routes, OTHER) as client:
        await client.patients.create(adult(12))
        await client.patients.create(adult(13))
    search_post = ["GET /Patient", "POST /Patient"]
    assert _fhir_calls(routes) == ["GET /metadata", *search_post, *search_post]


async def test_a_failed_metadata_read_falls_back_and_is_tried_again_later() -> None:
    clock = FakeClock(0.0)
    routes = Routes()
    routes.post(f"{OTHER}/oauth2/v1/accesstoken", TOKEN)
    routes.get(
        f"{OTHER}/fhir-r4/v1/metadata",
        (503, {}, b"no healthy upstream"),
        (200, {}, _capability(conditionalCreate=True)),
    )
    routes.get(f"{OTHER}/fhir-r4/v1/Patient", (200, {}, _searchset()), repeat=True)
    routes.post(
        f"{OTHER}/fhir-r4/v1/Patient",
        (201, {}, {"resourceType": "Patient", "id": "n"}),
        repeat=True,
    )
    async with _client(routes, OTHER) as client:
        client.transport.monotonic = clock
        await client.patients.create(adult(14))  # metadata 503: search-first
        clock.advance(caps.RETRY_FAILED_AFTER - 1)
        await client.patients.create(adult(15))  # not asked again yet
        clock.advance(2)
        await client.patients.create(adult(16))  # asked again: conditional create
        await client.patients.create(adult(17))
    assert _fhir_calls(routes) == [
        "GET /metadata",
        "GET /Patient",
        "POST /Patient",
        "GET /Patient",
        "POST /Patient",
        "GET /metadata",
        "POST /Patient",
        "POST /Patient",
    ]


def test_satusehat_hosts_are_the_mpi() -> None:
    for env in Environment:
        assert caps.is_satusehat_host(f"{env.base_url}/fhir-r4/v1")
    assert caps.is_satusehat_host("https://api-satusehat-dev.dto.kemkes.go.id/fhir-r4/v1")
    assert not caps.is_satusehat_host("http://api-satusehat.kemkes.go.id/fhir-r4/v1")
    assert not caps.is_satusehat_host("https://api-satusehat.kemkes.go.id.example/fhir-r4/v1")
    assert not caps.is_satusehat_host("http://127.0.0.1:8080/fhir-r4/v1")


def test_capability_statement_shapes() -> None:
    unique = {"url": caps.UNIQUE_IDENTIFIER_EXTENSION, "valueUri": NIK_SYSTEM}
    other = {"url": caps.UNIQUE_IDENTIFIER_EXTENSION, "valueUri": "urn:other"}

    def read(statement: Any) -> Any:
        return caps.traits_from_capabilities(json.dumps(statement).encode())

    assert read(_capability(extension=[unique])).nik_unique is True
    assert read(_capability(extension=[other])).write_first is False
    assert read(_capability(conditionalCreate=True)).conditional_create is True
    assert read([1, 2]) is None and read("x") is None
    assert caps.traits_from_capabilities(b"[" * 10_000) is None
    # the sandbox names the same extension (it shares no code with the client)
    assert sandbox_patients.UNIQUE_IDENTIFIER_EXTENSION == caps.UNIQUE_IDENTIFIER_EXTENSION


# -- a real third-party FHIR server (Medplum) ---------------------------------------------


def _random_nik(rng: random.Random) -> str:
    return f"32{rng.randrange(10**10):010d}{rng.randrange(1, 10**4):04d}"


async def test_medplum_honours_if_none_exist_but_declares_nothing(
    fhir_server_oauth: FhirServerInfo,  # noqa: F811
) -> None:
    info = fhir_server_oauth
    rng = random.Random()
    events: list[RequestEvent] = []

    def sent() -> list[str]:
        calls = [f"{e.method} {e.url.split('?')[0].rsplit('/', 1)[-1]}" for e in events]
        events.clear()
        return [c for c in calls if "accesstoken" not in c]

    assert info.client_id is not None and info.client_secret is not None
    async with SatuSehatClient(
        info.client_id,
        info.client_secret,
        base_url=info.origin,
        circuit_breaker=quiet(),
        hooks=[events.append],
    ) as client:
        # auto: its CapabilityStatement declares no conditional create, so search first
        traits = await client.patients.server_traits()
        assert (traits.source, traits.write_first) == ("metadata", False)
        nik = _random_nik(rng)
        person = Patient(identifier=[nik_identifier(nik)], name=[HumanName(text="Medplum")])
        first = await client.patients.create(person)
        again = await client.patients.create(person)
        assert first.created and (again.id, again.created) == (first.id, False)
        assert sent() == ["GET metadata", "GET Patient", "POST Patient", "GET Patient"]
        # said outright that it dedupes If-None-Exist: one POST each, and it does
        client.patients.nik_unique = True
        fresh = await client.patients.create(
            Patient(identifier=[nik_identifier(_random_nik(rng))], name=[HumanName(text="M")])
        )
        repeat = await client.patients.create(person)
        assert fresh.created and (repeat.id, repeat.created) == (first.id, False)
        assert sent() == ["POST Patient", "POST Patient"]  # one request per create
        found = await client.fhir(Patient).search(identifier=f"{NIK_SYSTEM}|{nik}").all()
        assert [p.id for p in found] == [first.id]
        # two records of one NIK (written around the client): its 412 is the typed error
        twice = {"resourceType": "Patient", "identifier": [{"system": NIK_SYSTEM, "value": ""}]}
        twice["identifier"][0]["value"] = _random_nik(rng)
        url = f"{info.base_url}/Patient"
        headers = {"Content-Type": "application/fhir+json"}
        ids = [(await client.request("POST", url, json=twice, headers=headers))["id"] for _ in "ab"]
        events.clear()
        with pytest.raises(AmbiguousMatchError) as caught:
            await client.patients.create(twice)
        assert sorted(caught.value.ids) == sorted(ids)
        assert sent() == ["POST Patient", "GET Patient"]  # the 412, then the ids listed
