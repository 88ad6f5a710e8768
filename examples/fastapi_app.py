"""SATUSEHAT inside a FastAPI backend: one client per process, shared by every request.

Run it (``pip install 'satusehat-async[redis]' fastapi uvicorn``)::

    export SATUSEHAT_CLIENT_ID=... SATUSEHAT_CLIENT_SECRET=... SATUSEHAT_ENV=sandbox
    export SATUSEHAT_REDIS_URL=redis://127.0.0.1:6379/0   # optional: one token for all workers
    uvicorn examples.fastapi_app:app --workers 4

or against the embedded sandbox: ``satusehat sandbox`` in another terminal and
``SATUSEHAT_BASE_URL=http://127.0.0.1:<port>`` with its credentials.

The pattern:

* the lifespan creates one :class:`~satusehat_async.SatuSehatClient` (one connection
  pool, one token cache) and closes it at shutdown;
* a dependency hands that client to each request;
* exception handlers turn library errors into HTTP answers: invalid input 422, unknown
  patient 404, anything that went wrong upstream 502 with SATUSEHAT's request id (never
  a credential, a token, or the upstream body).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import msgspec
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from satusehat_async import SatuSehatClient
from satusehat_async.errors import (
    APIError,
    CircuitOpenError,
    ConsentError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from satusehat_async.msi import FacilityQuery
from satusehat_async.msi.query import FILTERS
from satusehat_async.redis_store import RedisTokenStore  # needs redis only when used

__all__ = ["app", "create_app", "get_client"]

logger = logging.getLogger("examples.fastapi_app")


# FHIR decimals stay numbers with every digit they had.
_encoder = msgspec.json.Encoder(decimal_format="number")


def _json(value: Any, status_code: int = 200) -> Response:
    """msgspec Structs straight to JSON bytes (faster than FastAPI's own encoder)."""
    return Response(_encoder.encode(value), status_code, media_type="application/json")


# -- the shared client -----------------------------------------------------------------


def get_client(request: Request) -> SatuSehatClient:
    """The dependency: the process's one client, created by the lifespan."""
    client: SatuSehatClient = request.app.state.satusehat
    return client


Client = Annotated[SatuSehatClient, Depends(get_client)]


def _token_store() -> RedisTokenStore | None:
    """A Redis token store when ``SATUSEHAT_REDIS_URL`` is set: one token for all workers."""
    url = os.environ.get("SATUSEHAT_REDIS_URL")
    if not url:
        return None
    return RedisTokenStore(url)


# -- the MSI filters as query parameters ----------------------------------------------


def _facility_query_dependency() -> Callable[..., FacilityQuery]:
    """A dependency taking every MSI filter as a query parameter, returning the query.

    The parameters come from the library's filter vocabulary (``FILTERS``: name, type,
    help), so a filter added to the library appears here without an edit. Repeated
    filters take repeated keys (``?jenis_sarana=103&jenis_sarana=104``).
    """
    parameters = []
    for spec in FILTERS:
        one: Any = spec.query_type
        kind: Any = list[one] if spec.repeated else one
        parameters.append(
            inspect.Parameter(
                spec.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind | None, Query(description=spec.help)],
            )
        )

    def facility_query(**filters: Any) -> FacilityQuery:
        return FacilityQuery.build(**filters)

    facility_query.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return facility_query


facility_query = _facility_query_dependency()
Filters = Annotated[FacilityQuery, Depends(facility_query)]


# -- errors -> HTTP answers ------------------------------------------------------------


async def _invalid(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "invalid_request", "detail": str(exc)}, status_code=422)


async def _not_found(request: Request, exc: Exception) -> Response:
    request_id = exc.request_id if isinstance(exc, APIError) else None
    return JSONResponse(
        {"error": "not_found", "detail": "no such resource", "request_id": request_id},
        status_code=404,
    )


async def _consent(request: Request, exc: Exception) -> Response:
    request_id = exc.request_id if isinstance(exc, APIError) else None
    return JSONResponse(
        {
            "error": "consent_required",
            "detail": "SATUSEHAT withheld the data (no patient consent)",
            "request_id": request_id,
        },
        status_code=403,
    )


async def _upstream(request: Request, exc: Exception) -> Response:
    # The library's messages never hold secrets, but the upstream's own text may hold
    # personal data: log it here, answer the caller with the status and request id only.
    logger.warning("SATUSEHAT failed for %s %s: %s", request.method, request.url.path, exc)
    body: dict[str, Any] = {"error": "upstream_error", "request_id": None}
    headers: dict[str, str] = {}
    if isinstance(exc, APIError):
        body.update(
            detail=f"SATUSEHAT answered HTTP {exc.status}",
            upstream_status=exc.status,
            request_id=exc.request_id,
        )
    elif isinstance(exc, CircuitOpenError):
        body["detail"] = "SATUSEHAT is failing; not calling it for a while"
        headers["Retry-After"] = str(max(1, round(exc.retry_in)))
    else:
        body["detail"] = "SATUSEHAT could not be reached"
    if body["request_id"]:
        headers["X-Upstream-Request-Id"] = body["request_id"]
    return JSONResponse(body, status_code=502, headers=headers)


# -- the application -------------------------------------------------------------------


def create_app(**client_options: Any) -> FastAPI:
    """Build the app; ``client_options`` go to ``SatuSehatClient.from_env`` (tests use it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            options = dict(client_options)
            if "token_store" not in options:
                store = _token_store()
                if store is not None:  # ours: closed at shutdown, after the client
                    stack.push_async_callback(store.aclose)
                    options["token_store"] = store
            client = SatuSehatClient.from_env(**options)
            app.state.satusehat = await stack.enter_async_context(client)
            yield

    app = FastAPI(title="SATUSEHAT example", lifespan=lifespan)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConsentError, _consent)
    for upstream in (APIError, TransportError, CircuitOpenError):
        app.add_exception_handler(upstream, _upstream)

    @app.get("/facilities")
    async def facilities(
        client: Client, query: Filters, page: int = 1, page_size: int = 100
    ) -> Response:
        """One page of the facility registry (``?jenis_sarana=103&jenis_sarana=104``)."""
        result = await client.msi.page(page, page_size=page_size, query=query)
        return _json(
            {"page": result.page, "total_page": result.total_page, "data": result.facilities}
        )

    @app.get("/patients/{patient_id}")
    async def patient(client: Client, patient_id: str) -> Response:
        """One Patient by its SATUSEHAT id."""
        return _json(await client.patients.get(patient_id))

    @app.get("/patients")
    async def search_patients(
        client: Client,
        nik: str | None = None,
        nik_ibu: str | None = None,
        name: str | None = None,
        birthdate: str | None = None,
        gender: str | None = None,
    ) -> Response:
        """Search Patients (``?nik=...``, or another combination the MPI documents)."""
        found = await client.patients.search(
            nik=nik, nik_ibu=nik_ibu, name=name, birthdate=birthdate, gender=gender
        )
        return _json({"count": len(found), "data": found})

    return app


app = create_app()
