"""The request stages above the I/O seam, on the official fake backend (MockBackend).

How aiohttp's own failures become our errors is tested with aioresponses in
``test_aiohttp_backend.py``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from _support import FakeClock, RecordingSleep, Routes

from satusehat_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CircuitBreaker,
    CircuitOpenError,
    ConsentError,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    SatuSehatClient,
    ServerError,
    TransportError,
    ValidationError,
)
from satusehat_async.http import BackendRequest
from satusehat_async.transport import encode_params

BASE = "https://sandbox.test"
TOKEN_URL = re.compile(r"^https://sandbox\.test/oauth2/v1/accesstoken.*$")
MSI = f"{BASE}/masterdata/v1/mastersaranaindex/mastersarana"
SECRET = "super-secret-value-42"
TEXT = {"Content-Type": "text/plain"}


def token_answer(n: int = 1, ttl: int = 3599) -> dict[str, Any]:
    return {
        "access_token": f"tok-{n}",
        "token_type": "BearerToken",
        "expires_in": str(ttl),
        "issued_at": "1671109805593",
        "status": "approved",
    }


def make_client(sleep: RecordingSleep, routes: Routes, **kwargs: Any) -> SatuSehatClient:
    policy = kwargs.pop("retry", RetryPolicy(max_attempts=4, jitter=None))
    return SatuSehatClient(
        "client-id",
        SECRET,
        base_url=BASE,
        sleep=sleep,
        retry=policy,
        backend=routes.backend,
        **kwargs,
    )


def test_encode_params_repeats_list_keys() -> None:
    assert encode_params({"jenis_sarana": [103, 104], "status_aktif": True, "nama": None}) == [
        ("jenis_sarana", "103"),
        ("jenis_sarana", "104"),
        ("status_aktif", "true"),
    ]


async def test_token_request_shape_and_bearer_header(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(re.compile(r"^https://sandbox\.test/masterdata.*$"), (200, {"data": []}))
    async with make_client(no_sleep, m) as client:
        data = await client.request(
            "GET",
            "/masterdata/v1/mastersaranaindex/mastersarana",
            params={"jenis_sarana": [103, 104], "limit": 10, "page": 1},
        )
    assert data == {"data": []}
    (token_call,) = m.calls("POST")
    assert token_call.query["grant_type"] == "client_credentials"
    form = token_call.body.decode()
    assert "grant_type=client_credentials" in form
    assert "client_id=client-id" in form
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    (get_call,) = m.calls("GET")
    assert get_call.query.getall("jenis_sarana") == ["103", "104"]
    assert get_call.headers["Authorization"] == "Bearer tok-1"


async def test_401_refreshes_and_replays_once(no_sleep: RecordingSleep) -> None:
    seen: list[str] = []

    def answer(request: BackendRequest) -> Any:
        seen.append(request.headers["Authorization"])
        if len(seen) == 1:
            return (
                401,
                {
                    "fault": {
                        "faultstring": "Access Token expired",
                        "detail": {"errorcode": "keymanagement.service.access_token_expired"},
                    }
                },
            )
        return 200, {"ok": True}

    m = Routes()
    m.post(TOKEN_URL, (200, token_answer(1)), (200, token_answer(2)))
    m.get(MSI, answer, repeat=True)
    async with make_client(no_sleep, m) as client:
        assert await client.request("GET", MSI) == {"ok": True}
    assert seen == ["Bearer tok-1", "Bearer tok-2"]
    assert no_sleep.waits == []  # the replay is immediate and not a retry


async def test_second_401_raises(no_sleep: RecordingSleep) -> None:
    fault = {
        "fault": {
            "faultstring": "Invalid access token",
            "detail": {"errorcode": "oauth.v2.InvalidAccessToken"},
        }
    }
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer(1)), (200, token_answer(2)))
    m.get(MSI, (401, fault), repeat=True)
    async with make_client(no_sleep, m) as client:
        with pytest.raises(AuthenticationError, match="Invalid access token") as info:
            await client.request("GET", MSI)
    assert info.value.status == 401
    assert len(m.calls("GET")) == 2


@pytest.mark.parametrize(
    "fault",
    [
        (500, TEXT, "boom"),
        (502, {"Content-Type": "text/html"}, "<html><title>502 Bad Gateway</title></html>"),
        (503, TEXT, "no healthy upstream"),
        (504, TEXT, "Gateway Timeout"),
        (429, {}, b""),
        TransportError("server disconnected", sent=True),
        TransportError("connection reset by peer", sent=True),
        RequestTimeout("no answer in time"),
    ],
)
async def test_transient_faults_on_get_are_retried(no_sleep: RecordingSleep, fault: Any) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(MSI, fault, fault, (200, {"page": 1}))
    async with make_client(no_sleep, m) as client:
        assert await client.request("GET", MSI) == {"page": 1}
    assert len(no_sleep.waits) == 2
    # exponential schedule without jitter: 0.25, 0.5
    assert no_sleep.waits == [0.25, 0.5]


async def test_retry_after_is_honoured(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(
        MSI,
        (429, {"Retry-After": "7"}, b""),
        (503, {"Retry-After": "3"}, "no healthy upstream"),
        (200, {"ok": 1}),
    )
    async with make_client(no_sleep, m) as client:
        assert await client.request("GET", MSI) == {"ok": 1}
    assert no_sleep.waits == [7.0, 3.0]


async def test_retry_after_beyond_budget_raises(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(MSI, (429, {"Retry-After": "3600"}, b""))
    retry = RetryPolicy(max_time=30.0, jitter=None)
    async with make_client(no_sleep, m, retry=retry) as client:
        with pytest.raises(RateLimitError) as info:
            await client.request("GET", MSI)
    assert info.value.retry_after == 3600.0
    assert no_sleep.waits == []


async def test_retries_are_bounded(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(MSI, (503, TEXT, "no healthy upstream"), repeat=True)
    async with make_client(no_sleep, m) as client:
        with pytest.raises(ServerError, match="no healthy upstream"):
            await client.request("GET", MSI)
    assert len(no_sleep.waits) == 3  # 4 attempts


async def test_client_errors_are_not_retried(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(
        MSI,
        (400, {"status_code": 400, "message": "limit cannot be more than 2000", "data": None}),
    )
    async with make_client(no_sleep, m) as client:
        with pytest.raises(BadRequestError, match="limit cannot be more than 2000"):
            await client.request("GET", MSI)
    assert no_sleep.waits == []


async def test_post_not_retried_after_it_may_have_arrived(no_sleep: RecordingSleep) -> None:
    url = f"{BASE}/fhir-r4/v1/Patient"
    body = {"resourceType": "Patient"}
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.post(url, (503, TEXT, "no healthy upstream"), (200, {"resourceType": "Patient", "id": "P1"}))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(ServerError):
            await client.request("POST", "/fhir-r4/v1/Patient", json=body)
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    dropped = TransportError("server disconnected", sent=True)
    m.post(url, dropped, (200, {"resourceType": "Patient", "id": "P1"}))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(TransportError) as info:
            await client.request("POST", "/fhir-r4/v1/Patient", json=body)
    assert info.value.sent is True
    assert no_sleep.waits == []


async def test_post_retried_when_connection_refused(no_sleep: RecordingSleep) -> None:
    url = f"{BASE}/fhir-r4/v1/Patient"
    refused = TransportError("connection refused", sent=False)
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.post(url, refused, (200, {"resourceType": "Patient", "id": "P1"}))
    async with make_client(no_sleep, m) as client:
        data = await client.request("POST", "/fhir-r4/v1/Patient", json={"resourceType": "Patient"})
    assert data["id"] == "P1"
    assert len(no_sleep.waits) == 1


async def test_consent_suppressed_200_is_an_error(no_sleep: RecordingSleep) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "suppressed",
                "details": {"text": "patient has not given consent"},
            }
        ],
    }
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(f"{BASE}/fhir-r4/v1/Patient/P1", (200, {"X-Request-Id": "r-9"}, outcome))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(ConsentError, match="consent") as info:
            await client.request("GET", "/fhir-r4/v1/Patient/P1")
    assert info.value.request_id == "r-9"
    assert no_sleep.waits == []


async def test_circuit_opens_on_failed_requests_not_attempts(no_sleep: RecordingSleep) -> None:
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(1.0, minimum_calls=3, window_size=3, cooldown=30.0, clock=clock)
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    # a burst of transient faults that retries absorb never opens the circuit
    for _ in range(5):
        m.get(
            MSI,
            (503, TEXT, "no healthy upstream"),
            (504, TEXT, "Gateway Timeout"),
            (200, {"ok": 1}),
        )
    async with make_client(no_sleep, m, circuit_breaker=breaker) as client:
        for _ in range(5):
            assert await client.request("GET", MSI) == {"ok": 1}
        assert breaker.state("sandbox.test") == "closed"
        m.get(MSI, (500, TEXT, "down"), repeat=True)
        for _ in range(3):
            with pytest.raises(ServerError):
                await client.request("GET", MSI)
        assert breaker.state("sandbox.test") == "open"
        calls_before = len(m.calls("GET"))
        with pytest.raises(CircuitOpenError, match=r"sandbox\.test"):
            await client.request("GET", MSI)
        assert len(m.calls("GET")) == calls_before
        clock.advance(31)
        assert breaker.state("sandbox.test") == "half-open"
        with pytest.raises(ServerError):
            await client.request("GET", MSI)  # trial fails: open again
        assert breaker.state("sandbox.test") == "open"


async def test_token_endpoint_failure_is_authentication_error(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, (401, {"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"}))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(AuthenticationError, match="ClientId is Invalid"):
            await client.request("GET", MSI)
        with pytest.raises(AuthenticationError, match="not asking again"):
            await client.request("GET", MSI)
    assert len(m.calls("POST")) == 1


async def test_token_endpoint_500_is_retried_once_then_held_back(
    no_sleep: RecordingSleep,
) -> None:
    m = Routes()
    m.post(TOKEN_URL, (500, TEXT, "Internal Server Error"), repeat=True)
    async with make_client(no_sleep, m) as client:
        with pytest.raises(AuthenticationError, match="token request refused"):
            await client.request("GET", MSI)
        with pytest.raises(AuthenticationError, match="not asking again for 15s"):
            await client.request("GET", MSI)
    assert len(m.calls("POST")) == 2
    assert len(no_sleep.waits) == 1
    assert 0.0 <= no_sleep.waits[0] <= 2.0  # one jittered, spaced retry


async def test_unreachable_token_endpoint_keeps_its_error_class(no_sleep: RecordingSleep) -> None:
    m = Routes()
    m.post(TOKEN_URL, TransportError("server disconnected", sent=True), repeat=True)
    async with make_client(no_sleep, m) as client:
        with pytest.raises(TransportError):
            await client.request("GET", MSI)
        with pytest.raises(TransportError, match="not asking again"):
            await client.request("GET", MSI)


async def test_401_without_api_product_is_not_replayed(no_sleep: RecordingSleep) -> None:
    header = (
        'Bearer realm="null",error="invalid_token",error_description='
        '"keymanagement.service.InvalidAPICallAsNoApiProductMatchFound: no product"'
    )
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()), repeat=True)
    m.get(MSI, (401, {"WWW-Authenticate": header}, b""), repeat=True)
    async with make_client(no_sleep, m) as client:
        with pytest.raises(AuthenticationError, match="NoApiProductMatchFound"):
            await client.request("GET", MSI)
    assert len(m.calls("POST")) == 1
    assert len(m.calls("GET")) == 1


async def test_non_json_2xx_is_an_api_error(no_sleep: RecordingSleep) -> None:
    page = "<html><head><title>Maintenance</title></head></html>"
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    m.get(MSI, (200, {"Content-Type": "text/html", "X-Request-Id": "r1"}, page))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(APIError, match="expected JSON, got text/html: Maintenance") as info:
            await client.request("GET", MSI)
    assert info.value.status == 200
    assert info.value.request_id == "r1"


@pytest.mark.parametrize(
    "params",
    [{"x": [1, None]}, {"x": float("nan")}, {"x": float("inf")}, {"x": {"a": 1}}, {"x": b"b"}],
)
async def test_bad_query_parameters_are_refused_before_sending(
    no_sleep: RecordingSleep, params: dict[str, Any]
) -> None:
    m = Routes()
    m.post(TOKEN_URL, (200, token_answer()))
    async with make_client(no_sleep, m) as client:
        with pytest.raises(ValidationError, match="query parameter 'x'"):
            await client.request("GET", MSI, params=params)
    assert not m.calls("GET")


def test_errors_pickle() -> None:
    import pickle

    for error in (
        ServerError("down", status=503, request_id="r"),
        TransportError("reset", sent=False),
        CircuitOpenError("host", 3.0),
    ):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert again.__dict__ == error.__dict__


async def test_secrets_never_in_logs_errors_or_reprs(
    no_sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="satusehat_async")
    nik = "3201234567890001"
    m = Routes()
    m.post(TOKEN_URL, (200, {**token_answer(), "access_token": "tok-SECRET-xyz"}))
    m.get(
        re.compile(r"^https://sandbox\.test/fhir-r4/v1/Patient.*$"),
        (503, TEXT, "no healthy upstream"),
        repeat=True,
    )
    client = make_client(no_sleep, m)
    async with client:
        with pytest.raises(ServerError) as info:
            await client.request(
                "GET",
                "/fhir-r4/v1/Patient",
                params={"identifier": f"https://fhir.kemkes.go.id/id/nik|{nik}"},
            )
        texts = [
            caplog.text,
            str(info.value),
            repr(info.value),
            info.value.url,
            repr(client),
            repr(client.tokens),
            repr(await client.get_token()),
            repr(client.transport),
        ]
    assert caplog.records, "expected log records"
    for text in texts:
        assert SECRET not in text
        assert "tok-SECRET-xyz" not in text
        assert nik not in text
