"""examples/fastapi_app.py in process (httpx ASGI transport) against the embedded sandbox.

The app reads its settings from ``SATUSEHAT_*`` variables at startup, so each test
points them at a started sandbox and runs the app's lifespan itself (httpx's ASGI
transport does not send lifespan events).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from redis_fixture import RedisServer, free_port, require_redis_server

from satusehat_async import SatuSehatClient
from satusehat_async.patients import Patient, nik_identifier
from satusehat_async.testing import Sandbox

httpx = pytest.importorskip("httpx", reason="the dev extra (httpx, fastapi) is not installed")
pytest.importorskip("fastapi", reason="the dev extra (httpx, fastapi) is not installed")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app.py"
SECRET = "sandbox-secret-do-not-leak"
NIK = "3171014501900001"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


async def no_sleep(seconds: float) -> None:
    """Retries without waiting: the 502 test exhausts five attempts instantly."""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=2_000, client_secret=SECRET, latency=0.005) as sb:
        yield sb


@pytest.fixture
def sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("SATUSEHAT_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SATUSEHAT_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", SECRET)
    for name in ("ENV", "AUTH_URL", "FHIR_URL", "MASTERDATA_URL", "REDIS_URL"):
        monkeypatch.delenv(f"SATUSEHAT_{name}", raising=False)
    return sandbox


@asynccontextmanager
async def running(**client_options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app with its lifespan running, and an httpx client calling it in process."""
    app = example.create_app(sleep=no_sleep, **client_options)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http,
    ):
        yield http


@asynccontextmanager
async def writer(sandbox: Sandbox) -> AsyncIterator[SatuSehatClient]:
    """Another client of the sandbox, to create the data the app then reads."""
    async with SatuSehatClient(sandbox.client_id, SECRET, base_url=sandbox.base_url) as client:
        yield client


@pytest.fixture
async def http(sandbox_env: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with running() as client:
        yield client


async def test_module_exposes_an_app() -> None:
    from fastapi import FastAPI

    assert isinstance(example.app, FastAPI)
    paths = {route.path for route in example.app.routes}
    assert {"/facilities", "/patients/{patient_id}", "/patients"} <= paths


async def test_200_concurrent_requests_share_one_client_and_one_token(
    sandbox_env: Sandbox, http: httpx.AsyncClient
) -> None:
    answers = await asyncio.gather(
        *(
            http.get(
                "/facilities", params={"jenis_sarana": 104, "page": i % 5 + 1, "page_size": 10}
            )
            for i in range(200)
        )
    )
    assert [a.status_code for a in answers] == [200] * 200
    assert all(len(a.json()["data"]) == 10 for a in answers)
    assert sandbox_env.stats.token_requests == 1
    assert (
        sandbox_env.stats.requests_by_path["GET /masterdata/v1/mastersaranaindex/mastersarana"]
        == 200
    )
    assert sandbox_env.stats.max_in_flight > 1  # they really overlapped


async def test_facilities_with_repeated_jenis_sarana(
    sandbox_env: Sandbox, http: httpx.AsyncClient
) -> None:
    answer = await http.get(
        "/facilities?jenis_sarana=103&jenis_sarana=104&page_size=200&status_aktif=true"
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["page"] == 1 and body["total_page"] >= 1
    kinds = {f["jenis_sarana"]["kode"] for f in body["data"]}
    assert kinds == {"103", "104"}
    assert all(f["status_aktif"] for f in body["data"])
    expected = sum(
        1
        for i in range(len(sandbox_env.registry))
        if sandbox_env.registry.meta(i).jenis_sarana in ("103", "104")
        and sandbox_env.registry[i]["status_aktif"] in (1, True, "1", "true")
    )
    assert body["total_page"] == -(-expected // 200)


async def test_patient_read_and_search(sandbox_env: Sandbox, http: httpx.AsyncClient) -> None:
    async with writer(sandbox_env) as other:
        created = await other.patients.create(
            Patient(identifier=[nik_identifier(NIK)], gender="female", birth_date="1990-01-05")
        )
    answer = await http.get(f"/patients/{created.id}")
    assert answer.status_code == 200, answer.text
    patient = answer.json()
    assert patient["id"] == created.id and patient["resourceType"] == "Patient"
    assert patient["gender"] == "female" and patient["birthDate"] == "1990-01-05"

    found = await http.get("/patients", params={"nik": NIK})
    assert found.status_code == 200, found.text
    assert found.json()["count"] == 1
    assert found.json()["data"][0]["id"] == created.id

    none = await http.get("/patients", params={"nik": "3171014501900002"})
    assert none.json() == {"count": 0, "data": []}


async def test_invalid_input_is_422(http: httpx.AsyncClient) -> None:
    too_big = await http.get("/facilities", params={"page_size": 5000})
    assert too_big.status_code == 422
    assert too_big.json()["error"] == "invalid_request"
    assert "page_size" in too_big.json()["detail"]

    region = await http.get("/facilities", params={"kode_provinsi": "3X"})
    assert region.status_code == 422 and "kode_provinsi" in region.json()["detail"]

    bad_nik = await http.get("/patients", params={"nik": "123"})
    assert bad_nik.status_code == 422

    no_criteria = await http.get("/patients")
    assert no_criteria.status_code == 422


async def test_unknown_patient_is_404_with_request_id(
    sandbox_env: Sandbox, http: httpx.AsyncClient
) -> None:
    answer = await http.get("/patients/P99999999999")
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "not_found"
    assert body["request_id"]


async def test_upstream_5xx_after_retries_is_502_with_request_id(
    sandbox_env: Sandbox, http: httpx.AsyncClient
) -> None:
    await http.get("/facilities", params={"page_size": 1})  # token fetched
    sandbox_env.reset_stats()
    sandbox_env.inject("503", count=5, path_prefix="/masterdata")
    answer = await http.get("/facilities", params={"page_size": 1})
    assert answer.status_code == 502
    body = answer.json()
    assert body["error"] == "upstream_error"
    assert body["upstream_status"] == 503
    assert body["request_id"] and answer.headers["X-Upstream-Request-Id"] == body["request_id"]
    assert sandbox_env.stats.faults_injected["503"] == 5  # every retry was spent first
    assert SECRET not in answer.text

    # the queue is empty again: the next call succeeds
    assert (await http.get("/facilities", params={"page_size": 1})).status_code == 200


async def test_token_refused_is_502_without_the_secret(
    sandbox_env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", "wrong-secret-xyz")
    async with running() as http:
        answer = await http.get("/patients/P00000001")
    assert answer.status_code == 502
    assert answer.json()["error"] == "upstream_error"
    assert "wrong-secret-xyz" not in answer.text and SECRET not in answer.text


async def test_unreachable_upstream_is_502(
    sandbox_env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SATUSEHAT_BASE_URL", f"http://127.0.0.1:{free_port()}")
    async with running() as http:
        answer = await http.get("/facilities")
    assert answer.status_code == 502
    assert answer.json() == {
        "error": "upstream_error",
        "request_id": None,
        "detail": "SATUSEHAT could not be reached",
    }


async def test_workers_share_one_token_through_redis(
    sandbox_env: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Two app instances stand for two uvicorn workers; SATUSEHAT_REDIS_URL joins them.
    pytest.importorskip("redis", reason="the redis extra is not installed")
    require_redis_server()
    server = RedisServer(tmp_path)
    server.start()
    try:
        monkeypatch.setenv("SATUSEHAT_REDIS_URL", server.url)
        async with AsyncExitStack() as stack:
            workers = [await stack.enter_async_context(running()) for _ in range(2)]
            answers = await asyncio.gather(
                *(w.get("/facilities", params={"page_size": 5}) for w in workers for _ in range(50))
            )
        assert {a.status_code for a in answers} == {200}
        assert sandbox_env.stats.token_requests == 1
    finally:
        server.stop()
