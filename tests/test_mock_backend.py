"""Issue 10: the I/O seam and its official fake. ``MockBackend`` drives the whole client
(token, MSI page, Patient create, 401 replay, retried 503) without opening a socket; the
request stages, the retry engine and the closed client are tested through it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import msgspec
import pytest
from _support import FakeClock, RecordingSleep
from multidict import CIMultiDict, CIMultiDictProxy

from satusehat_async import (
    ConsentError,
    RequestTimeout,
    ResponseTooLarge,
    RetryPolicy,
    SatuSehatClient,
    SatuSehatError,
    ServerError,
    TransportError,
)
from satusehat_async.http import BackendRequest, BackendResponse
from satusehat_async.http.bearer import token_problem
from satusehat_async.http.classify import classify
from satusehat_async.metrics import RequestEvent
from satusehat_async.patients import HumanName, Patient, nik_identifier
from satusehat_async.testing import MockBackend

BASE = "https://satusehat.test"
TOKEN = {"access_token": "tok-1", "expires_in": "3600"}
PAGE = {
    "status_code": 200,
    "message": "Success",
    "page": 1,
    "total_page": 1,
    "data": [{"kode_satusehat": "1000000001", "nama": "Puskesmas Satu"}],
}
NIK = "3273015708950001"


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any attempt to open a connection (and remember it)."""
    attempts: list[str] = []

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(repr(address))
        raise AssertionError(f"a socket was opened to {address!r}")

    async def create_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args))
        raise AssertionError("the event loop was asked for a connection")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", create_connection)
    return attempts


def client_with(backend: MockBackend, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, jitter=None))
    return SatuSehatClient("cid", "csecret", base_url=BASE, backend=backend, **kwargs)


class Server:
    """A scripted SATUSEHAT: token, MSI, Patient search and create; faults on demand."""

    def __init__(self) -> None:
        self.tokens = 0
        self.msi_503 = 1  # the first MSI request gets a 503
        self.reject_token = {"tok-1"}  # revoked on the server: answered with a 401

    def __call__(self, request: BackendRequest) -> Any:
        path = request.url.split("?")[0].removeprefix(BASE)
        if path == "/oauth2/v1/accesstoken":
            self.tokens += 1
            return 200, {}, {**TOKEN, "access_token": f"tok-{self.tokens}"}
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer in self.reject_token:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b""
        if path.endswith("/mastersarana"):
            if self.msi_503:
                self.msi_503 -= 1
                return 503, {"Retry-After": "1"}, "<html><title>busy</title></html>"
            return 200, {"X-Request-Id": "r-msi"}, PAGE
        if path == "/fhir-r4/v1/Patient" and request.method == "GET":
            return 200, {}, {"resourceType": "Bundle", "type": "searchset", "total": 0}
        if path == "/fhir-r4/v1/Patient" and request.method == "POST":
            created = {**request.json(), "id": "P02478375538"}
            return 201, {"Location": f"{BASE}/fhir-r4/v1/Patient/P02478375538"}, created
        return 404, {}, b""


async def test_mock_backend_drives_the_whole_client(no_sockets: list[str]) -> None:
    server = Server()
    backend = MockBackend(server)
    sleep = RecordingSleep()
    async with client_with(backend, sleep=sleep) as client:
        token = await client.get_token()
        assert token.access_token == "tok-1"
        page = await client.msi.page(page=1, page_size=10)
        patient = Patient(
            identifier=[nik_identifier(NIK)],
            name=[HumanName(use="official", text="Siti Aminah")],
            gender="female",
            birth_date="1995-08-17",
        )
        created = await client.patients.create(patient)
    assert no_sockets == []
    assert [f.kode_satusehat for f in page.facilities] == ["1000000001"]
    assert created.id == "P02478375538" and created.created
    # tok-1 was refused with a 401 about the token: refreshed once, replayed as tok-2
    msi = [r for r in backend.requests if "mastersarana" in r.url]
    assert [r.headers["Authorization"] for r in msi] == [
        "Bearer tok-1",
        "Bearer tok-2",
        "Bearer tok-2",
    ]
    assert server.tokens == 2
    assert sleep.waits == [1.0]  # the 503's Retry-After, then the retry succeeded
    assert client.metrics.retries == 1  # one attempt was a retry (the replay is not)
    posts = [r for r in backend.requests if r.method == "POST" and "Patient" in r.url]
    assert len(posts) == 1 and posts[0].json()["identifier"][0]["value"] == NIK


async def test_the_socket_guard_catches_a_client_that_does_connect(no_sockets: list[str]) -> None:
    # The control for the test above: the same client on its default (aiohttp) backend
    # trips the guard, so "no_sockets == []" there is a finding, not a blind spot.
    async with SatuSehatClient("cid", "csecret", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(AssertionError, match=r"socket was opened|asked for a connection"):
            await client.get_token()
    assert no_sockets


async def test_handler_answers_in_every_documented_form() -> None:
    async def handler(request: BackendRequest) -> Any:  # a coroutine handler
        path = request.url.split("?")[0]
        if path.endswith("/accesstoken"):
            return 200, TOKEN  # (status, body): body JSON-encoded
        if path.endswith("/text"):
            return 200, {"Content-Type": "application/json"}, '{"a": 1}'
        if path.endswith("/bytes"):
            return 200, {}, b'{"b": 2}'
        headers = CIMultiDictProxy(CIMultiDict({"X-Request-Id": "r"}))
        return BackendResponse(200, headers, b'{"c": 3}')

    backend = MockBackend(handler)
    async with client_with(backend) as client:
        assert await client.request("GET", "/text") == {"a": 1}
        assert await client.request("GET", "/bytes") == {"b": 2}
        assert await client.request("GET", "/object") == {"c": 3}
    token_request = backend.requests[0]
    assert token_request.method == "POST" and b"client_secret=csecret" in token_request.body
    assert token_request.query["grant_type"] == "client_credentials"
    assert "csecret" not in repr(token_request)


async def test_a_handler_raising_transport_errors_simulates_connection_failures() -> None:
    calls: list[str] = []

    def handler(request: BackendRequest) -> Any:
        calls.append(request.method)
        if request.url.endswith("/refused") and calls.count("POST") == 1:
            raise TransportError("refused", sent=False)
        if request.url.endswith("/dropped"):
            raise TransportError("dropped after sending", sent=True)
        if request.url.endswith("/slow"):
            raise RequestTimeout("no answer")
        return 200, {}, {"ok": True}

    sleep = RecordingSleep()
    backend = MockBackend(handler)
    async with client_with(backend, sleep=sleep) as client:
        assert await client.request("POST", "/refused", authenticate=False) == {"ok": True}
        with pytest.raises(TransportError, match="dropped"):
            await client.request("POST", "/dropped", authenticate=False)
        with pytest.raises(RequestTimeout):
            await client.request("GET", "/slow", authenticate=False)
    # refused POST re-sent once; the dropped POST never re-sent; the GET tried 3 times
    assert calls == ["POST", "POST", "POST", "GET", "GET", "GET"]


async def test_the_mock_enforces_the_response_size_limit() -> None:
    backend = MockBackend(lambda request: (200, {}, b"x" * 2048))
    async with client_with(backend, max_response_size=1024) as client:
        with pytest.raises(ResponseTooLarge) as caught:
            await client.request("GET", "/big", authenticate=False)
    assert caught.value.limit == 1024
    assert len(backend.requests) == 1  # not transient: not retried


async def test_events_name_the_failure_kind() -> None:
    events: list[RequestEvent] = []

    def handler(request: BackendRequest) -> Any:
        raise RequestTimeout("no answer", kind="timeout")

    async with client_with(MockBackend(handler), hooks=[events.append]) as client:
        with pytest.raises(RequestTimeout):
            await client.request("GET", "/x", authenticate=False)
    assert [(e.attempt, e.status, e.error) for e in events] == [
        (1, None, "timeout"),
        (2, None, "timeout"),
        (3, None, "timeout"),
    ]


# -- a closed client stays closed ----------------------------------------------------


async def test_a_closed_client_refuses_calls_and_cannot_be_reopened() -> None:
    backend = MockBackend(lambda request: (200, {}, TOKEN))
    client = client_with(backend)
    async with client:
        await client.request("GET", "/x")
    assert client.closed
    with pytest.raises(SatuSehatError, match="the client is closed"):
        await client.request("GET", "/x")
    with pytest.raises(SatuSehatError, match="the client is closed"):
        async with client:
            pass
    assert not backend.closed  # a backend handed in belongs to the caller


async def test_an_owned_backend_is_closed_with_the_client() -> None:
    client = SatuSehatClient("a", "b", base_url=BASE)
    await client.aclose()
    with pytest.raises(SatuSehatError, match="the client is closed"):
        await client.get_token()


# -- pure stages -----------------------------------------------------------------------


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> BackendResponse:
    return BackendResponse.of(status, headers, msgspec.json.encode(body))


def test_classify_turns_a_suppressed_200_into_a_consent_error() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "suppressed"}],
    }
    error = classify(_answer(200, outcome), method="GET", url=f"{BASE}/fhir-r4/v1/Patient/P1")
    assert isinstance(error, ConsentError) and error.status == 200
    ok = classify(_answer(200, {"a": 1}), method="GET", url=f"{BASE}/x", attempts=2)
    assert not isinstance(ok, SatuSehatError) and ok.json() == {"a": 1} and ok.attempts == 2
    failed = classify(_answer(503, {"message": "busy"}), method="GET", url=f"{BASE}/x")
    assert isinstance(failed, ServerError) and failed.retryable


def test_token_problem_is_decided_beside_the_auth() -> None:
    assert token_problem(_answer(401, {"fault": {"faultstring": "Invalid Access Token"}}))
    no_product = {"fault": {"detail": {"errorcode": "InvalidAPICallAsNoApiProductMatchFound"}}}
    assert not token_problem(_answer(401, no_product))
    assert not token_problem(_answer(403, {}))


# -- the retry engine --------------------------------------------------------------------


def test_retry_budget_counts_attempts_and_time_in_one_place() -> None:
    clock = FakeClock(0.0)
    policy = RetryPolicy(max_attempts=3, max_time=10.0, base_delay=1.0, jitter=None)
    error = ServerError("busy", status=503)
    budget = policy.start(clock)
    assert budget.next_wait(error) == 1.0
    assert budget.next_wait(error) == 2.0
    assert budget.next_wait(error) is None  # the third failure was the last attempt
    assert budget.attempts == 3

    budget = policy.start(clock)
    clock.advance(9.5)
    assert budget.remaining() == 0.5
    assert budget.next_wait(error) is None  # a 1 s backoff does not fit in 0.5 s

    later = ServerError("busy", status=503, retry_after=30.0)
    assert policy.start(clock).next_wait(later) is None  # Retry-After beyond the budget
    soon = ServerError("busy", status=503, retry_after=4.0)
    assert policy.start(clock).next_wait(soon) == 4.0
