"""The aiohttp backend itself: what it hands aiohttp, how aiohttp's failures become our
errors, and bounded reading (size limits, gzip) — with aioresponses patching aiohttp, or a
real server on 127.0.0.1 where the bytes on the wire matter.

Everything above the backend (retries, the 401 replay, the breaker, error decoding) is
tested on MockBackend (``test_transport.py``, ``test_mock_backend.py``...).
"""

from __future__ import annotations

import gc
import logging
import re
import ssl
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
from _support import RecordingSleep
from aiohttp import web
from aioresponses import aioresponses
from conftest import ServerFactory

from satusehat_async import (
    ResponseTooLarge,
    RetryPolicy,
    SatuSehatClient,
    SatuSehatError,
    TransportError,
)

BASE = "https://sandbox.test"
TOKEN_URL = re.compile(r"^https://sandbox\.test/oauth2/v1/accesstoken.*$")
MSI = f"{BASE}/masterdata/v1/mastersaranaindex/mastersarana"
SECRET = "super-secret-value-42"
MiB = 1024 * 1024


def token_answer(n: int = 1, ttl: int = 3599) -> dict[str, Any]:
    return {
        "access_token": f"tok-{n}",
        "token_type": "BearerToken",
        "expires_in": str(ttl),
        "issued_at": "1671109805593",
        "status": "approved",
    }


def make_client(sleep: RecordingSleep, **kwargs: Any) -> SatuSehatClient:
    policy = kwargs.pop("retry", RetryPolicy(max_attempts=4, jitter=None))
    return SatuSehatClient("client-id", SECRET, base_url=BASE, sleep=sleep, retry=policy, **kwargs)


def refused_connection(host: str = "sandbox.test") -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey(host, 443, True, True, None, None, None),
        OSError(111, "Connection refused"),
    )


# -- what aiohttp is handed ------------------------------------------------------------


async def test_token_request_shape_and_bearer_header_reach_aiohttp(
    no_sleep: RecordingSleep,
) -> None:
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        m.get(re.compile(r"^https://sandbox\.test/masterdata.*$"), payload={"data": []})
        async with make_client(no_sleep) as client:
            data = await client.request(
                "GET",
                "/masterdata/v1/mastersaranaindex/mastersarana",
                params={"jenis_sarana": [103, 104], "limit": 10, "page": 1},
            )
        assert data == {"data": []}
        token_calls = [(k, v) for k, v in m.requests.items() if k[0] == "POST"]
        ((key, calls),) = token_calls
        assert key[1].query["grant_type"] == "client_credentials"
        form = calls[0].kwargs["data"].decode()
        assert "grant_type=client_credentials" in form
        assert "client_id=client-id" in form
        assert calls[0].kwargs["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        ((get_key, get_calls),) = [(k, v) for k, v in m.requests.items() if k[0] == "GET"]
        assert get_key[1].query.getall("jenis_sarana") == ["103", "104"]
        assert get_calls[0].kwargs["headers"]["Authorization"] == "Bearer tok-1"
        assert get_calls[0].kwargs["allow_redirects"] is False  # never followed


async def test_connect_timeout_bounds_connecting_not_queueing(no_sleep: RecordingSleep) -> None:
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        m.get(MSI, payload={})
        async with make_client(no_sleep, timeout=12.0, connect_timeout=3.0) as client:
            await client.request("GET", MSI)
        ((_, calls),) = [(k, v) for k, v in m.requests.items() if k[0] == "GET"]
    timeout = calls[0].kwargs["timeout"]
    assert (timeout.total, timeout.sock_connect, timeout.connect) == (12.0, 3.0, None)


# -- aiohttp's failures become our errors ------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": aiohttp.ClientOSError(104, "Connection reset by peer")},
        {"exception": TimeoutError()},
    ],
)
async def test_connection_failures_on_get_are_retried(
    no_sleep: RecordingSleep, fault: dict[str, Any]
) -> None:
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        m.get(MSI, **fault)
        m.get(MSI, **fault)
        m.get(MSI, payload={"page": 1})
        async with make_client(no_sleep) as client:
            assert await client.request("GET", MSI) == {"page": 1}
    assert len(no_sleep.waits) == 2
    # exponential schedule without jitter: 0.25, 0.5
    assert no_sleep.waits == [0.25, 0.5]


async def test_a_disconnect_after_a_post_left_is_sent_and_not_retried(
    no_sleep: RecordingSleep,
) -> None:
    url = f"{BASE}/fhir-r4/v1/Patient"
    body = {"resourceType": "Patient"}
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        m.post(url, exception=aiohttp.ServerDisconnectedError())
        m.post(url, payload={"resourceType": "Patient", "id": "P1"})
        async with make_client(no_sleep) as client:
            with pytest.raises(TransportError) as info:
                await client.request("POST", "/fhir-r4/v1/Patient", json=body)
        assert info.value.sent is True
    assert no_sleep.waits == []


async def test_post_retried_when_connection_refused(no_sleep: RecordingSleep) -> None:
    url = f"{BASE}/fhir-r4/v1/Patient"
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        m.post(url, exception=refused_connection())
        m.post(url, payload={"resourceType": "Patient", "id": "P1"})
        async with make_client(no_sleep) as client:
            data = await client.request(
                "POST", "/fhir-r4/v1/Patient", json={"resourceType": "Patient"}
            )
    assert data["id"] == "P1"
    assert len(no_sleep.waits) == 1


async def test_a_certificate_failure_never_left_and_is_not_retried(
    no_sleep: RecordingSleep,
) -> None:
    key = aiohttp.client_reqrep.ConnectionKey("sandbox.test", 443, True, True, None, None, None)
    bad_cert = aiohttp.ClientSSLError(key, ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED"))
    with aioresponses() as m:
        m.post(TOKEN_URL, exception=bad_cert, repeat=True)
        async with make_client(no_sleep) as client:
            with pytest.raises(TransportError) as info:
                await client.request("GET", MSI)
        assert sum(len(v) for k, v in m.requests.items() if k[0] == "POST") == 1
    assert info.value.sent is False and not info.value.transient
    assert no_sleep.waits == []


async def test_personal_data_stays_out_of_tracebacks_and_logs(
    no_sleep: RecordingSleep, caplog: pytest.LogCaptureFixture
) -> None:
    import traceback

    caplog.set_level(logging.DEBUG, logger="satusehat_async")
    nik, name = "3201234567890001", "Siti Aminah"
    url = f"{BASE}/fhir-r4/v1/Patient"
    events: list[Any] = []
    with aioresponses() as m:
        m.post(TOKEN_URL, payload=token_answer())
        # aiohttp's own messages quote the full URL, query included
        m.get(
            re.compile(r"^https://sandbox\.test/fhir-r4/v1/Patient.*$"),
            exception=aiohttp.ClientOSError(
                104, f"reset while reading {url}?identifier=nik%7C{nik}&name={name}"
            ),
            repeat=True,
        )
        client = make_client(no_sleep, hooks=[events.append])
        async with client:
            with pytest.raises(TransportError) as info:
                await client.request(
                    "GET",
                    "/fhir-r4/v1/Patient",
                    params={"identifier": f"nik|{nik}", "name": name, "birthdate": "1990-01-02"},
                )
    chain = "".join(traceback.format_exception(info.value))
    for text in (chain, caplog.text, *(repr(e) for e in events)):
        assert nik not in text
        assert "Siti" not in text
        assert "1990-01-02" not in text


# -- a maximum answer size, read off a real socket (issue 9, item 1) ----------------------


def token_app() -> web.Application:
    """An app with a token endpoint; tests add their routes."""

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": "3600"})

    app = web.Application()
    app.router.add_post("/oauth2/v1/accesstoken", token)
    return app


def client_for(base: str, **kwargs: Any) -> SatuSehatClient:
    kwargs.setdefault("sleep", RecordingSleep())
    kwargs.setdefault("trust_env", False)
    return SatuSehatClient("cid", "csecret", base_url=base, **kwargs)


class Streamer:
    """Streams ``total`` bytes of JSON-ish filler in 64 KiB chunks, counting what it wrote."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.written = 0
        self.chunk = b" " * 65_536

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            while self.written < self.total:
                await response.write(self.chunk)
                self.written += len(self.chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: exactly what a bounded reader does
        return response


async def peak_of(work: Callable[[], Awaitable[Any]]) -> tuple[Any, int]:
    """Run ``work``; return its result or exception and the peak traced memory in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        try:
            result: Any = await work()
        except SatuSehatError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_huge_body_stops_at_the_limit_with_bounded_memory(serve: ServerFactory) -> None:
    app = token_app()
    streamer = Streamer(total=512 * MiB)
    app.router.add_get("/big", streamer.handle)
    base = await serve(app)
    async with client_for(base, max_response_size=2 * MiB) as client:
        await client.get_token()
        error, peak = await peak_of(lambda: client.request("GET", "/big"))
    assert isinstance(error, ResponseTooLarge)
    assert error.limit == 2 * MiB and error.status == 200
    assert "max_response_size" in str(error)
    assert not error.transient  # the same request gets the same answer: no retry
    assert peak < 24 * MiB  # the body was never held whole
    assert streamer.written < 64 * MiB  # reading stopped early, the connection was dropped


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    serve: ServerFactory,
) -> None:
    app = token_app()

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (3 * MiB), content_type="application/json")

    app.router.add_get("/big", big)
    base = await serve(app)
    sleep = RecordingSleep()
    async with client_for(base, max_response_size=1 * MiB, sleep=sleep) as client:
        with pytest.raises(ResponseTooLarge):
            await client.request("GET", "/big")
        assert sleep.waits == []  # not retried
        assert client.transport.breaker is not None
        assert client.transport.breaker.failure_rate(base.removeprefix("http://")) is None


def gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    zeros = bytes(MiB)
    parts = [packer.compress(zeros) for _ in range(size // MiB)]
    return b"".join(parts) + packer.flush()


async def test_a_gzip_bomb_is_stopped_by_its_decompressed_size(serve: ServerFactory) -> None:
    bomb = gzip_of_zeros(256 * MiB)
    assert len(bomb) < 1 * MiB  # small on the wire, 256 MiB inflated
    app = token_app()

    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=bomb, headers=headers)

    app.router.add_get("/bomb", handler)
    base = await serve(app)
    async with client_for(base, max_response_size=4 * MiB) as client:
        await client.get_token()
        error, peak = await peak_of(lambda: client.request("GET", "/bomb"))
    assert isinstance(error, ResponseTooLarge)
    assert peak < 32 * MiB


async def test_answers_within_the_limit_are_read_whole_gzip_included(serve: ServerFactory) -> None:
    page = msgspec.json.encode({"data": [{"nama": "Klinik " + str(i)} for i in range(40_000)]})
    assert len(page) > 512 * 1024
    app = token_app()

    async def handler(request: web.Request) -> web.Response:
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        body = packer.compress(page) + packer.flush()
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=body, headers=headers)

    app.router.add_get("/page", handler)
    base = await serve(app)
    async with client_for(base, max_response_size=len(page)) as client:  # exactly fits
        data = await client.request("GET", "/page")
    assert len(data["data"]) == 40_000
    default = SatuSehatClient("cid", "csecret")
    # A 2000-row page of the local sandbox is about 1.8 MB: the default leaves 35x room.
    assert default.transport.max_response_size == 64 * MiB
