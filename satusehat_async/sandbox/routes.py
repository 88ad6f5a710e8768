"""The sandbox's endpoints at SATUSEHAT's real paths, and the aiohttp application serving them.

The OAuth token, the Master Sarana Index and Patient (create, search, read, patch). Each
handler turns the request into a call on one of the sandbox's stores (the token issuer,
the facility registry, the patient store) and their answer into a response; every
response carries a unique ``X-Request-Id``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from satusehat_async.sandbox.faults import TOKEN_PATH
from satusehat_async.sandbox.fhir import Answer
from satusehat_async.sandbox.msi import MsiQueryError, parse_msi_query

if TYPE_CHECKING:
    from satusehat_async.sandbox.gateway import Gateway
    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["MSI_PATH", "PATIENT_PATH", "TOKEN_PATH", "build_app"]

MSI_PATH = "/masterdata/v1/mastersaranaindex/mastersarana"
PATIENT_PATH = "/fhir-r4/v1/Patient"
_encode = msgspec.json.Encoder().encode


def _json(answer: Answer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=_encode(answer.body),
        content_type="application/json",
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
    app.on_response_prepare.append(_stamp_request_id)
    return app


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
