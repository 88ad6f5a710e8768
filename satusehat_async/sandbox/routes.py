"""The sandbox's endpoints at SATUSEHAT's real paths, and the aiohttp application serving them.

The OAuth token, the Master Sarana Index, Patient (create, search, read, patch; the MPI,
answering ``application/json``) and every other FHIR resource type (``[A-Z][A-Za-z]+``:
create, read, version read, update, patch, search, and ``transaction`` Bundles POSTed to
the FHIR base itself; the FHIR store, answering
``application/fhir+json`` with its keys sorted, as Google's serializer does). Each
handler turns the request into a call on one of the sandbox's stores (the token issuer,
the facility registry, the patient store, the resource store) and their answer into a
response; every response carries a unique ``X-Request-Id``.
"""

from __future__ import annotations

import importlib
import uuid
from typing import TYPE_CHECKING, Protocol, cast

import msgspec
from aiohttp import web

from satusehat_async.sandbox.faults import TOKEN_PATH
from satusehat_async.sandbox.fhir import Answer
from satusehat_async.sandbox.msi import MsiQueryError, parse_msi_query
from satusehat_async.sandbox.resource_rules import FHIR_JSON, RESOURCE_TYPES

if TYPE_CHECKING:
    from satusehat_async.sandbox.gateway import Gateway
    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["FHIR_BASE", "MSI_PATH", "PATIENT_PATH", "RESOURCE_PATH", "TOKEN_PATH", "build_app"]

MSI_PATH = "/masterdata/v1/mastersaranaindex/mastersarana"
FHIR_BASE = "/fhir-r4/v1"
"""Where a ``transaction`` Bundle is POSTed (the FHIR base itself, not ``/Bundle``)."""
PATIENT_PATH = "/fhir-r4/v1/Patient"
RESOURCE_PATH = "/fhir-r4/v1/{type:" + "|".join(sorted(RESOURCE_TYPES - {"Patient"})) + "}"
"""Every FHIR R4 resource type but Patient (whose routes are the MPI's)."""
_ID = r"{id:[A-Za-z0-9\-.]{1,64}}"  # a FHIR id
_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def _json(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=_encode(answer.body),
        content_type="application/json",
        headers=answer.headers,
    )


def _fhir(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=_encode_sorted(answer.body),
        content_type=FHIR_JSON,
        charset="utf-8",
        headers=answer.headers,
    )


def _msi_error(message: str) -> web.Response:
    body = {"status_code": 400, "message": message, "data": None}
    return web.Response(status=400, body=_encode(body), content_type="application/json")


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Request-Id"] = str(uuid.uuid4())


def build_app(sandbox: LocalSandbox, gateway: Gateway) -> web.Application:
    """The application answering for ``sandbox``, behind ``gateway``'s middleware."""
    app = web.Application(middlewares=[gateway.middleware])
    endpoints = _Endpoints(sandbox)
    app.router.add_post(TOKEN_PATH, endpoints.token)
    app.router.add_get(MSI_PATH, endpoints.msi)
    app.router.add_post(PATIENT_PATH, endpoints.create_patient)
    app.router.add_get(PATIENT_PATH, endpoints.search_patients)
    app.router.add_get(PATIENT_PATH + "/", endpoints.search_patients)
    app.router.add_get(PATIENT_PATH + "/{id}", endpoints.read_patient)
    app.router.add_patch(PATIENT_PATH + "/{id}", endpoints.patch_patient)
    resources = _Resources(sandbox)
    app.router.add_post(RESOURCE_PATH, resources.create)
    app.router.add_get(RESOURCE_PATH, resources.search)
    app.router.add_get(RESOURCE_PATH + "/", resources.search)
    app.router.add_get(f"{RESOURCE_PATH}/{_ID}", resources.read)
    app.router.add_put(f"{RESOURCE_PATH}/{_ID}", resources.update)
    app.router.add_patch(f"{RESOURCE_PATH}/{_ID}", resources.patch)
    app.router.add_get(f"{RESOURCE_PATH}/{_ID}/_history/{{vid}}", resources.vread)
    app.router.add_get("/fhir-r4/v1/metadata", resources.metadata)
    app.router.add_post(FHIR_BASE, resources.transaction)
    app.router.add_post(FHIR_BASE + "/", resources.transaction)
    for name in _EXTENSIONS:
        _extension(name).add_routes(app, sandbox)
    app.on_response_prepare.append(_stamp_request_id)
    return app


# The sandbox's other services (KFA, master wilayah, consent, KYC...), one module each
# under satusehat_async.sandbox, each exposing add_routes(app, sandbox).
_EXTENSIONS = ("kfa_routes", "wilayah_routes", "consent_routes", "kyc_routes")


class _Routes(Protocol):
    def add_routes(self, app: web.Application, sandbox: LocalSandbox) -> None: ...


def _extension(name: str) -> _Routes:
    """The routes module ``name`` (a stand-in adding nothing while it is not there)."""
    module = f"satusehat_async.sandbox.{name}"
    try:
        return cast(_Routes, importlib.import_module(module))
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        return _NoRoutes()


class _NoRoutes:
    def add_routes(self, app: web.Application, sandbox: LocalSandbox) -> None:
        """Nothing to add."""


class _Endpoints:
    """The handlers; they read the sandbox's stores (and stats) at each request."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        self._sandbox = sandbox

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = request.query.get("grant_type") or form.get("grant_type")
        return self._sandbox.tokens.issue(grant if isinstance(grant, str) else None, form)

    async def msi(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            parsed = parse_msi_query(query, query.getall("jenis_sarana", []))
        except MsiQueryError as error:
            return _msi_error(str(error))
        page = self._sandbox.registry.page(parsed)
        return web.Response(body=page, content_type="application/json")

    async def create_patient(self, request: web.Request) -> web.Response:
        answer = self._sandbox.patients.create(
            await request.read(), request.content_type, request.headers.get("If-None-Exist")
        )
        if answer.committed:
            self._sandbox.stats.patients_stored += 1
        return _json(answer)

    async def search_patients(self, request: web.Request) -> web.Response:
        return _json(self._sandbox.patients.search(list(request.query.items())))

    async def read_patient(self, request: web.Request) -> web.Response:
        return _json(self._sandbox.patients.read(request.match_info["id"]))

    async def patch_patient(self, request: web.Request) -> web.Response:
        answer = self._sandbox.patients.patch(
            request.match_info["id"],
            await request.read(),
            request.content_type,
            request.headers.get("If-Match"),
        )
        if answer.committed:
            self._sandbox.stats.patches_applied += 1
        return _json(answer)


class _Resources:
    """The handlers of the resource store (every type but Patient)."""

    def __init__(self, sandbox: LocalSandbox) -> None:
        self._sandbox = sandbox

    async def create(self, request: web.Request) -> web.Response:
        resource_type = request.match_info["type"]
        answer = self._sandbox.resources.create(
            resource_type,
            await request.read(),
            request.content_type,
            request.headers.get("If-None-Exist"),
        )
        if answer.committed:
            self._sandbox.stats.resources_stored[resource_type] += 1
        return _fhir(answer)

    async def transaction(self, request: web.Request) -> web.Response:
        """``POST /fhir-r4/v1``: a ``transaction`` Bundle, all or nothing."""
        done = self._sandbox.resources.transaction(
            await request.read(), request.content_type, request.headers.get("Prefer")
        )
        stats = self._sandbox.stats
        if done.answer.status == 200:
            stats.transactions += 1
            stats.resources_stored.update(done.created)
            stats.resources_updated.update(done.updated)
        else:
            stats.transactions_refused += 1
        return _fhir(done.answer)

    async def search(self, request: web.Request) -> web.Response:
        store = self._sandbox.resources
        return _fhir(store.search(request.match_info["type"], list(request.query.items())))

    async def read(self, request: web.Request) -> web.Response:
        info = request.match_info
        return _fhir(self._sandbox.resources.read(info["type"], info["id"]))

    async def vread(self, request: web.Request) -> web.Response:
        info = request.match_info
        return _fhir(self._sandbox.resources.vread(info["type"], info["id"], info["vid"]))

    async def update(self, request: web.Request) -> web.Response:
        info = request.match_info
        answer = self._sandbox.resources.update(
            info["type"],
            info["id"],
            await request.read(),
            request.content_type,
            request.headers.get("If-Match"),
        )
        return self._written(info["type"], answer)

    async def patch(self, request: web.Request) -> web.Response:
        info = request.match_info
        answer = self._sandbox.resources.patch(
            info["type"],
            info["id"],
            await request.read(),
            request.content_type,
            request.headers.get("If-Match"),
        )
        return self._written(info["type"], answer)

    async def metadata(self, request: web.Request) -> web.Response:
        """A minimal CapabilityStatement (SATUSEHAT answers ``/metadata`` with 200).

        It declares ``conditionalCreate`` where the stores honour ``If-None-Exist``, and on
        the Patient entry the MPI's refusal of a second record for a NIK (the patient
        store's :meth:`~satusehat_async.sandbox.patients.PatientStore.capability`).
        """
        interactions = [{"code": c} for c in ("read", "vread", "update", "patch", "create")]
        conditional = self._sandbox.resources.conditional_create
        entries: list[dict[str, object]] = [
            {"type": t, "interaction": interactions, "conditionalCreate": conditional}
            for t in sorted(RESOURCE_TYPES - {"Patient"})
        ]
        entries.append(self._sandbox.patients.capability())
        entries.sort(key=lambda entry: str(entry["type"]))
        body = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": entries}],
        }
        return _fhir(Answer(200, body))

    def _written(self, resource_type: str, answer: Answer) -> web.Response:
        if answer.committed:
            self._sandbox.stats.resources_updated[resource_type] += 1
        return _fhir(answer)
