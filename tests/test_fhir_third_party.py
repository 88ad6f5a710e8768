"""The generic resource API against a real third-party FHIR R4 server (Medplum's engine).

Our sandbox is not the only judge: ``client.fhir(Patient | Encounter | Observation)`` —
create (idempotent by identifier), get, update, patch, search across pages — runs
unchanged against an implementation we did not write (tests/fhir_server.py), behind the
harness's OAuth2 (a SATUSEHAT-shaped token endpoint; a bearer token on every FHIR route).
The client's backend is the real aiohttp backend wrapped by :class:`FaultyBackend`, which
records every attempt and can fault one: drop the answer of a write the server committed,
lose a write before it reaches the server, or answer one search with a stale (empty) page,
so the duplicate-safe create is judged by what the third-party server ends up holding.

Quirks of the engine met here (none needs a client change): versionIds are UUIDs, not
counters; numbers are re-serialized by JavaScript (``72.50`` comes back ``72.5``, equal as
a decimal); ``Location`` names the version (``.../Observation/{id}/_history/{vid}``); a
PUT to an unknown id creates the resource; the search ``total`` is exact and pages are
``_count``/``_offset`` with a ``next`` link on the server's own base.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from fhir_server import FhirServerInfo, fhir_server_oauth, unique_system  # noqa: F401

from satusehat_async import SatuSehatClient
from satusehat_async.errors import (
    AuthenticationError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from satusehat_async.fhir import (
    Bundle,
    CodeableConcept,
    Coding,
    Encounter,
    HumanName,
    Identifier,
    Observation,
    Patient,
    Period,
    Quantity,
    Reference,
    decimal_value,
    decode_resource,
    fhir_decimal,
)
from satusehat_async.http.aiohttp_backend import AiohttpBackend
from satusehat_async.http.backend import BackendRequest, BackendResponse
from satusehat_async.patients import replace
from satusehat_async.redact import redact_url
from satusehat_async.resource import ResourceAPI

FHIR_JSON = "application/fhir+json"
TOKEN_PATH = "/oauth2/v1/accesstoken"
EMPTY_SEARCHSET = b'{"resourceType":"Bundle","type":"searchset","total":0,"entry":[]}'
KINDS = ("Patient", "Encounter", "Observation")


# -- the backend: the real one, recorded, with one-shot faults ---------------------------------


@dataclass
class FaultyBackend:
    """Forwards to the real aiohttp backend; records every attempt; applies queued faults.

    A fault is ``(method, kind)``, applied to the next FHIR request with that method:
    ``"drop"`` forwards it (the server commits) and then loses the answer; ``"lose"`` loses
    the request before it reaches the server; ``"stale"`` answers an empty searchset
    without asking the server (a search index that lags the write).
    """

    inner: AiohttpBackend = field(default_factory=AiohttpBackend)
    faults: list[tuple[str, str]] = field(default_factory=list)
    requests: list[BackendRequest] = field(default_factory=list)
    answers: list[tuple[BackendRequest, BackendResponse]] = field(default_factory=list)

    def fhir_requests(self, method: str | None = None) -> list[BackendRequest]:
        """The attempts sent to FHIR routes (not the token endpoint), of one method or all."""
        return [
            r
            for r in self.requests
            if TOKEN_PATH not in r.url and (method is None or r.method == method)
        ]

    def _take(self, request: BackendRequest) -> str | None:
        if TOKEN_PATH in request.url:
            return None
        for index, (method, kind) in enumerate(self.faults):
            if method == request.method:
                del self.faults[index]
                return kind
        return None

    async def exchange(self, request: BackendRequest) -> BackendResponse:
        """Send ``request`` through the real backend, unless a fault says otherwise."""
        self.requests.append(request)
        fault = self._take(request)
        if fault == "lose":
            raise _dropped(request)
        if fault == "stale":
            return BackendResponse.of(200, {"Content-Type": FHIR_JSON}, EMPTY_SEARCHSET)
        response = await self.inner.exchange(request)
        if fault == "drop":
            raise _dropped(request)
        self.answers.append((request, response))
        return response

    async def aclose(self) -> None:
        """Close the real backend's session."""
        await self.inner.aclose()


def _dropped(request: BackendRequest) -> TransportError:
    """What aiohttp's ServerDisconnectedError becomes: the request may have been processed."""
    where = redact_url(request.url)
    return TransportError(
        f"{request.method} {where}: the connection closed before the answer (injected)",
        method=request.method,
        url=where,
        sent=True,
        kind="ServerDisconnectedError",
    )


@dataclass
class Harness:
    """A client on the OAuth2-protected third-party server, its backend and its sleeps."""

    client: SatuSehatClient
    backend: FaultyBackend
    sleeps: list[float]
    server: FhirServerInfo

    def api(self, kind: str) -> ResourceAPI[Any]:
        return self.client.fhir(MODELS[kind])

    async def held(self, kind: str, system: str, value: str) -> list[str]:
        """The ids the server holds with ``system|value`` (an authenticated raw search)."""
        url = f"{self.client.fhir_url}/{kind}"
        found = await self.client.request("GET", url, params={"identifier": f"{system}|{value}"})
        return [entry["resource"]["id"] for entry in found.get("entry", [])]


MODELS: dict[str, type[Any]] = {
    "Patient": Patient,
    "Encounter": Encounter,
    "Observation": Observation,
}


def _client(server: FhirServerInfo, backend: FaultyBackend, **kwargs: Any) -> SatuSehatClient:
    assert server.client_id is not None and server.client_secret is not None
    return SatuSehatClient(
        server.client_id, server.client_secret, base_url=server.origin, backend=backend, **kwargs
    )


@pytest.fixture
async def harness(
    fhir_server_oauth: FhirServerInfo,  # noqa: F811
) -> AsyncIterator[Harness]:
    backend = FaultyBackend()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # waits are recorded, not slept
        sleeps.append(seconds)

    try:
        async with _client(fhir_server_oauth, backend, sleep=sleep) as client:
            yield Harness(client, backend, sleeps, fhir_server_oauth)
    finally:
        await backend.aclose()


# -- resources -----------------------------------------------------------------------------------


@dataclass
class Refs:
    """References the Encounter and Observation builders point at (created once per test)."""

    subject: str = "Patient/unknown"
    encounter: str = "Encounter/unknown"


def identifiers(system: str, value: str, batch: tuple[str, str] | None) -> list[Identifier]:
    """The create identifier first; optionally a second one shared by a test's batch (the
    client's search wants ``system|value``, so a batch is found by a shared value)."""
    found = [Identifier(system=system, value=value)]
    if batch is not None:
        found.append(Identifier(system=batch[0], value=batch[1]))
    return found


def build(
    kind: str, system: str, value: str, refs: Refs, batch: tuple[str, str] | None = None
) -> Any:
    """A valid R4 ``kind`` as the generated model."""
    ids = identifiers(system, value, batch)
    if kind == "Patient":
        name = HumanName(family="Uji", given=["Coba"])
        return Patient(identifier=ids, name=[name], gender="female", birth_date="1990-01-31")
    if kind == "Encounter":
        amb = Coding(system="http://terminology.hl7.org/CodeSystem/v3-ActCode", code="AMB")
        return Encounter(
            identifier=ids,
            status="arrived",
            class_=amb,
            subject=Reference(reference=refs.subject),
            period=Period(start="2024-05-01T01:00:00+00:00"),
        )
    heart_rate = CodeableConcept(coding=[Coding(system="http://loinc.org", code="8867-4")])
    return Observation(
        identifier=ids,
        status="final",
        code=heart_rate,
        subject=Reference(reference=refs.subject),
        encounter=Reference(reference=refs.encounter),
        value_quantity=Quantity(
            value=fhir_decimal("72.50"), unit="/min", system="http://unitsofmeasure.org"
        ),
    )


def as_dict(resource: Any) -> dict[str, Any]:
    """A model as the plain FHIR dict a caller might hold."""
    found: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(resource))
    return found


async def refs_for(h: Harness, kind: str) -> Refs:
    """A Patient (and an Encounter) for ``kind`` to refer to."""
    refs = Refs()
    if kind == "Patient":
        return refs
    system = unique_system("refs")
    patient = await h.api("Patient").create(build("Patient", system, "p", refs))
    refs.subject = f"Patient/{patient.id}"
    if kind == "Observation":
        encounter = await h.api("Encounter").create(build("Encounter", system, "e", refs))
        refs.encounter = f"Encounter/{encounter.id}"
    return refs


# The change an update and a patch make, per kind: (element path, before, after).
CHANGES = {
    "Patient": ("gender", "female", "male"),
    "Encounter": ("status", "arrived", "in-progress"),
    "Observation": ("status", "final", "amended"),
}


# -- OAuth2 of the harness -------------------------------------------------------------------------


async def test_fhir_routes_require_a_token_from_the_harness(
    fhir_server_oauth: FhirServerInfo,  # noqa: F811
) -> None:
    server = fhir_server_oauth
    token_url = f"{server.origin}{TOKEN_PATH}"
    form = {"client_id": server.client_id, "client_secret": server.client_secret}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/Patient") as anonymous:
            assert anonymous.status == 401
            assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        async with http.post(token_url, data=form) as no_grant:
            assert no_grant.status == 400
        wrong = {**form, "client_secret": "not-it"}
        grant = {"grant_type": "client_credentials"}
        async with http.post(token_url, params=grant, data=wrong) as refused:
            assert refused.status == 401
        async with http.post(token_url, params=grant, data=form) as issued:
            assert issued.status == 200
            answer = await issued.json()
        assert answer["expires_in"] == "3599"  # a string, as SATUSEHAT sends it
        bearer = {"Authorization": f"Bearer {answer['access_token']}"}
        async with http.get(f"{server.base_url}/Patient", headers=bearer) as allowed:
            assert allowed.status == 200
        forged = {"Authorization": "Bearer " + "x" * 28}
        async with http.get(f"{server.base_url}/Patient", headers=forged) as refused:
            assert refused.status == 401


async def test_the_client_authenticates_once_and_sends_its_token(harness: Harness) -> None:
    api = harness.api("Patient")
    system = unique_system("auth")
    created = await api.create(build("Patient", system, "p1", Refs()))
    await api.get(created.id)
    await api.search(identifier=f"{system}|p1").all()
    token_requests = [r for r in harness.backend.requests if TOKEN_PATH in r.url]
    assert len(token_requests) == 1
    assert token_requests[0].query["grant_type"] == "client_credentials"
    fhir = harness.backend.fhir_requests()
    assert len(fhir) >= 4  # search before the create, the create, the read, the search
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in fhir)


async def test_wrong_credentials_are_an_authentication_error(
    fhir_server_oauth: FhirServerInfo,  # noqa: F811
) -> None:
    backend = FaultyBackend()
    server = fhir_server_oauth
    try:
        async with SatuSehatClient(
            server.client_id or "", "wrong-secret", base_url=server.origin, backend=backend
        ) as client:
            with pytest.raises(AuthenticationError):
                await client.fhir(Patient).get(str(uuid.uuid4()))
    finally:
        await backend.aclose()
    assert backend.fhir_requests() == []  # no FHIR request went without a token


# -- create, read, update, patch -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_create_read_update_patch(harness: Harness, kind: str) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system = unique_system(f"crud-{kind}")
    created = await api.create(build(kind, system, "v1", refs))
    assert created.created is True
    assert isinstance(created.resource, MODELS[kind])
    assert created.resource.id == created.id
    first_version = created.resource.meta.version_id
    assert first_version

    read = await api.get(created.id)
    assert isinstance(read, MODELS[kind])
    assert read.id == created.id
    assert [(i.system, i.value) for i in read.identifier] == [(system, "v1")]
    assert read.meta.version_id == first_version

    element, before, after = CHANGES[kind]
    assert getattr(read, element) == before
    updated = await api.update(msgspec.structs.replace(read, **{element: after}))
    assert updated.id == created.id
    assert getattr(updated, element) == after
    assert updated.meta.version_id not in (None, first_version)
    assert getattr(await api.get(created.id), element) == after
    put = harness.backend.fhir_requests("PUT")
    assert [r.url for r in put] == [f"{api.url}/{created.id}"]
    assert put[0].json()["id"] == created.id  # the id travels in the body too

    patched = await api.patch(created.id, [replace(f"/{element}", before)])
    assert getattr(patched, element) == before
    assert patched.meta.version_id not in (first_version, updated.meta.version_id)
    assert getattr(await api.get(created.id), element) == before
    assert await harness.held(kind, system, "v1") == [created.id]


async def test_dict_input_and_decimal_digits(harness: Harness) -> None:
    refs = await refs_for(harness, "Observation")
    system = unique_system("dict")
    body = as_dict(build("Observation", system, "o1", refs))
    body["valueQuantity"]["value"] = Decimal("72.50")
    created = await harness.api("Observation").create(body)
    assert created.created is True
    sent = harness.backend.fhir_requests("POST")[-1].body
    assert b'"value":72.50' in sent  # our digits on the wire
    read = await harness.api("Observation").get(created.id)
    # The engine is JavaScript: the number comes back as 72.5, the same decimal.
    assert decimal_value(read.value_quantity.value) == Decimal("72.50")


async def test_reads_and_updates_refused(harness: Harness) -> None:
    api = harness.api("Encounter")
    with pytest.raises(NotFoundError):
        await api.get(str(uuid.uuid4()))
    refs = await refs_for(harness, "Encounter")
    created = await api.create(build("Encounter", unique_system("refused"), "e1", refs))
    sent = len(harness.backend.fhir_requests())
    assert created.resource is not None
    with pytest.raises(ValidationError, match="id mismatch"):
        await api.update(created.resource, resource_id=str(uuid.uuid4()))
    with pytest.raises(ValidationError, match="id in the body"):
        await api.update(msgspec.structs.replace(created.resource, id=None))
    assert len(harness.backend.fhir_requests()) == sent  # nothing was sent


BAD_KEYS = {
    "Patient": ("birthdate", "1990-01-31", "birthDate"),
    "Encounter": ("serviceprovider", {"reference": "Organization/1"}, "serviceProvider"),
    "Observation": ("valueQuantiy", {"value": 1}, "valueQuantity"),
}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dict_with_a_bad_key_is_refused_before_sending(harness: Harness, kind: str) -> None:
    system = unique_system(f"badkey-{kind}")
    body = as_dict(build(kind, system, "x1", Refs()))
    key, value, meant = BAD_KEYS[kind]
    body[key] = value
    with pytest.raises(ValidationError, match=f"did you mean {meant}"):
        await harness.api(kind).create(body)
    with pytest.raises(ValidationError, match=f"did you mean {meant}"):
        await harness.api(kind).update({**body, "id": str(uuid.uuid4())})
    assert harness.backend.fhir_requests() == []  # not even the search before a create
    assert await harness.held(kind, system, "x1") == []


# -- search across pages ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_search_follows_next_links_across_pages(harness: Harness, kind: str) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system, batch = unique_system(f"paging-{kind}"), (unique_system("batch"), "b")
    expected = set()
    for n in range(5):
        expected.add((await api.create(build(kind, system, f"v{n}", refs, batch))).id)
    token = f"{batch[0]}|{batch[1]}"

    before = len(harness.backend.fhir_requests("GET"))
    results = api.search(identifier=token, _count=2)
    pages = [page async for page in results.pages()]
    assert [len(page.resources) for page in pages] == [2, 2, 1]
    assert [page.last for page in pages] == [False, False, True]
    ids = [r.id for page in pages for r in page.resources]
    assert len(ids) == len(set(ids)) == 5
    assert set(ids) == expected
    assert all(isinstance(r, MODELS[kind]) for page in pages for r in page.resources)
    assert results.stats.total == 5 and results.stats.pages == 3
    assert results.stats.complete
    gets = harness.backend.fhir_requests("GET")[before:]
    assert len(gets) == 3
    assert all(r.url.startswith(api.url + "?") for r in gets)  # next links on our base
    assert ["_offset" in r.query for r in gets] == [False, True, True]

    one_by_one = [r.id async for r in api.search(identifier=token, _count=2)]
    assert sorted(one_by_one) == sorted(ids)


async def test_search_stops_early_fetching_nothing_more(harness: Harness) -> None:
    api = harness.api("Observation")
    refs = await refs_for(harness, "Observation")
    system = unique_system("early")
    for n in range(3):
        await api.create(build("Observation", system, f"o{n}", refs))
    before = len(harness.backend.fhir_requests("GET"))
    found = api.search(encounter=refs.encounter, _count=2)
    async with found:
        async for first in found:
            assert isinstance(first, Observation)
            break
    assert found.stats.pages == 1 and not found.stats.exhausted
    assert len(harness.backend.fhir_requests("GET")) == before + 1
    everything = await api.search(encounter=refs.encounter).all()
    assert len(everything) == 3


async def test_search_answers_decode_as_bundles_of_generated_classes(harness: Harness) -> None:
    refs = await refs_for(harness, "Observation")
    system = unique_system("bundle")
    api = harness.api("Observation")
    for n in range(2):
        await api.create(build("Observation", system, f"o{n}", refs))
    found = await api.search(encounter=refs.encounter).all()
    request, answer = harness.backend.answers[-1]
    assert request.method == "GET" and request.url.startswith(api.url)

    for bundle in (msgspec.json.decode(answer.body, type=Bundle), decode_resource(answer.body)):
        assert isinstance(bundle, Bundle)
        assert bundle.type == "searchset" and bundle.total == 2
        observations = [entry.resource for entry in bundle.entry]
        assert all(isinstance(o, Observation) for o in observations)
        assert [o.id for o in observations] == [o.id for o in found]
        for entry in bundle.entry:
            assert entry.full_url == f"{harness.client.fhir_url}/Observation/{entry.resource.id}"
        values = {decimal_value(o.value_quantity.value) for o in observations}
        assert values == {Decimal("72.5")}
        assert {o.encounter.reference for o in observations} == {refs.encounter}
        # Lossless: encoded back, it is the server's answer element for element.
        assert msgspec.json.decode(msgspec.json.encode(bundle)) == msgspec.json.decode(answer.body)


# -- idempotent and conditional creates ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_creating_again_returns_the_existing_record(harness: Harness, kind: str) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system = unique_system(f"again-{kind}")
    first = await api.create(build(kind, system, "v1", refs))
    posts = len(harness.backend.fhir_requests("POST"))
    again = await api.create(build(kind, system, "v1", refs))
    assert (again.created, again.id) == (False, first.id)
    assert len(harness.backend.fhir_requests("POST")) == posts  # found by the search first
    # A fresh client (no memory of the first create) finds it the same way.
    backend = FaultyBackend()
    try:
        async with _client(harness.server, backend) as other:
            third = await other.fhir(MODELS[kind]).create(build(kind, system, "v1", refs))
    finally:
        await backend.aclose()
    assert (third.created, third.id) == (False, first.id)
    assert backend.fhir_requests("POST") == []
    assert await harness.held(kind, system, "v1") == [first.id]


@pytest.mark.parametrize("kind", KINDS)
async def test_if_none_exist_is_honoured_when_the_search_misses(
    harness: Harness, kind: str
) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system = unique_system(f"conditional-{kind}")
    # Another system stored the record (a raw POST: this client has no memory of it) ...
    body = as_dict(build(kind, system, "v1", refs))
    first = await harness.client.request("POST", api.url, json=body)
    # ... and the search before sending does not show it yet (a lagging index).
    harness.backend.faults.append(("GET", "stale"))
    posts = len(harness.backend.fhir_requests("POST"))
    again = await api.create(build(kind, system, "v1", refs))
    sent = harness.backend.fhir_requests("POST")[posts:]
    assert len(sent) == 1
    assert sent[0].headers["If-None-Exist"] == f"identifier={system}|v1"
    # The server matched its own record (200, not 201): the client says so.
    assert (again.created, again.id) == (False, first["id"])
    assert await harness.held(kind, system, "v1") == [first["id"]]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dropped_answer_is_reconciled_not_resent(harness: Harness, kind: str) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system = unique_system(f"dropped-{kind}")
    harness.backend.faults.append(("POST", "drop"))  # committed, then the answer is lost
    posts = len(harness.backend.fhir_requests("POST"))
    result = await api.create(build(kind, system, "v1", refs))
    assert result.created is True
    assert len(harness.backend.fhir_requests("POST")) == posts + 1  # found, not re-sent
    assert await harness.held(kind, system, "v1") == [result.id]
    assert isinstance(result.resource, MODELS[kind])
    assert result.resource.id == result.id


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lost_write_is_sent_again_once(harness: Harness, kind: str) -> None:
    api = harness.api(kind)
    refs = await refs_for(harness, kind)
    system = unique_system(f"lost-{kind}")
    harness.backend.faults.append(("POST", "lose"))  # never reached the server
    posts = len(harness.backend.fhir_requests("POST"))
    result = await api.create(build(kind, system, "v1", refs))
    assert result.created is True
    assert len(harness.backend.fhir_requests("POST")) == posts + 2
    assert await harness.held(kind, system, "v1") == [result.id]


async def test_a_local_identifier_create_after_a_dropped_answer(
    fhir_server_oauth: FhirServerInfo,  # noqa: F811
) -> None:
    # A local identifier (http://sys-ids.kemkes.go.id/encounter/{org}) is one SATUSEHAT
    # keeps unique: one search settles a failed write. A random organization keeps the
    # test's records apart.
    organization = uuid.uuid4().hex[:12]
    backend = FaultyBackend(faults=[("POST", "drop")])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    try:
        async with _client(
            fhir_server_oauth, backend, organization_id=organization, sleep=sleep
        ) as client:
            api = client.fhir(Encounter)
            identifier = api.local_identifier("RJ-0001")
            assert identifier.system == f"http://sys-ids.kemkes.go.id/encounter/{organization}"
            encounter = build("Encounter", identifier.system, "RJ-0001", Refs("Patient/p"))
            result = await api.create(encounter)
            again = await api.create(encounter)
            held = await client.request(
                "GET", api.url, params={"identifier": f"{identifier.system}|RJ-0001"}
            )
            with pytest.raises(ValidationError, match="organization"):
                other = Identifier(system="http://sys-ids.kemkes.go.id/encounter/other", value="1")
                await api.create(msgspec.structs.replace(encounter, identifier=[other]))
    finally:
        await backend.aclose()
    assert result.created is True
    assert (again.created, again.id) == (False, result.id)
    assert [e["resource"]["id"] for e in held["entry"]] == [result.id]
    assert len(backend.fhir_requests("POST")) == 1
