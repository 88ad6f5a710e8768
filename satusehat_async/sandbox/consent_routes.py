"""The sandbox's consent endpoints (``/consent/v1/Consent``) and the consent guard.

The store is :class:`~satusehat_async.sandbox.consent_store.ConsentStore`, kept in
``sandbox.extensions["consent"]``. The guard is a middleware, off until
:func:`enable_consent_guard`: while on, every FHIR read or search of a resource about a
patient (a search's ``subject``/``patient`` naming ``Patient/X``, or a read whose resource's
``subject``/``patient`` is ``Patient/X``) is refused as SATUSEHAT does when X never opted
in (400 ``forbidden``) or opted out (200 ``suppressed``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from satusehat_async.sandbox.consent_store import DUMMY_PATIENTS, ConsentStore
from satusehat_async.sandbox.fhir import Answer

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["CONSENT_PATH", "add_routes", "consent_store", "enable_consent_guard"]

CONSENT_PATH = "/consent/v1/Consent"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})$")
_BARE_IHS = re.compile(r"P[0-9]{11}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def consent_store(sandbox: LocalSandbox) -> ConsentStore:
    """The sandbox's consent store (created on first use)."""
    store = sandbox.extensions.get("consent")
    if store is None:

        def known(patient_id: str) -> bool:
            return patient_id in DUMMY_PATIENTS or sandbox.patients.get(patient_id) is not None

        store = sandbox.extensions["consent"] = ConsentStore(known, sandbox.clock, sandbox.seed)
    assert isinstance(store, ConsentStore)
    return store


def enable_consent_guard(sandbox: LocalSandbox, enabled: bool = True) -> None:
    """Turn the consent guard on (or off) for FHIR reads and searches about patients."""
    consent_store(sandbox).guard = enabled


def _respond(answer: Answer, content_type: str = "application/json") -> web.Response:
    return web.Response(status=answer.status, body=_encode(answer.body), content_type=content_type)


def _searched(query: Any) -> Iterator[str]:
    """The patients a search names in ``subject`` / ``patient`` (comma = OR)."""
    for name in ("subject", "patient", "subject:Patient"):
        for value in query.getall(name, []):
            for part in value.split(","):
                found = _PATIENT_REF.search(part)
                if found:
                    yield found.group(1)
                elif name != "subject" or _BARE_IHS.fullmatch(part):
                    yield part


def _read_patient(body: bytes) -> str | None:
    """The patient a read resource is about (its ``subject`` or ``patient``), if any."""
    try:
        resource = _decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    for key in ("subject", "patient"):
        ref = resource.get(key) if isinstance(resource, dict) else None
        reference = ref.get("reference") if isinstance(ref, dict) else None
        found = _PATIENT_REF.search(reference) if isinstance(reference, str) else None
        if found:
            return found.group(1)
    return None


def _guard(sandbox: LocalSandbox) -> Middleware:
    @web.middleware
    async def consent_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        store = consent_store(sandbox)
        if not store.guard or request.method != "GET" or "type" not in request.match_info:
            return await handler(request)  # off, a write, or not a FHIR resource route
        refusal = store.refusal(_searched(request.query))
        if refusal is not None:
            return _respond(refusal, "application/fhir+json")
        response = await handler(request)
        body = response.body if isinstance(response, web.Response) else None
        if "id" in request.match_info and response.status == 200 and isinstance(body, bytes):
            patient = _read_patient(body)
            refusal = store.refusal([patient]) if patient is not None else None
            if refusal is not None:
                return _respond(refusal, "application/fhir+json")
        return response

    return consent_guard


def add_routes(app: web.Application, sandbox: LocalSandbox) -> None:
    """Serve ``GET``/``POST /consent/v1/Consent`` and install the (idle) consent guard."""

    async def read(request: web.Request) -> web.Response:
        return _respond(consent_store(sandbox).read(request.query.get("patient_id")))

    async def write(request: web.Request) -> web.Response:
        return _respond(consent_store(sandbox).write(await request.read()))

    app.router.add_get(CONSENT_PATH, read)
    app.router.add_post(CONSENT_PATH, write)
    app.middlewares.append(_guard(sandbox))
