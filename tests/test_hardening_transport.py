"""Issue 9, the transport's part: bounded answers, total error decoding, a rate-based
circuit breaker, origins for the token, proxies, argument checks, URL credentials.

The request stages run on MockBackend (no socket); reading bounded answers off a real
socket (item 1) is the aiohttp backend's work, tested in ``test_aiohttp_backend.py``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from _support import FakeClock, RecordingSleep, Routes
from hypothesis import example, given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async import (
    APIError,
    CircuitBreaker,
    CircuitOpenError,
    SatuSehatClient,
    ServerError,
    ValidationError,
)
from satusehat_async.errors import error_from_response, parse_retry_after
from satusehat_async.http import BackendRequest
from satusehat_async.metrics import redact_url
from satusehat_async.transport import Response

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB that every recursive decoder chokes on
JSON = {"Content-Type": "application/json"}


# No socket is opened: MockBackend answers, so these loopback URLs only name the hosts.
BASE = "http://127.0.0.1:8080"
OTHER = "http://127.0.0.1:8081"


def token_app() -> Routes:
    """A scripted server with a token endpoint; tests add their routes."""
    routes = Routes()
    routes.post(
        f"{BASE}/oauth2/v1/accesstoken",
        (200, {"access_token": "tok", "expires_in": "3600"}),
        repeat=True,
    )
    return routes


def client_for(base: str, routes: Routes, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("trust_env", False)
    return SatuSehatClient("cid", "csecret", base_url=base, backend=routes.backend, **kwargs)


# -- 1. a maximum answer size: see test_aiohttp_backend.py (and the MockBackend's own
# limit in test_mock_backend.py) -----------------------------------------------------


# -- 2. hostile JSON: a library error, 5xx still retried --------------------------------


async def test_deep_json_in_a_5xx_is_a_server_error_and_retried() -> None:
    app = token_app()
    calls = []

    def flaky(request: BackendRequest) -> Any:
        calls.append(1)
        if len(calls) <= 2:
            return 503, JSON, DEEP
        return 200, {"ok": 1}

    app.get(f"{BASE}/flaky", flaky, repeat=True)
    base = BASE
    sleep = RecordingSleep()
    async with client_for(base, app, sleep=sleep) as client:
        assert await client.request("GET", "/flaky") == {"ok": 1}
    assert len(calls) == 3 and len(sleep.waits) == 2


def test_error_from_response_survives_deep_json_and_odd_outcomes() -> None:
    deep = error_from_response(500, {"Content-Type": "application/json"}, DEEP)
    assert isinstance(deep, ServerError)
    numbers = msgspec.json.encode({"resourceType": "OperationOutcome", "issue": 5})
    odd = error_from_response(400, {}, numbers)
    assert isinstance(odd, APIError) and odd.status == 400
    strange = msgspec.json.encode(
        {"resourceType": "OperationOutcome", "issue": [{"expression": [{"a": 1}], "code": 7}]}
    )
    assert isinstance(error_from_response(422, {}, strange), APIError)
    fault = msgspec.json.encode({"fault": {"faultstring": ["x"], "detail": {"errorcode": 3}}})
    assert error_from_response(502, {}, fault).message == "gateway fault"


def test_an_error_from_deep_but_decodable_json_still_pickles() -> None:
    body = b"[" * 300 + b"]" * 300  # msgspec decodes it; pickle and repr would recurse
    error = error_from_response(500, {}, body)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, ServerError) and isinstance(again.body, str)


def test_retry_after_that_is_not_a_finite_number_is_ignored() -> None:
    for value in ("inf", "1e400", "nan", "-inf", "Mon, 99 Foo 99999 99:99:99 GMT"):
        assert parse_retry_after(value) is None
    assert parse_retry_after("-5") == 0.0


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["resourceType", "issue", "fault", "error", "Error", "message"])
                    | st.text(max_size=8),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=20,
        ).map(msgspec.json.encode),
        st.just(DEEP),
    ),
    headers=st.dictionaries(
        st.sampled_from(["Content-Type", "Retry-After", "X-Request-Id", "WWW-Authenticate"]),
        st.text(max_size=40),
    ),
)
@example(status=503, body=DEEP, headers={"Content-Type": "application/json"})
@example(status=400, body=b'{"resourceType":"OperationOutcome","issue":5}', headers={})
@example(status=200, body=b'{"error":{"x":1},"error_description":[1]}', headers={})
@example(status=429, body=b"", headers={"Retry-After": "1e400"})
def test_error_from_response_is_total(status: int, body: bytes, headers: dict[str, str]) -> None:
    error = error_from_response(status, headers, body)
    assert isinstance(error, APIError) and error.status == status
    assert str(error)


def test_a_2xx_with_deep_json_is_an_api_error() -> None:
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))
    response = Response(status=200, headers=headers, body=DEEP, method="GET", url="http://x/")
    with pytest.raises(APIError, match="nested too deeply"):
        response.json()


async def test_a_2xx_with_deep_json_mentioning_suppressed() -> None:
    app = token_app()
    body = b'{"resourceType":"OperationOutcome","issue":' + DEEP + b',"x":"suppressed"}'
    app.get(f"{BASE}/odd", (200, JSON, body))
    base = BASE
    async with client_for(base, app) as client:
        with pytest.raises(APIError, match="nested too deeply"):
            await client.request("GET", "/odd")


# -- 3. the circuit breaker judges a failure rate ----------------------------------------


def writes_app(pattern: Callable[[int], bool]) -> tuple[Routes, list[int]]:
    """POST /write fails (500) where ``pattern(n)`` is True for the n-th write (from 0)."""
    app = token_app()
    seen: list[int] = []

    def write(request: BackendRequest) -> Any:
        n = len(seen)
        seen.append(n)
        if pattern(n):
            return 500, {"Content-Type": "text/plain"}, "commit unknown"
        return 201, {"id": n}

    app.post(f"{BASE}/write", write, repeat=True)
    return app, seen


async def test_a_35_percent_fault_rate_never_opens_the_default_breaker() -> None:
    # 13 good writes, then 7 failing in a row, over and over: 35 % fail, and runs of 7
    # consecutive failures (the old breaker opened at 5 and failed healthy work).
    app, seen = writes_app(lambda n: n % 20 >= 13)
    base = BASE
    failed = 0
    async with client_for(base, app) as client:
        for _ in range(300):
            try:
                await client.request("POST", "/write", json={})
            except ServerError:
                failed += 1
        breaker = client.transport.breaker
        assert breaker is not None
        host = base.removeprefix("http://")
        assert breaker.state(host) == "closed"
        rate = breaker.failure_rate(host)
        assert rate is not None and rate < 0.5
    assert failed == 105 and len(seen) == 300


async def test_a_failing_host_opens_the_circuit_after_minimum_calls() -> None:
    app, seen = writes_app(lambda n: n >= 10)
    base = BASE
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(0.5, minimum_calls=20, window_size=40, cooldown=30.0, clock=clock)
    async with client_for(base, app, circuit_breaker=breaker) as client:
        outcomes = []
        for _ in range(40):
            try:
                await client.request("POST", "/write", json={})
                outcomes.append("ok")
            except ServerError:
                outcomes.append("500")
            except CircuitOpenError:
                outcomes.append("open")
        # token + 10 successes, then failures: open once 11 of 22 calls failed
        assert outcomes[:21] == ["ok"] * 10 + ["500"] * 11
        assert set(outcomes[21:]) == {"open"} and len(seen) == 21
        clock.advance(30)
        assert breaker.state(base.removeprefix("http://")) == "half-open"
        with pytest.raises(ServerError):
            await client.request("POST", "/write", json={})  # the trial fails: open again
        assert breaker.state(base.removeprefix("http://")) == "open"


def test_half_open_admits_one_trial_and_its_verdict_decides() -> None:
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(1.0, minimum_calls=2, window_size=2, cooldown=10.0, clock=clock)
    breaker.record_failure("h")
    assert breaker.state("h") == "closed"  # below minimum_calls
    breaker.record_failure("h")
    assert breaker.state("h") == "open"
    with pytest.raises(CircuitOpenError):
        breaker.check("h")
    clock.advance(10)
    assert breaker.check("h") is True  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.check("h")  # everyone else waits for its verdict
    breaker.release("h")  # it was cancelled: another may try
    assert breaker.check("h") is True
    breaker.record_success("h")
    assert breaker.state("h") == "closed" and breaker.failure_rate("h") is None
    assert breaker.check("h") is False


def test_old_outcomes_leave_the_window() -> None:
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(0.5, minimum_calls=4, window_seconds=60.0, clock=clock)
    for _ in range(3):
        breaker.record_failure("h")
    clock.advance(61)  # an hour-old bad patch says nothing about now
    breaker.record_failure("h")
    for _ in range(3):
        breaker.record_success("h")
    assert breaker.state("h") == "closed" and breaker.failure_rate("h") == 0.25


async def test_circuit_breaker_none_disables_it() -> None:
    app, _ = writes_app(lambda n: True)
    base = BASE
    assert isinstance(SatuSehatClient("a", "b").transport.breaker, CircuitBreaker)
    async with client_for(base, app, circuit_breaker=None) as client:
        assert client.transport.breaker is None
        for _ in range(50):
            with pytest.raises(ServerError):
                await client.request("POST", "/write", json={})


async def test_uncounted_failures_and_recorded_outcomes() -> None:
    app, _ = writes_app(lambda n: n % 2 == 1)
    base = BASE
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(0.5, minimum_calls=2, window_size=10, clock=clock)
    async with client_for(base, app, circuit_breaker=breaker) as client:
        transport = client.transport
        host = base.removeprefix("http://")
        url = base + "/write"
        await client.get_token()  # one success
        for _ in range(6):
            try:
                await transport.send("POST", url, json={}, count_failure=False)
            except ServerError:
                transport.record_outcome(url, ok=True)  # reconciled: it was stored
        assert breaker.failure_rate(host) == 0.0 and breaker.state(host) == "closed"
        transport.record_outcome(url, ok=False)
        assert breaker.failure_rate(host) == pytest.approx(1 / 8)
    assert callable(transport.monotonic)
    assert (
        SatuSehatClient("a", "b", circuit_breaker=None).transport.record_outcome(url, ok=False)
        is None
    )


# -- 4. the token goes to configured origins only ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example/x",  # plain HTTP to the right host
        "https://api.example:8443/x",  # another port
        "https://evil.example/x",
    ],
)
async def test_token_only_to_the_configured_scheme_host_and_port(url: str) -> None:
    async with SatuSehatClient("a", "b", base_url="https://api.example") as client:
        with pytest.raises(ValidationError, match="refusing to send the SATUSEHAT token"):
            await client.request("GET", url)


async def test_the_default_port_is_the_same_origin() -> None:
    app = token_app()

    def data(request: BackendRequest) -> Any:
        return 200, {"auth": request.headers.get("Authorization")}

    app.get(f"{BASE}/d", data, repeat=True)
    app.get(f"{OTHER}/d", data, repeat=True)
    base = BASE
    other = OTHER
    async with client_for(base, app) as client:
        assert await client.request("GET", base + "/d") == {"auth": "Bearer tok"}
        with pytest.raises(ValidationError):
            await client.request("GET", other + "/d")  # same host, another port


# -- 7. credentials in URLs never reach a message or a log ------------------------------


async def test_absolute_urls_with_credentials_are_refused_unquoted() -> None:
    async with SatuSehatClient("a", "b", base_url="https://api.example") as client:
        with pytest.raises(ValidationError) as info:
            await client.request("GET", "https://bob:hunter2@api.example/x")
        assert "hunter2" not in str(info.value) and "bob" not in str(info.value)
        with pytest.raises(ValidationError) as info:
            await client.transport.send("GET", "https://bob:hunter2@api.example/x")
        assert "hunter2" not in str(info.value)


def test_redact_url_drops_userinfo() -> None:
    assert redact_url("https://bob:hunter2@api.example:8443/p?nik=1") == (
        "https://api.example:8443/p?nik=***"
    )


# -- the sandbox's random ambiguous write faults (for the chaos soak) --------------------


def test_random_commit_then_faults_commit_writes_and_fail_reads_plainly() -> None:
    from satusehat_async.sandbox.faults import FaultPlan

    plan = FaultPlan(1.0, ["commit_then_504"], seed=1)
    path = "/fhir-r4/v1/Patient"
    assert plan.pick("POST", path) is None  # no answer-only fault: the write goes on...
    assert plan.pick("POST", path, after_commit=True) == "commit_then_504"  # ...and commits
    assert plan.pick("GET", path) == "504"  # a read has nothing to commit
    assert plan.pick("GET", path, after_commit=True) is None
    assert plan.pick("POST", "/oauth2/v1/accesstoken") is None
