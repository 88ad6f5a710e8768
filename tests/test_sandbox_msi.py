"""The sandbox's facility registry and Master Sarana Index endpoint."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import msgspec
import pytest

from satusehat_async.sandbox.facilities import FacilityGenerator
from satusehat_async.testing import Registry, Sandbox

MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
ALL_TYPES = [("jenis_sarana", j) for j in ("101", "102", "103", "104")]
FACILITY_KEYS = {
    "kode_satusehat", "kode_sarana", "nama", "telp", "email", "website", "longitude",
    "latitude", "operasional", "wilayah_perairan_darat", "wilayah_karakteristik",
    "sarana_administrasi", "alamat", "provinsi", "kabkota", "jenis_sarana", "subjenis",
    "kelas_sarana", "status_sarana", "status_aktif",
}  # fmt: skip
NESTED_KEYS = {
    "sarana_administrasi": {"kode", "nama", "kode_sarana", "status_aktif", "status_sarana"},
    "provinsi": {"kode", "nama", "kode_bps", "kode_lama"},
    "kabkota": {"kode", "nama", "kode_bps", "kode_lama"},
    "jenis_sarana": {"kode", "nama", "nama_alt"},
    "subjenis": {"kode", "nama", "nama_alt"},
    "kelas_sarana": {"kode", "nama"},
}

REGISTRY = Registry(6_000, seed=1)
RECORDS = list(REGISTRY)


# -- the generated data --------------------------------------------------------------------
def test_every_record_has_the_47_documented_fields() -> None:
    for record in RECORDS:
        assert set(record) == FACILITY_KEYS
        for key, nested in NESTED_KEYS.items():
            assert set(record[key]) == nested
    # the documentation numbers 47 items: 6 of the page envelope, 41 of a facility
    assert len(FACILITY_KEYS) + sum(len(v) for v in NESTED_KEYS.values()) == 47 - 6


def test_data_is_deterministic_per_seed() -> None:
    assert Registry(300, seed=1)[:] == RECORDS[:300]
    assert Registry(300, seed=2)[:] != RECORDS[:300]


def test_provinces_are_the_38_real_ones() -> None:
    provinces = FacilityGenerator(1).provinces
    assert len(provinces) == 38
    names = {p.kode: p.nama for p in provinces}
    assert names["11"] == "Aceh"
    assert names["32"] == "Jawa Barat"
    assert names["96"] == "Papua Barat Daya"
    for province in provinces:
        assert len(province.kode) == 2
        for kab in province.kabkota:
            assert kab.kode.startswith(province.kode)
            assert len(kab.kode) == 4
            assert kab.nama.startswith(("Kab. ", "Kota "))
            assert all(k.kode.startswith(kab.kode) and len(k.kode) == 6 for k in kab.kecamatan)
    seen = {r["provinsi"]["kode"] for r in RECORDS}
    assert len(seen) >= 36  # small Papua provinces may be missing from a 6,000 draw


def test_codes_are_unique_and_types_all_present() -> None:
    codes = [r["kode_satusehat"] for r in RECORDS]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 10 and c.isdigit() for c in codes)
    sarana = [r["kode_sarana"] for r in RECORDS]
    assert len(set(sarana)) == len(sarana)
    jenis = Counter(r["jenis_sarana"]["kode"] for r in RECORDS)
    assert set(jenis) == {"101", "102", "103", "104"}
    for record in RECORDS:
        sub = record["subjenis"]["kode"]
        assert sub is None or sub.startswith(record["jenis_sarana"]["kode"])


def test_records_carry_the_real_quirks() -> None:
    latitude_types = {type(r["latitude"]) for r in RECORDS}
    assert latitude_types == {str, float, type(None)}
    assert any((r["telp"] or "").endswith("_") for r in RECORDS)
    assert any(r["subjenis"]["kode"] is None for r in RECORDS)
    assert any(r["nama"] is None for r in RECORDS)
    assert any(r["email"] is None for r in RECORDS)
    assert any(r["sarana_administrasi"]["kode"] for r in RECORDS)
    assert {r["status_sarana"] for r in RECORDS} == {
        "draft", "verified", "valid", "reverified", "review",
    }  # fmt: skip
    assert {r["status_aktif"] for r in RECORDS} == {True, False}
    papua = [r for r in RECORDS if r["provinsi"]["kode"] in ("93", "94", "95", "96")]
    assert papua
    assert all(r["provinsi"]["kode_bps"] is None for r in papua)


def test_meta_gives_kecamatan_date_and_source_codes() -> None:
    meta = REGISTRY.meta(0)
    assert meta.kode_satusehat == RECORDS[0]["kode_satusehat"]
    assert meta.kode_kecamatan.startswith(RECORDS[0]["kabkota"]["kode"])
    assert len(meta.updated_at) == 10
    assert meta.identifiers["satset"] == meta.kode_satusehat
    assert meta.identifiers["dto_msfi"] == RECORDS[0]["kode_sarana"]
    assert REGISTRY.index_of(meta.kode_satusehat) == 0


def test_generation_is_fast() -> None:
    started = time.perf_counter()
    Registry(10_000, seed=3)
    assert time.perf_counter() - started < 2.0  # typically 0.2 s


# -- over HTTP -----------------------------------------------------------------------------
@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(facilities=2_500, seed=1) as sandbox:
        yield sandbox


@pytest.fixture
async def get(sb: Sandbox) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            sb.base_url + "/oauth2/v1/accesstoken",
            params={"grant_type": "client_credentials"},
            data={"client_id": "sandbox", "client_secret": "sandbox"},
        ) as resp:
            token = (await resp.json())["access_token"]

        async def fetch(params: Sequence[tuple[str, str]]) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(sb.base_url + MSI, params=list(params), headers=headers) as r:
                return r.status, await r.json()

        yield fetch


def expected(sb: Sandbox, keep: Any) -> list[str]:
    registry = sb.registry
    return [
        registry.row(i).kode_satusehat
        for i in range(len(registry))
        if keep(registry[i], registry.meta(i))
    ]


async def crawl(get: Any, params: list[tuple[str, str]], limit: int) -> tuple[list[str], int]:
    status, first = await get([*params, ("limit", str(limit)), ("page", "1")])
    assert status == 200
    codes = [r["kode_satusehat"] for r in first["data"]]
    for page in range(2, first["total_page"] + 1):
        status, body = await get([*params, ("limit", str(limit)), ("page", str(page))])
        assert (status, body["page"], body["total_page"]) == (200, page, first["total_page"])
        codes += [r["kode_satusehat"] for r in body["data"]]
    return codes, first["total_page"]


async def test_pages_cover_the_registry_in_order(get: Any, sb: Sandbox) -> None:
    codes, total_page = await crawl(get, ALL_TYPES, 700)
    assert codes == [sb.registry.row(i).kode_satusehat for i in range(len(sb.registry))]
    assert total_page == math.ceil(2_500 / 700)
    status, past = await get([*ALL_TYPES, ("limit", "700"), ("page", "99")])
    assert status == 200
    assert past == {
        "status_code": 200,
        "message": "Success",
        "page": 99,
        "total_page": total_page,
        "data": [],
    }


async def test_repeated_jenis_sarana_selects_several_types(get: Any, sb: Sandbox) -> None:
    params = [("jenis_sarana", "104"), ("jenis_sarana", "102")]
    codes, total_page = await crawl(get, params, 2000)
    want = expected(sb, lambda r, m: r["jenis_sarana"]["kode"] in ("104", "102"))
    assert codes == want
    assert total_page == 1
    only, _ = await crawl(get, [("jenis_sarana", "104")], 2000)
    assert only == expected(sb, lambda r, m: r["jenis_sarana"]["kode"] == "104")


async def test_every_filter(get: Any, sb: Sandbox) -> None:
    sample = sb.registry[7]
    meta = sb.registry.meta(7)
    cases: list[tuple[list[tuple[str, str]], Any]] = [
        ([("kode_provinsi", "32")], lambda r, m: r["provinsi"]["kode"] == "32"),
        (
            [("kode_kabkota", sample["kabkota"]["kode"])],
            lambda r, m: r["kabkota"]["kode"] == sample["kabkota"]["kode"],
        ),
        (
            [("kode_kecamatan", meta.kode_kecamatan)],
            lambda r, m: m.kode_kecamatan == meta.kode_kecamatan,
        ),
        (
            [("kode_satusehat", meta.kode_satusehat)],
            lambda r, m: r["kode_satusehat"] == meta.kode_satusehat,
        ),
        ([("kode_sarana", sample["kode_sarana"])], lambda r, m: r == sample),
        ([("nama", "pUsKeSmAs")], lambda r, m: "puskesmas" in (r["nama"] or "").lower()),
        ([("status_aktif", "false")], lambda r, m: r["status_aktif"] is False),
        ([("status_sarana", "review")], lambda r, m: r["status_sarana"] == "review"),
        (
            [("sumber_identifier", "dto_msfi"), ("identifier_kode_sarana", meta.kode_sarana)],
            lambda r, m: r == sample,
        ),
        (
            [("lower_bound_updated_at", "2023-01-01"), ("upper_bound_updated_at", "2023-03-31")],
            lambda r, m: "2023-01-01" <= m.updated_at <= "2023-03-31",
        ),
        (
            [("kode_provinsi", "32"), ("status_aktif", "true"), ("nama", "klinik")],
            lambda r, m: (
                r["provinsi"]["kode"] == "32"
                and r["status_aktif"]
                and "klinik" in (r["nama"] or "").lower()
            ),
        ),
    ]
    for params, keep in cases:
        want = expected(sb, keep)
        codes, _ = await crawl(get, [*ALL_TYPES, *params], 500)
        assert codes == want, params
        assert codes, params  # every case selects something


async def test_source_system_codes(get: Any, sb: Sandbox) -> None:
    for index in range(40):
        meta = sb.registry.meta(index)
        for sumber, code in meta.identifiers.items():
            status, body = await get(
                [
                    *ALL_TYPES,
                    ("limit", "10"),
                    ("page", "1"),
                    ("sumber_identifier", sumber),
                    ("identifier_kode_sarana", code),
                ]
            )
            assert status == 200
            assert [r["kode_satusehat"] for r in body["data"]] == [meta.kode_satusehat]


async def test_no_match_is_zero_pages(get: Any) -> None:
    status, body = await get([*ALL_TYPES, ("limit", "10"), ("page", "1"), ("nama", "zzzz")])
    assert status == 200
    assert body["total_page"] == 0
    assert body["data"] == []
    status, body = await get([("jenis_sarana", "105"), ("limit", "10"), ("page", "1")])
    assert (status, body["data"]) == (200, [])


BAD_QUERIES: list[tuple[list[tuple[str, str | None]], str]] = [
    ([("limit", "2001")], "limit cannot be more than 2000"),
    ([("limit", "0")], "limit must be at least 1"),
    ([("limit", "ten")], "limit must be a number"),
    ([("limit", None)], "limit is required"),
    ([("page", "0")], "page must be at least 1"),
    ([("page", None)], "page is required"),
    ([("jenis_sarana", None)], "jenis_sarana is required"),
    ([("jenis_sarana", "104,103")], "jenis_sarana must be a number"),
    ([("kode_provinsi", "3")], "kode_provinsi must be 2 digits"),
    ([("kode_kabkota", "32a1")], "kode_kabkota must be 4 digits"),
    ([("status_aktif", "yes")], "status_aktif must be true or false"),
    ([("status_sarana", "gold")], "status_sarana must be one of"),
    ([("sumber_identifier", "satset")], "must be used together"),
    ([("identifier_kode_sarana", "R1")], "must be used together"),
    ([("lower_bound_updated_at", "15-08-2023")], "YYYY-MM-DD"),
    ([("upper_bound_updated_at", "2023-02-30")], "YYYY-MM-DD"),
]


async def test_bad_queries_answer_the_msi_400_envelope(get: Any) -> None:
    for params, message in BAD_QUERIES:
        query: dict[str, str] = {"jenis_sarana": "104", "limit": "10", "page": "1"}
        for key, value in params:
            if value is None:
                del query[key]
            else:
                query[key] = value
        status, body = await get(list(query.items()))
        assert status == 400, params
        assert body["status_code"] == 400
        assert body["data"] is None
        assert message in body["message"], (params, body)
    status, body = await get([("jenis_sarana", "104"), ("limit", "2001"), ("page", "1")])
    assert body == {"status_code": 400, "message": "limit cannot be more than 2000", "data": None}


async def test_registry_changes_mid_crawl(get: Any, sb: Sandbox) -> None:
    params = [*ALL_TYPES, ("limit", "1000")]
    _, page1 = await get([*params, ("page", "1")])
    assert page1["total_page"] == 3
    last_of_page1 = page1["data"][-1]["kode_satusehat"]
    new = sb.add_facilities(600, updated_at="2030-01-01")
    _, page2 = await get([*params, ("page", "2")])
    assert page2["total_page"] == 4
    # rows shifted by 600: what was row 1000 is now at 1600, so page 2 repeats page 1's tail
    codes = [r["kode_satusehat"] for r in page2["data"]]
    assert codes[599] == last_of_page1
    _, fresh = await get([*params, ("page", "1")])
    assert [r["kode_satusehat"] for r in fresh["data"][:600]] == new
    recent, _ = await crawl(get, [*ALL_TYPES, ("lower_bound_updated_at", "2029-12-31")], 2000)
    assert recent == new
    sb.registry.remove(new[0])
    assert len(sb.registry) == 2_500 + 599


def test_filtered_lists_are_cached_until_the_registry_changes() -> None:
    registry = Registry(500, seed=4)
    from satusehat_async.sandbox.msi import MsiFilter

    crawl_filter = MsiFilter(jenis_sarana=frozenset({"103"}))
    first = registry.select(crawl_filter)
    assert registry.select(crawl_filter) is first
    registry.add(5, at_front=False)
    again = registry.select(crawl_filter)
    assert again is not first
    assert again[: len(first)] == first


def test_a_remembered_draw_goes_on_like_a_fresh_one() -> None:
    fresh = Registry(321, seed=9)
    remembered = Registry(321, seed=9)
    assert remembered[:] == fresh[:]
    assert remembered.add(4, at_front=False) == fresh.add(4, at_front=False)
    assert remembered[:] == fresh[:]
    assert len(Registry(321, seed=9)) == 321  # the remembered draw was not changed


def test_added_facilities_are_updated_today_by_the_clock() -> None:
    sb = Sandbox(facilities=20, clock=lambda: 1_900_000_000.0)  # 2030-03-17 UTC
    codes = sb.add_facilities(3)
    assert [sb.registry.meta(i).kode_satusehat for i in range(3)] == codes
    assert {sb.registry.meta(i).updated_at for i in range(3)} == {"2030-03-17"}
    sb.add_facilities(2, at_front=False, updated_at="2024-01-02")
    assert sb.registry.meta(len(sb.registry) - 1).updated_at == "2024-01-02"


def _page(registry: Registry, page: int, limit: int = 100) -> dict[str, Any]:
    from satusehat_async.sandbox.msi import parse_msi_query

    query = parse_msi_query({"limit": str(limit), "page": str(page)}, ["101", "102", "103", "104"])
    answer: dict[str, Any] = msgspec.json.decode(registry.page(query))
    return answer


def test_quirk_a_stale_total_page_over_reports_every_answer() -> None:
    registry = Registry(250, seed=3)
    registry.overreport_total_page = 40
    assert _page(registry, 1)["total_page"] == 43
    past = _page(registry, 20)
    assert past["total_page"] == 43 and past["data"] == []


def test_quirk_rows_deleted_mid_crawl_shift_later_rows_once() -> None:
    registry = Registry(500, seed=3)
    before = [r["kode_satusehat"] for r in registry]
    registry.remove_during_crawl(30, after_page=2)
    assert [r["kode_satusehat"] for r in _page(registry, 2)["data"]] == before[100:200]
    page3 = _page(registry, 3)
    assert [r["kode_satusehat"] for r in page3["data"]] == before[230:330]
    assert registry.removed_during_crawl == before[:30] and len(registry) == 470
    assert [r["kode_satusehat"] for r in _page(registry, 3)["data"]] == before[230:330]  # once


def test_put_serves_any_record_even_raw_json() -> None:
    registry = Registry(3, seed=3)
    registry.put(1, b'{"kode_satusehat":"","latitude":1' + b"0" * 400 + b"}")
    body = _page(registry, 1)
    assert body["data"][1]["kode_satusehat"] == "" and body["data"][1]["latitude"] == 10**400
