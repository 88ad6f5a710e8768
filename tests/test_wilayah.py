"""Issue 13: the region codes (master wilayah v2) against the sandbox."""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

import msgspec
import pytest

from satusehat_async import SatuSehatClient, ValidationError
from satusehat_async.fhir import Address
from satusehat_async.sandbox import LocalSandbox
from satusehat_async.sandbox.wilayah_routes import wilayah_service
from satusehat_async.testing import MockBackend
from satusehat_async.wilayah import ADMINISTRATIVE_CODE_URL, Region, Wilayah

V2 = "/masterdata/v2/"


@pytest.fixture
def satusehat_sandbox_options() -> dict[str, Any]:
    return {"facilities": 200, "seed": 7}


def _wilayah_requests(sb: LocalSandbox, level: str | None = None) -> int:
    return sum(
        n
        for key, n in sb.stats.requests_by_path.items()
        if "/masterdata/v" in key and (level is None or key.endswith(f"/{level}"))
    )


async def test_cities_follow_the_cursor_paging_to_the_last_page(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    sb = satusehat_sandbox
    expected = [r.code for r in wilayah_service(sb).data.rows("cities", ["32"])]
    assert len(expected) == 27  # Jawa Barat: 3 pages of 10
    cities = await satusehat_client.wilayah.cities("32")
    codes = [c.code for c in cities]
    assert codes == expected and len(set(codes)) == len(codes)  # every code once, in order
    assert all(isinstance(c, Region) and c.parent_code == "32" and c.name for c in cities)
    assert _wilayah_requests(sb, "cities") == math.ceil(27 / 10)  # = total_page
    # each page after the first passed the previous page's last code as the next cursor
    queries = [q for level, q in wilayah_service(sb).queries if level == "cities"]
    assert [q["current_page"] for q in queries] == ["1", "2", "3"]
    assert "next" not in queries[0]
    assert base64.b64decode(queries[1]["next"]).decode() == expected[9]
    assert base64.b64decode(queries[2]["next"]).decode() == expected[19]


async def test_all_four_levels(satusehat_sandbox: LocalSandbox, satusehat_client: Any) -> None:
    wilayah = satusehat_client.wilayah
    provinces = await wilayah.provinces()
    assert len(provinces) == 38 and provinces[0] == Region(
        code="11", parent_code="", bps_code="11", name="Aceh"
    )
    assert next(p for p in provinces if p.code == "96").bps_code == ""  # new in 2022
    assert _wilayah_requests(satusehat_sandbox, "provinces") == 4
    districts = await wilayah.districts("3171")
    assert districts and all(d.code.startswith("3171") and len(d.code) == 6 for d in districts)
    villages = await wilayah.sub_districts(districts[0].code)
    assert villages and all(len(v.code) == 10 for v in villages)
    assert all(v.parent_code == districts[0].code for v in villages)


async def test_the_sandbox_map_is_the_msi_registrys(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    registry = satusehat_sandbox.registry
    for i in (0, 57, 199):
        kecamatan = registry.meta(i).kode_kecamatan
        record = registry[i]
        found = await satusehat_client.wilayah.check(
            kode_provinsi=record["provinsi"]["kode"],
            kode_kabkota=record["kabkota"]["kode"],
            kode_kecamatan=kecamatan,
        )
        assert [r.code for r in found] == [
            record["provinsi"]["kode"],
            record["kabkota"]["kode"],
            kecamatan,
        ]
        assert [r.name for r in found[:2]] == [
            record["provinsi"]["nama"],
            record["kabkota"]["nama"],
        ]


async def test_a_list_is_crawled_once_per_client(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    wilayah = satusehat_client.wilayah
    first = await wilayah.cities("33")
    before = _wilayah_requests(satusehat_sandbox)
    again = await wilayah.cities("33")
    assert again == first and _wilayah_requests(satusehat_sandbox) == before  # 0 requests
    again.clear()  # the caller's copy: the cache is untouched
    assert await wilayah.cities("33") == first
    assert satusehat_client.wilayah is wilayah  # lives as long as the client
    wilayah.clear_cache()
    await wilayah.cities("33")
    assert _wilayah_requests(satusehat_sandbox) == before + 4


async def test_concurrent_callers_share_one_crawl(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    results = await asyncio.gather(*(satusehat_client.wilayah.cities("35") for _ in range(50)))
    assert all(r == results[0] for r in results) and len(results[0]) == 38
    assert _wilayah_requests(satusehat_sandbox, "cities") == 4  # one crawl, not fifty


async def test_page_size_sends_the_hidden_limit(satusehat_sandbox: LocalSandbox) -> None:
    async with satusehat_sandbox.client() as client:
        wilayah = Wilayah(client, page_size=2000)
        assert len(await wilayah.provinces()) == 38
    assert _wilayah_requests(satusehat_sandbox, "provinces") == 1
    with pytest.raises(ValidationError):
        Wilayah(client, page_size=2001)


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ("cities", "1"),
        ("cities", "111"),
        ("cities", "3a"),
        ("cities", None),
        ("cities", True),
        ("districts", "31"),
        ("districts", "317101"),
        ("sub_districts", "3171"),
        ("sub_districts", "31710100"),
    ],
)
async def test_bad_codes_are_refused_before_sending(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any, method: str, code: Any
) -> None:
    with pytest.raises(ValidationError, match="digits"):
        await getattr(satusehat_client.wilayah, method)(code)
    assert _wilayah_requests(satusehat_sandbox) == 0


@pytest.mark.parametrize(
    "codes",
    [
        {"kode_provinsi": "31", "kode_kabkota": "3271"},  # not nested
        {"kode_kabkota": "3171", "kode_kecamatan": "327101"},
        {"kode_provinsi": "31", "kode_kelurahan": "3271011001"},
        {"kode_kecamatan": "1010101"},  # 7 digits, as in a documented Location example
        {"kode_kelurahan": "31710101"},  # 8 digits, as in a documented Organization example
        {},
    ],
)
async def test_check_refuses_malformed_codes_before_sending(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any, codes: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        await satusehat_client.wilayah.check(**codes)
    assert _wilayah_requests(satusehat_sandbox) == 0


async def test_check_true_and_false(satusehat_sandbox: LocalSandbox, satusehat_client: Any) -> None:
    wilayah = satusehat_client.wilayah
    district = (await wilayah.districts("3171"))[0]
    village = (await wilayah.sub_districts(district.code))[0]
    found = await wilayah.check(
        kode_provinsi="31",
        kode_kabkota=3171,
        kode_kecamatan=district.code,
        kode_kelurahan=village.code,
    )
    assert [r.code for r in found] == ["31", "3171", district.code, village.code]
    for codes, missing in [
        ({"kode_provinsi": "20"}, "kode_provinsi 20"),
        ({"kode_kabkota": "3199"}, "kode_kabkota 3199 does not exist in 31"),
        ({"kode_kecamatan": "317199"}, "kode_kecamatan 317199"),
        ({"kode_kelurahan": district.code + "2999"}, "kode_kelurahan"),
    ]:
        with pytest.raises(ValidationError, match=missing):
            await wilayah.check(**codes)


def _address(codes: dict[str, str]) -> dict[str, Any]:
    parts = [{"url": url, "valueCode": code} for url, code in codes.items()]
    parts += [{"url": "rt", "valueCode": "1"}, {"url": "rw", "valueCode": "2"}]
    return {
        "use": "home",
        "city": "Jakarta",
        "extension": [{"url": ADMINISTRATIVE_CODE_URL, "extension": parts}],
    }


async def test_check_address(satusehat_sandbox: LocalSandbox, satusehat_client: Any) -> None:
    wilayah = satusehat_client.wilayah
    district = (await wilayah.districts("3174"))[0]
    village = (await wilayah.sub_districts(district.code))[-1]
    good = {"province": "31", "city": "3174", "district": district.code, "village": village.code}
    as_dict = _address(good)
    assert [r.code for r in await wilayah.check_address(as_dict)][-1] == village.code
    as_struct = msgspec.convert(as_dict, Address)
    assert len(await wilayah.check_address(as_struct)) == 4
    requests = _wilayah_requests(satusehat_sandbox)
    for bad in (
        {**good, "village": "31710101"},  # malformed: refused before sending
        {**good, "city": "3171"},  # mis-nested
        {k: v for k, v in good.items() if k != "village"},  # incomplete
    ):
        with pytest.raises(ValidationError):
            await wilayah.check_address(_address(bad))
    with pytest.raises(ValidationError, match="administrativeCode"):
        await wilayah.check_address({"use": "home", "city": "Jakarta"})
    with pytest.raises(ValidationError):
        await wilayah.check_address("Jl. Sudirman")
    assert _wilayah_requests(satusehat_sandbox) == requests
    partial = {k: v for k, v in good.items() if k in ("province", "city")}
    assert len(await wilayah.check_address(_address(partial), complete=False)) == 2
    with pytest.raises(ValidationError, match="does not exist"):
        await wilayah.check_address(_address({**good, "village": district.code + "2999"}))


async def test_sandbox_envelope_and_errors(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    page = await satusehat_client.request("GET", V2 + "cities", params={"current_page": 1})
    assert page["meta"]["page"] == {
        "is_cursor": True, "current": 1, "previous": 0, "next": 2,
        "limit": 10, "total_page": 52, "total": 514,
    }  # fmt: skip
    assert page["meta"]["item_count"] == 10
    cursors = page["meta"]["cursors"]
    assert base64.b64decode(cursors["previous"]).decode() == page["data"][0]["code"]
    assert base64.b64decode(cursors["next"]).decode() == page["data"][-1]["code"]
    one = await satusehat_client.request(
        "GET", V2 + "provinces", params={"current_page": 1, "limit": 50}
    )
    assert one["meta"]["page"]["total_page"] == 1 and one["meta"]["page"]["next"] == 2
    from satusehat_async import BadRequestError

    with pytest.raises(BadRequestError, match="limit cannot be more than 2000"):
        await satusehat_client.request(
            "GET", V2 + "provinces", params={"current_page": 1, "limit": 2001}
        )
    v1 = await satusehat_client.request(
        "GET", "/masterdata/v1/cities", params={"province_codes": "31"}
    )
    assert "meta" not in v1 and len(v1["data"]) == 6


async def test_paging_that_stalls_is_an_error_not_a_loop() -> None:
    def handler(request: Any) -> Any:
        if "accesstoken" in request.url:
            return 200, {"access_token": "t", "expires_in": "3600"}
        meta = {"page": {"current": 1, "total_page": 9, "total": 90}, "cursors": {"next": ""}}
        return 200, {"status": 200, "error": False, "data": [], "meta": meta}

    backend = MockBackend(handler)
    from satusehat_async import APIError

    async with SatuSehatClient("id", "secret", base_url="https://x.test", backend=backend) as c:
        with pytest.raises(APIError, match="paging stopped"):
            await c.wilayah.provinces()
    assert len(backend.requests) == 2  # the token, one page


async def test_the_crawl_rides_through_faults_and_expiring_tokens() -> None:
    from _support import RecordingSleep

    async with LocalSandbox(facilities=10, seed=7, fault_rate=0.3) as sb:
        expected = [r.code for r in wilayah_service(sb).data.rows("cities", ["32"])]
        sb.inject("401_expired", path_prefix="/masterdata/v2/")
        async with sb.client(sleep=RecordingSleep()) as client:
            cities = await client.wilayah.cities("32")
        assert [c.code for c in cities] == expected  # every code once, in order
        assert sum(sb.stats.faults_injected.values()) >= 1


async def test_sandbox_prev_cursor_and_bad_cursor(satusehat_client: Any) -> None:
    first = await satusehat_client.request("GET", V2 + "districts", params={"current_page": 1})
    second = await satusehat_client.request(
        "GET",
        V2 + "districts",
        params={"current_page": 2, "next": first["meta"]["cursors"]["next"]},
    )
    assert second["data"][0]["code"] > first["data"][-1]["code"]
    back = await satusehat_client.request(
        "GET",
        V2 + "districts",
        params={"current_page": 1, "prev": second["meta"]["cursors"]["previous"]},
    )
    assert back["data"] == first["data"]
    from satusehat_async import BadRequestError

    with pytest.raises(BadRequestError, match="invalid cursor"):
        await satusehat_client.request(
            "GET", V2 + "districts", params={"current_page": 2, "next": "%%%"}
        )
    with pytest.raises(BadRequestError, match="current_page is required"):
        await satusehat_client.request("GET", V2 + "districts")
