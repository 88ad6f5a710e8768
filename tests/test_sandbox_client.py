"""The library client against the sandbox, through ``sb.client()`` and the pytest fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from satusehat_async.sandbox import Sandbox

MSI = "/masterdata/v1/mastersaranaindex/mastersarana"


@pytest.fixture
def satusehat_sandbox_options() -> dict[str, Any]:
    """Overrides the plugin's default options for this module."""
    return {"facilities": 700, "seed": 5}


async def test_sb_client_gets_a_token_and_a_page() -> None:
    async with Sandbox(facilities=300) as sb, sb.client() as client:
        page = await client.request(
            "GET", MSI, params={"jenis_sarana": [101, 102, 103, 104], "limit": 100, "page": 1}
        )
        assert page["total_page"] == 3
        assert [f["kode_satusehat"] for f in page["data"]] == [
            sb.registry.row(i).kode_satusehat for i in range(100)
        ]
        assert client.fhir_url == f"{sb.base_url}/fhir-r4/v1"
        assert sb.stats.token_requests == 1


async def test_fixtures_give_a_started_sandbox_and_an_entered_client(
    satusehat_sandbox: Sandbox, satusehat_client: Any
) -> None:
    assert len(satusehat_sandbox.registry) == 700  # the module's options apply
    assert satusehat_client.masterdata_url.startswith(satusehat_sandbox.base_url)
    codes = [
        facility.kode_satusehat
        async for facility in satusehat_client.msi.facilities(
            jenis_sarana=[101, 102, 103, 104], page_size=150, concurrency=3
        )
    ]
    assert len(codes) == 700
    assert set(codes) == {satusehat_sandbox.registry.row(i).kode_satusehat for i in range(700)}
    assert satusehat_sandbox.stats.token_requests == 1
    assert satusehat_sandbox.stats.requests_by_path[f"GET {MSI}"] == 5


async def test_client_rides_through_injected_faults(
    satusehat_sandbox: Sandbox, satusehat_client: Any
) -> None:
    params = {"jenis_sarana": 104, "limit": 10, "page": 1}
    for kind in ("503", "drop", "401_expired"):
        satusehat_sandbox.inject(kind)
        page = await satusehat_client.request("GET", MSI, params=params)
        assert page["status_code"] == 200, kind
    assert satusehat_sandbox.stats.faults_injected == {"503": 1, "drop": 1, "401_expired": 1}
    assert satusehat_sandbox.stats.token_requests == 2  # the 401 made it refresh once
