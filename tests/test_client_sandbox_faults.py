"""The client through the embedded sandbox, one fault kind at a time."""

from __future__ import annotations

import pytest
from _support import RecordingSleep

from satusehat_async import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    SatuSehatClient,
    ServerError,
    TransportError,
)
from satusehat_async.sandbox import Sandbox

MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
PARAMS = {"jenis_sarana": [103, 104], "limit": 5, "page": 1}


@pytest.mark.parametrize(
    "kind", ["504", "503", "502", "500", "429", "drop", "401_expired", "401_invalid", "token_500"]
)
async def test_each_transient_fault_is_ridden_through(kind: str) -> None:
    sleep = RecordingSleep()
    async with Sandbox(facilities=300, retry_after="2") as sb:
        async with sb.client(sleep=sleep, retry=RetryPolicy(jitter=None)) as client:
            if kind == "token_500":
                sb.inject(kind)  # the very first token request fails once
            else:
                await client.get_token()
                sb.inject(kind, path_prefix=MSI)
            page = await client.request("GET", MSI, params=PARAMS)
        assert page["status_code"] == 200
        assert len(page["data"]) == 5
        assert sb.stats.faults_injected[kind] == 1
        if kind == "429":
            assert sleep.waits == [2.0]  # Retry-After, not the backoff schedule
        if kind.startswith("401"):
            assert sb.stats.token_requests == 2  # refreshed once, replayed once
            assert sleep.waits == []


async def test_persistent_5xx_surfaces_the_servers_message_and_request_id() -> None:
    sleep = RecordingSleep()
    async with Sandbox(facilities=100) as sb, sb.client(sleep=sleep) as client:
        await client.get_token()
        sb.inject("503", count=10, path_prefix=MSI)
        with pytest.raises(ServerError) as info:
            await client.request("GET", MSI, params=PARAMS)
    assert info.value.status == 503
    assert "no healthy upstream" in str(info.value)
    assert info.value.request_id
    assert len(sleep.waits) == 4  # five attempts


async def test_persistent_429_is_a_rate_limit_error() -> None:
    sleep = RecordingSleep()
    async with Sandbox(facilities=100, retry_after="1") as sb, sb.client(sleep=sleep) as client:
        await client.get_token()
        sb.inject("429", count=10, path_prefix=MSI)
        with pytest.raises(RateLimitError) as info:
            await client.request("GET", MSI, params=PARAMS)
    assert info.value.retry_after == 1.0


async def test_persistent_drop_is_a_transport_error() -> None:
    async with Sandbox(facilities=100) as sb, sb.client(sleep=RecordingSleep()) as client:
        await client.get_token()
        sb.inject("drop", count=10, path_prefix=MSI)
        with pytest.raises(TransportError):
            await client.request("GET", MSI, params=PARAMS)


async def test_second_401_raises_authentication_error() -> None:
    async with Sandbox(facilities=100) as sb, sb.client() as client:
        await client.get_token()
        sb.inject("401_invalid", count=2, path_prefix=MSI)
        with pytest.raises(AuthenticationError, match="Invalid access token"):
            await client.request("GET", MSI, params=PARAMS)
    assert sb.stats.token_requests == 2


async def test_wrong_credentials_are_an_authentication_error_without_the_secret() -> None:
    async with Sandbox(facilities=100) as sb:
        client = SatuSehatClient(sb.client_id, "wrong-secret-123", base_url=sb.base_url)
        async with client:
            with pytest.raises(AuthenticationError) as info:
                await client.request("GET", MSI, params=PARAMS)
    assert info.value.status == 401
    assert "not able to be authenticated" in str(info.value)
    assert "wrong-secret-123" not in str(info.value) + repr(info.value)
    assert sb.stats.token_requests == 1


async def test_msi_limit_error_and_empty_404() -> None:
    async with Sandbox(facilities=100) as sb, sb.client() as client:
        with pytest.raises(BadRequestError, match="limit cannot be more than 2000"):
            await client.request("GET", MSI, params={**PARAMS, "limit": 2001})
        with pytest.raises(NotFoundError, match="empty body"):
            await client.request("GET", "/no/such/path")
        with pytest.raises(NotFoundError, match="resource not found"):
            await client.request("GET", "/fhir-r4/v1/Patient/P00000000000")
