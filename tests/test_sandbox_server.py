"""The sandbox server over raw HTTP: tokens, auth failures, faults, request ids, counters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from satusehat_async.sandbox import FAULT_KINDS, Sandbox

TOKEN = "/oauth2/v1/accesstoken"
MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
PATIENT = "/fhir-r4/v1/Patient"
MSI_PARAMS = {"jenis_sarana": "104", "limit": "5", "page": "1"}
NIK = "https://fhir.kemkes.go.id/id/nik"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=300, clock=clock, token_ttl=600) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_token(http: aiohttp.ClientSession, sb: Sandbox, **form: str) -> dict[str, Any]:
    data = {"client_id": sb.client_id, "client_secret": sb.client_secret, **form}
    async with http.post(
        sb.base_url + TOKEN, params={"grant_type": "client_credentials"}, data=data
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def bearer(http: aiohttp.ClientSession, sb: Sandbox) -> dict[str, str]:
    token = await get_token(http, sb)
    return {"Authorization": f"Bearer {token['access_token']}"}


def patient(nik: str = "3171011507900001") -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": NIK, "value": nik}]}


# -- token ---------------------------------------------------------------------------------
async def test_token_answers_satusehat_string_typed_shape(
    http: aiohttp.ClientSession, sb: Sandbox, clock: Clock
) -> None:
    body = await get_token(http, sb)
    assert body["token_type"] == "BearerToken"
    assert body["status"] == "approved"
    assert body["expires_in"] == "600"
    assert body["issued_at"] == str(int(clock.now * 1000))
    assert body["client_id"] == "sandbox"
    numbers = ("expires_in", "issued_at", "refresh_count", "refresh_token_expires_in")
    assert all(isinstance(body[key], str) for key in numbers)
    other = await get_token(http, sb)
    assert other["access_token"] != body["access_token"]
    assert sb.stats.token_requests == 2


async def test_token_accepts_grant_type_in_body_and_refuses_without(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    form = {"client_id": "sandbox", "client_secret": "sandbox"}
    async with http.post(
        sb.base_url + TOKEN, data={**form, "grant_type": "client_credentials"}
    ) as r:
        assert r.status == 200
    async with http.post(sb.base_url + TOKEN, data=form) as r:
        assert r.status == 400
        assert (await r.json())["ErrorCode"] == "invalid_request"


@pytest.mark.parametrize(
    "form", [{"client_secret": "wrong"}, {"client_id": "someone"}, {"client_id": ""}]
)
async def test_wrong_credentials_answer_documented_operation_outcome(
    http: aiohttp.ClientSession, sb: Sandbox, form: dict[str, str]
) -> None:
    data = {"client_id": "sandbox", "client_secret": "sandbox", **form}
    async with http.post(
        sb.base_url + TOKEN, params={"grant_type": "client_credentials"}, data=data
    ) as resp:
        assert resp.status == 401
        issue = (await resp.json())["issue"][0]
    assert issue["severity"] == "invalid"
    assert "client_id or client_secret" in issue["details"]["text"]


async def test_custom_credentials(http: aiohttp.ClientSession) -> None:
    async with Sandbox(facilities=10, client_id="me", client_secret="s3cret") as sb:
        body = await get_token(http, sb)
        assert body["client_id"] == "me"


# -- auth on other endpoints ---------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer"])
async def test_missing_or_unknown_token_is_an_apigee_fault(
    http: aiohttp.ClientSession, sb: Sandbox, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body == {
        "fault": {
            "faultstring": "Invalid access token",
            "detail": {"errorcode": "oauth.v2.InvalidAccessToken"},
        }
    }


async def test_tokens_expire_by_the_clock(
    http: aiohttp.ClientSession, sb: Sandbox, clock: Clock
) -> None:
    headers = await bearer(http, sb)
    clock.now += 599
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200
    clock.now += 1
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 401
        fault = (await resp.json())["fault"]
    assert fault["faultstring"] == "Access Token expired"
    assert fault["detail"]["errorcode"] == "keymanagement.service.access_token_expired"
    fresh = await bearer(http, sb)
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=fresh) as resp:
        assert resp.status == 200


async def test_expire_tokens_expires_every_issued_token(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    sb.expire_tokens()
    async with http.get(sb.base_url + PATIENT + "/P00000000001", headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["fault"]["faultstring"] == "Access Token expired"


# -- request ids, unknown routes -----------------------------------------------------------
async def test_every_answer_has_a_unique_request_id(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    ids = set()
    for path in (MSI, "/no/such/path", PATIENT + "/P1", MSI):
        async with http.get(sb.base_url + path, params=MSI_PARAMS, headers=headers) as resp:
            ids.add(resp.headers["X-Request-Id"])
    sb.inject("503")
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 503
        ids.add(resp.headers["X-Request-Id"])
    assert len(ids) == 5


async def test_wrong_url_is_an_empty_404_and_wrong_method_405(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    async with http.get(sb.base_url + "/fhir-r4/v1/Nope") as resp:
        assert resp.status == 404
        assert await resp.read() == b""
    async with http.delete(sb.base_url + PATIENT + "/P1") as resp:
        assert resp.status == 405


# -- faults --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "status", "content_type", "text"),
    [
        ("504", 504, "text/plain", "Gateway Timeout"),
        ("503", 503, "text/plain", "no healthy upstream"),
        ("502", 502, "text/html", "502 Bad Gateway"),
        ("500", 500, "application/json", "OperationOutcome"),
        ("429", 429, "application/json", "QuotaViolation"),
        ("401_expired", 401, "application/json", "access_token_expired"),
        ("401_invalid", 401, "application/json", "InvalidAccessToken"),
    ],
)
async def test_injected_fault_answers(
    http: aiohttp.ClientSession,
    sb: Sandbox,
    kind: str,
    status: int,
    content_type: str,
    text: str,
) -> None:
    headers = await bearer(http, sb)
    sb.inject(kind)
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == status
        assert resp.content_type == content_type
        assert text in await resp.text()
        if kind == "429":
            assert resp.headers["Retry-After"] == "0"
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200  # used up
    assert sb.stats.faults_injected[kind] == 1


async def test_drop_closes_the_connection_without_an_answer(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    sb.inject("drop", count=2)
    for _ in range(2):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
                await resp.read()
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200
    assert sb.stats.faults_injected["drop"] == 2


async def test_token_500_hits_only_the_token_endpoint(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    sb.inject("token_500")
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200
    async with http.post(
        sb.base_url + TOKEN,
        params={"grant_type": "client_credentials"},
        data={"client_id": "sandbox", "client_secret": "sandbox"},
    ) as resp:
        assert resp.status == 500
    await get_token(http, sb)


async def test_faults_skip_the_token_endpoint_unless_its_path_is_given(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    sb.inject("503")
    await get_token(http, sb)  # untouched
    assert [rule.kind for rule in sb.faults.pending] == ["503"]
    sb.faults.clear()
    sb.inject("503", path_prefix=TOKEN)
    async with http.post(sb.base_url + TOKEN, params={"grant_type": "client_credentials"}) as r:
        assert r.status == 503


async def test_fault_filters_by_method_and_path_prefix(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    sb.inject("504", method="post", path_prefix="/fhir-r4/")
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200
    async with http.get(sb.base_url + PATIENT + "/P1", headers=headers) as resp:
        assert resp.status == 404
    async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
        assert resp.status == 504
    assert sb.stats.patients_stored == 0  # the fault came before the write


@pytest.mark.parametrize(
    ("kind", "status"),
    [("commit_then_500", 500), ("commit_then_504", 504), ("commit_then_drop", 0)],
)
async def test_ambiguous_write_faults_commit_then_fail(
    http: aiohttp.ClientSession, sb: Sandbox, kind: str, status: int
) -> None:
    headers = await bearer(http, sb)
    sb.inject(kind)
    async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
        assert resp.status == 200  # reads are not writes: untouched
    if status:
        async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
            assert resp.status == status
    else:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
                await resp.read()
    assert sb.stats.patients_stored == 1
    assert len(sb.patients) == 1
    async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
        assert resp.status == 200  # the retry finds it stored: the duplicate envelope
        body = await resp.json()
    assert body["success"] is False
    assert body["data"]["resourceID"] == sb.patients.ids[0]


async def test_commit_then_fault_on_patch_applies_the_patch(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    headers = await bearer(http, sb)
    async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
        created = await resp.json()
    sb.inject("commit_then_504", method="PATCH")
    ops = [{"op": "replace", "path": "/active", "value": False}]
    url = f"{sb.base_url}{PATIENT}/{created['id']}"
    async with http.patch(url, json=ops, headers=headers) as resp:
        assert resp.status == 504
    stored = sb.patients.get(created["id"])
    assert stored is not None
    assert stored["active"] is False
    assert stored["meta"]["versionId"] != created["meta"]["versionId"]


async def test_random_faults_are_seeded_and_hit_a_fraction(http: aiohttp.ClientSession) -> None:
    async def statuses(seed: int) -> list[int]:
        result = []
        async with Sandbox(facilities=50, seed=seed, fault_rate=0.3) as sb:
            headers = await bearer(http, sb)  # never faulted
            for _ in range(60):
                try:
                    async with http.get(
                        sb.base_url + MSI, params=MSI_PARAMS, headers=headers
                    ) as resp:
                        result.append(resp.status)
                except aiohttp.ServerDisconnectedError:
                    result.append(0)
            assert sum(sb.stats.faults_injected.values()) == sum(s != 200 for s in result)
        return result

    first, again = await statuses(7), await statuses(7)
    assert first == again
    assert 5 <= sum(s != 200 for s in first) <= 35
    assert set(first) <= {200, 504, 503, 429, 502, 0}


async def test_random_write_faults_never_commit(http: aiohttp.ClientSession) -> None:
    async with Sandbox(facilities=10, fault_rate=0.5, fault_kinds=["503", "drop"]) as sb:
        headers = await bearer(http, sb)
        ok = 0
        for n in range(40):
            try:
                async with http.post(
                    sb.base_url + PATIENT, json=patient(f"31710115079{n:05d}"), headers=headers
                ) as resp:
                    ok += resp.status == 201
            except aiohttp.ServerDisconnectedError:
                pass
        assert 0 < ok < 40
        assert len(sb.patients) == ok == sb.stats.patients_stored


def test_bad_fault_arguments_are_refused() -> None:
    sb = Sandbox(facilities=0)
    with pytest.raises(ValueError, match="unknown fault kind"):
        sb.inject("418")
    with pytest.raises(ValueError, match="count"):
        sb.inject("503", count=0)
    with pytest.raises(ValueError, match="random fault kind"):
        Sandbox(fault_kinds=["token_500"])
    with pytest.raises(ValueError, match="fault_rate"):
        Sandbox(fault_rate=1.5)
    assert "commit_then_drop" in FAULT_KINDS


# -- latency, concurrency, stats -----------------------------------------------------------
async def test_latency_and_max_in_flight(http: aiohttp.ClientSession) -> None:
    async with Sandbox(facilities=20, latency=0.05) as sb:
        headers = await bearer(http, sb)
        sb.reset_stats()
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def one() -> int:
            async with http.get(sb.base_url + MSI, params=MSI_PARAMS, headers=headers) as resp:
                return resp.status

        assert await asyncio.gather(*(one() for _ in range(8))) == [200] * 8
        assert loop.time() - started >= 0.05
        assert sb.stats.max_in_flight == 8
        assert sb.stats.in_flight == 0
        assert sb.stats.token_requests == 0
        assert sb.stats.requests == 8
        assert sb.stats.requests_by_path == {f"GET {MSI}": 8}


async def test_stats_count_by_route_and_reset(http: aiohttp.ClientSession, sb: Sandbox) -> None:
    headers = await bearer(http, sb)
    async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
        pid = (await resp.json())["id"]
    async with http.get(f"{sb.base_url}{PATIENT}/{pid}", headers=headers):
        pass
    async with http.get(sb.base_url + PATIENT, params={"identifier": f"{NIK}|1"}, headers=headers):
        pass
    assert sb.stats.requests == 4
    assert sb.stats.patients_stored == 1
    assert sb.stats.requests_by_path == {
        f"POST {TOKEN}": 1,
        f"POST {PATIENT}": 1,
        f"GET {PATIENT}/{{id}}": 1,
        f"GET {PATIENT}": 1,
    }
    sb.reset_stats()
    assert sb.stats.requests == 0
    assert sb.stats.requests_by_path == {}
    assert len(sb.patients) == 1  # data survives a stats reset


async def test_start_close_and_base_url(http: aiohttp.ClientSession) -> None:
    sb = Sandbox(facilities=5)
    with pytest.raises(RuntimeError):
        _ = sb.base_url
    await sb.start()
    try:
        assert sb.base_url == f"http://127.0.0.1:{sb.port}"
        assert sb.port > 0
        await get_token(http, sb)
    finally:
        await sb.close()
        await sb.close()  # idempotent
    with pytest.raises(aiohttp.ClientConnectionError):
        await get_token(http, sb)


async def test_ambiguous_fault_waits_for_an_authorised_write(
    http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    sb.inject("commit_then_500")
    async with http.post(sb.base_url + PATIENT, json=patient()) as resp:
        assert resp.status == 401  # never reached the store: the fault stays queued
    headers = await bearer(http, sb)
    async with http.post(sb.base_url + PATIENT, json=patient(), headers=headers) as resp:
        assert resp.status == 500
    assert len(sb.patients) == 1
    assert sb.faults.pending == []


# -- where the sandbox lives (issue 10) -------------------------------------------------------

# old path under satusehat_async.testing -> some of its names and their home in the sandbox
OLD_SUBMODULES = {
    "server": {
        "LocalSandbox": "server",
        "Sandbox": "server",
        "SandboxStats": "stats",
        "MSI_PATH": "routes",
    },
    "patients": {"PatientStore": "patients", "CreateAnswer": "patients", "check_lag": "fhir"},
    "msi": {"MsiFilter": "msi", "parse_msi_query": "msi", "MAX_LIMIT": "msi"},
    "registry": {"Registry": "registry", "FacilityMeta": "registry"},
    "faults": {"FaultPlan": "faults", "FAULT_KINDS": "faults", "TOKEN_PATH": "faults"},
    "tokens": {"OMIT": "tokens", "TokenIssuer": "tokens"},
    "data": {
        "FacilityGenerator": "facilities",
        "Row": "facilities",
        "STATUS_SARANA": "facility_tables",
    },
    "geography": {"build_map": "geography", "Province": "geography"},
    "fhir": {"Answer": "fhir", "apply_replace": "fhir", "mask_nik": "fhir"},
    "threaded": {"ThreadedSandbox": "threaded"},
}


def test_the_sandbox_package_exports_the_names_testing_does() -> None:
    import satusehat_async.sandbox as sandbox
    import satusehat_async.testing as testing

    assert sandbox.LocalSandbox is sandbox.Sandbox is Sandbox
    assert sandbox.LocalSandbox.__name__ == "LocalSandbox"  # the unmistakable name
    for name in sandbox.__all__:
        assert getattr(testing, name) is getattr(sandbox, name), name
    assert set(sandbox.__all__) | {"MockBackend"} == set(testing.__all__)


@pytest.mark.parametrize("old", sorted(OLD_SUBMODULES))
def test_old_submodule_paths_still_import_with_a_deprecation_warning(
    old: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import sys

    name = f"satusehat_async.testing.{old}"
    monkeypatch.delitem(sys.modules, name, raising=False)  # import it afresh
    with pytest.warns(DeprecationWarning, match=rf"{name} has moved to satusehat_async\.sandbox"):
        module = importlib.import_module(name)
    for attribute, home in OLD_SUBMODULES[old].items():
        new = importlib.import_module(f"satusehat_async.sandbox.{home}")
        assert getattr(module, attribute) is getattr(new, attribute), attribute
        assert attribute in module.__all__


def test_the_sandbox_shares_no_protocol_code_with_the_client() -> None:
    """An independent oracle: of the client's package it imports the error types only
    (and, in ``LocalSandbox.client()``, the client it hands out)."""
    import ast
    from pathlib import Path

    import satusehat_async.sandbox as sandbox

    allowed = {"satusehat_async.errors", "satusehat_async.client"}
    seen: set[str] = set()
    for path in Path(sandbox.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                seen.add("relative")
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            seen.update(n for n in names if n.startswith("satusehat_async") and ".sandbox" not in n)
    assert seen <= allowed, seen - allowed


def test_importing_the_testing_package_starts_no_sandbox() -> None:
    """The pytest plugin imports satusehat_async.testing in every test run: nothing heavy."""
    import subprocess
    import sys

    code = (
        "import sys, satusehat_async.testing.pytest_plugin\n"
        "heavy = [m for m in sys.modules if m.startswith('satusehat_async.sandbox') "
        "or m == 'aiohttp.web']\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
