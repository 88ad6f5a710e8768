"""Rate limit, metrics, hooks and trace configs, through the public client against the sandbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
import pytest

from satusehat_async import CircuitBreaker, RetryPolicy, SatuSehatClient
from satusehat_async.errors import CircuitOpenError, NotFoundError, ServerError
from satusehat_async.metrics import RequestEvent
from satusehat_async.testing import Sandbox

MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
TOKEN = "/oauth2/v1/accesstoken"
PATIENT = "/fhir-r4/v1/Patient"
SECRET = "metrics-secret-do-not-leak"
NIK = "3171014501900001"


async def no_sleep(seconds: float) -> None:
    """Retries without waiting."""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=500, client_secret=SECRET) as sb:
        yield sb


def msi_params(page: int = 1) -> dict[str, Any]:
    return {"jenis_sarana": 104, "limit": 5, "page": page}


# -- rate limit ----------------------------------------------------------------------------


def start_times(loop: asyncio.AbstractEventLoop) -> tuple[aiohttp.TraceConfig, list[float]]:
    """A trace config recording the loop time at which each HTTP request starts."""
    starts: list[float] = []
    config = aiohttp.TraceConfig()

    async def on_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        starts.append(loop.time())

    config.on_request_start.append(on_start)
    return config, starts


async def test_rate_limit_spaces_requests(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    trace, starts = start_times(loop)
    async with sandbox.client(rate_limit=20.0, trace_configs=[trace]) as client:
        begin = loop.time()
        await asyncio.gather(*(client.request("GET", MSI, params=msi_params()) for _ in range(10)))
        elapsed = loop.time() - begin
    # 11 requests (the token's included) at 20 per second: the last starts 0.5 s in.
    assert len(starts) == 11
    assert 0.45 <= elapsed < 3.0
    # Evenly spaced, never a burst: request i cannot start before its slot i/20 s in.
    offsets = [start - begin for start in starts]
    assert all(offset >= i / 20 - 0.005 for i, offset in enumerate(offsets)), offsets


async def test_without_rate_limit_the_same_requests_burst(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    trace, starts = start_times(loop)
    async with sandbox.client(trace_configs=[trace]) as client:
        await asyncio.gather(*(client.request("GET", MSI, params=msi_params()) for _ in range(10)))
    assert starts[-1] - starts[1] < 0.3  # the control: the limit above is what spaced them


async def test_rate_limit_is_shared_by_every_caller(sandbox: Sandbox) -> None:
    # Different resource APIs of one client draw from one budget.
    loop = asyncio.get_running_loop()
    async with sandbox.client(rate_limit=25.0) as client:
        await client.get_token()
        begin = loop.time()
        await asyncio.gather(
            *(client.request("GET", MSI, params=msi_params()) for _ in range(5)),
            *(client.patients.search(nik=NIK) for _ in range(5)),
        )
        elapsed = loop.time() - begin
    assert 0.3 <= elapsed < 3.0  # 10 requests at 25/s: at least 9 gaps of 40 ms


# -- metrics -------------------------------------------------------------------------------


async def test_metrics_count_requests_by_endpoint_and_status(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        for page in (1, 2, 3):
            await client.request("GET", MSI, params=msi_params(page))
        with pytest.raises(NotFoundError):
            await client.patients.get("P99999999999")
        assert await client.patients.search(nik=NIK) == []
        metrics = client.metrics
        assert metrics.requests == {
            ("POST", TOKEN, "200"): 1,
            ("GET", MSI, "200"): 3,
            ("GET", PATIENT + "/{id}", "404"): 1,
            ("GET", PATIENT, "200"): 1,
        }
        assert metrics.retries == 0
        assert metrics.token_refreshes == 1
        assert metrics.latency_count[MSI] == 3
        assert 0 < metrics.latency_max[MSI] <= metrics.latency_sum[MSI]
        snapshot = msgspec.json.decode(msgspec.json.encode(metrics.snapshot()))
        assert {"method": "GET", "endpoint": MSI, "outcome": "200", "count": 3} in snapshot[
            "requests"
        ]
        assert snapshot["latency"][MSI]["count"] == 3
        assert snapshot["token_refreshes"] == 1


async def test_metrics_count_retries_and_connection_errors(sandbox: Sandbox) -> None:
    async with sandbox.client(sleep=no_sleep) as client:
        await client.get_token()
        sandbox.inject("503", count=2, path_prefix=MSI)
        sandbox.inject("drop", count=1, path_prefix=MSI)
        await client.request("GET", MSI, params=msi_params())
        metrics = client.metrics
        assert metrics.retries == 3
        assert metrics.requests[("GET", MSI, "503")] == 2
        assert metrics.requests[("GET", MSI, "200")] == 1
        dropped = [k for k in metrics.requests if k[1] == MSI and k[2] not in ("200", "503")]
        assert len(dropped) == 1 and metrics.requests[dropped[0]] == 1  # an error class name
        assert not dropped[0][2].isdigit()


async def test_metrics_count_token_refreshes(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        await asyncio.gather(*(client.request("GET", MSI, params=msi_params()) for _ in range(20)))
        assert client.metrics.token_refreshes == 1
        sandbox.expire_tokens()  # the next request gets a 401, refreshes, and replays
        await asyncio.gather(*(client.request("GET", MSI, params=msi_params()) for _ in range(5)))
        assert client.metrics.token_refreshes == 2
        assert sandbox.stats.token_requests == 2
        assert client.metrics.requests[("GET", MSI, "401")] >= 1
        assert client.metrics.requests[("POST", TOKEN, "200")] == 2


# -- hooks and trace configs ---------------------------------------------------------------


async def test_hook_receives_events_without_secrets(sandbox: Sandbox) -> None:
    events: list[RequestEvent] = []
    async with sandbox.client(hooks=[events.append]) as client:
        await client.request("GET", MSI, params=msi_params())
        await client.patients.search(nik=NIK)
        with pytest.raises(NotFoundError):
            await client.patients.get("P99999999999")
        access_token = (await client.get_token()).access_token
    assert [(e.method, e.endpoint, e.status) for e in events] == [
        ("POST", TOKEN, 200),
        ("GET", MSI, 200),
        ("GET", PATIENT, 200),
        ("GET", PATIENT + "/{id}", 404),
    ]
    for event in events:
        assert isinstance(event, RequestEvent)
        assert event.attempt == 1 and event.error is None and event.duration >= 0
        assert event.request_id  # the sandbox stamps X-Request-Id on every answer
        text = repr(event)
        for secret in (SECRET, access_token, NIK):
            assert secret not in text
    assert "identifier=***" in events[2].url


async def test_a_raising_hook_never_breaks_a_request(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[RequestEvent] = []

    def broken(event: RequestEvent) -> None:
        raise RuntimeError("metrics backend down")

    caplog.set_level(logging.ERROR, logger="satusehat_async")
    async with sandbox.client(hooks=[broken, seen.append]) as client:
        answers = await asyncio.gather(
            *(client.request("GET", MSI, params=msi_params()) for _ in range(5))
        )
        assert all(a["data"] for a in answers)
        assert client.metrics.requests[("GET", MSI, "200")] == 5  # built-in metrics still count
    assert len(seen) == 6  # hooks after the broken one still run
    assert "metrics backend down" in caplog.text
    assert SECRET not in caplog.text


async def test_trace_configs_are_called(sandbox: Sandbox) -> None:
    calls: list[tuple[str, str, int | None]] = []
    config = aiohttp.TraceConfig()

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        calls.append(("start", params.url.path, None))

    async def on_end(session: Any, ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
        calls.append(("end", params.url.path, params.response.status))

    config.on_request_start.append(on_start)
    config.on_request_end.append(on_end)
    async with sandbox.client(trace_configs=[config]) as client:
        await client.request("GET", MSI, params=msi_params())
    assert calls == [
        ("start", TOKEN, None),
        ("end", TOKEN, 200),
        ("start", MSI, None),
        ("end", MSI, 200),
    ]


async def test_borrowed_session_keeps_its_own_trace_configs(sandbox: Sandbox) -> None:
    # A caller who brings a session brings its tracing too; hooks still see every request.
    traced: list[str] = []
    config = aiohttp.TraceConfig()

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        traced.append(params.url.path)

    config.on_request_start.append(on_start)
    events: list[RequestEvent] = []
    async with aiohttp.ClientSession(trace_configs=[config]) as session:
        client = SatuSehatClient(
            sandbox.client_id,
            SECRET,
            base_url=sandbox.base_url,
            session=session,
            hooks=[events.append],
        )
        async with client:
            await client.request("GET", MSI, params=msi_params())
        assert not session.closed
    assert traced == [TOKEN, MSI]
    assert [e.endpoint for e in events] == [TOKEN, MSI]


async def test_circuit_breaker_state_is_observable(sandbox: Sandbox) -> None:
    breaker = CircuitBreaker(1.0, minimum_calls=2, window_size=2, cooldown=60.0)
    async with sandbox.client(circuit_breaker=breaker, retry=RetryPolicy.none()) as client:
        await client.get_token()
        host = f"127.0.0.1:{sandbox.port}"
        assert client.transport.breaker is breaker
        assert breaker.states() == {host: "closed"}  # the token call succeeded
        sandbox.inject("503", count=2, path_prefix=MSI)
        for _ in range(2):
            with pytest.raises(ServerError):
                await client.request("GET", MSI, params=msi_params())
        assert breaker.states() == {host: "open"}
        assert client.metrics.snapshot()["circuits"] == {host: "open"}
        with pytest.raises(CircuitOpenError):
            await client.request("GET", MSI, params=msi_params())
        assert client.metrics.requests[("GET", MSI, "503")] == 2  # the fast failure sent nothing


async def test_metrics_example_runs() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "metrics_hooks.py"
    spec = importlib.util.spec_from_file_location("metrics_hooks_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    snapshot = await module.main(pages=3)
    outcomes = {(r["endpoint"], r["outcome"]) for r in snapshot["requests"]}
    assert (TOKEN, "200") in outcomes and (MSI, "200") in outcomes
    assert snapshot["token_refreshes"] == 1
    msgspec.json.encode(snapshot)  # exportable as is
