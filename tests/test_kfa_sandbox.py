"""``client.kfa`` end to end against the embedded sandbox: lookups, the whole catalogue
through faults and expiring tokens, an offset shift, early stop, resume, prices, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from satusehat_async.errors import BadRequestError, ValidationError
from satusehat_async.kfa import KFA, Product, product_key, product_row
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox.kfa_catalogue import KfaCatalogue, catalogue_of
from satusehat_async.testing import LocalSandbox

# 30 % faults: 12 attempts make a page that fails them all about 1 in 2 million.
SOAK_RETRY = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.003)


def fake_clock() -> Callable[[], float]:
    """A wall clock that advances one second per reading: tokens expire mid-crawl."""
    ticks = itertools.count()
    return lambda: 1_700_000_000.0 + next(ticks)


def expected(catalogue: KfaCatalogue, *types: str) -> list[tuple[str, str | None]]:
    """(kfa_code, name) of every product of ``types``, in the server's list order."""
    return [(r["kfa_code"], r["name"]) for t in types for r in catalogue.records(t)]


def other_tasks() -> set[asyncio.Task[Any]]:
    """Pending tasks of the client side (the in-process sandbox's handlers excluded)."""
    mine = asyncio.current_task()
    return {
        t
        for t in asyncio.all_tasks()
        if t is not mine and "aiohttp/web" not in getattr(t.get_coro(), "cr_code", "").__str__()
    }


async def test_client_kfa_is_a_kfa_and_looks_up_by_each_identifier() -> None:
    async with LocalSandbox(kfa_products=200) as sb, sb.client() as client:
        assert isinstance(client.kfa, KFA) and client.kfa is client.kfa
        medicine = await client.kfa.product("93000004")
        assert medicine is not None and medicine.kfa_code == "93000004"
        assert medicine.product_type == "farmasi" and medicine.atc_l1 is not None
        assert medicine.atc_l1.parent_code is False and medicine.atc_l1.level == "1"
        assert medicine.nie is not None and medicine.kode_lkpp == "45000004"
        assert await client.kfa.product(medicine.nie, identifier="nie") == medicine
        assert await client.kfa.product("45000004", identifier="lkpp") == medicine
        device = await client.kfa.product("33000150")  # alkes: numbers 120..199
        assert device is not None and device.farmalkes_type is not None
        assert device.farmalkes_type.group == "alkes" and device.dosage_form is not None
        assert device.dosage_form.code is False and device.dosage_form.name is False
        assert device.packaging_ids and device.packaging_ids[0].kfa_code == "84000150"


@pytest.mark.parametrize("style", ["empty", "null", "absent", "404"])
async def test_an_unknown_code_is_none_whatever_the_not_found_shape(style: str) -> None:
    async with LocalSandbox(kfa_products=200) as sb, sb.client() as client:
        catalogue_of(sb).not_found = style  # type: ignore[assignment]
        assert await client.kfa.product("93999999") is None
        assert await client.kfa.product("33000151") is None  # a "/" device has no such code
        assert await client.kfa.product("GKL2019999999A1", identifier="nie") is None
        assert await client.kfa.product("45000002", identifier="lkpp") is None  # has none


async def test_the_whole_catalogue_once_in_order_through_faults_and_expiring_tokens() -> None:
    clock = fake_clock()
    options: dict[str, Any] = {"fault_rate": 0.3, "token_ttl": 40.0, "seed": 3, "latency": 0.002}
    async with LocalSandbox(kfa_products=3000, clock=clock, **options) as sb:
        catalogue = catalogue_of(sb)
        async with sb.client(retry=SOAK_RETRY, clock=clock) as client:
            crawl = client.kfa.products(page_size=40, concurrency=4)
            got = []
            async for product in crawl:
                assert isinstance(product, Product)
                got.append((product.kfa_code, product.name))
                if len(got) == 1500:
                    sb.expire_tokens()
        assert got == expected(catalogue, "farmasi", "alkes")
        assert sum(code == "/" for code, _ in got) == 240  # every "/" device (2 in 10 devices)
        stats = crawl.stats
        assert stats.products == 3000 and stats.pages == stats.total_page == 45 + 30
        assert stats.totals == {"farmasi": 1800, "alkes": 1200} and stats.total == 3000
        assert stats.duplicates_skipped == 0 and not stats.possibly_incomplete
        faults = sum(sb.stats.faults_injected.values())
        assert faults > 10 and stats.retries >= faults  # ridden through by retries
        assert sb.stats.token_requests > 2  # tokens expired mid-crawl
        assert 1 < sb.stats.max_in_flight <= 4


async def test_products_inserted_ahead_of_the_cursor_shift_pages_but_each_comes_once() -> None:
    async with LocalSandbox(kfa_products=2000) as sb, sb.client() as client:
        catalogue = catalogue_of(sb)
        originals = expected(catalogue, "alkes")
        crawl = client.kfa.products(product_type="alkes", page_size=50, concurrency=2)
        got = []
        async for product in crawl:
            got.append((product.kfa_code, product.name))
            if len(got) == 120:
                catalogue.add(7, "alkes")  # 7 new devices at the front: every row moves 7 on
        # Pages already in flight were served before the shift; later ones repeat 7 rows.
        assert got == originals
        assert crawl.stats.duplicates_skipped == 7
        assert crawl.stats.totals["alkes"] == 807


async def test_two_slash_devices_of_one_template_are_two_products() -> None:
    async with LocalSandbox(kfa_products=100) as sb, sb.client() as client:
        devices = [p async for p in client.kfa.products(product_type="alkes", page_size=7)]
        slash = [p for p in devices if p.kfa_code == "/"]
        assert len(slash) == 8  # numbers 61, 62, 71, 72, 81, 82, 91, 92
        first, second = slash[0], slash[1]
        assert first.product_template == second.product_template  # one template
        assert product_key(first) != product_key(second)
        assert len({product_key(p) for p in devices}) == len(devices) == 40
        assert second.nie is None and second.manufacturer is None  # as documented
        row = product_row(second)
        assert row["key"] == product_key(second) and row["dosage_form_code"] is None


async def test_early_break_and_aclose_cancel_cleanly() -> None:
    async with LocalSandbox(kfa_products=3000, latency=0.01) as sb, sb.client() as client:
        crawl = client.kfa.products(page_size=20, concurrency=4)
        async with crawl:
            async for _product in crawl:
                if crawl.stats.products >= 30:
                    break
        assert not other_tasks()
        assert sb.stats.requests_by_path["GET /kfa-v2/products/all"] <= 2 + 8
        pages = client.kfa.pages(product_type="farmasi", page_size=20)
        async with contextlib.aclosing(pages):
            page = await pages.__anext__()
            assert page.product_type == "farmasi" and page.page == 1 and len(page.data) == 20
        assert not other_tasks()
        with pytest.raises(StopAsyncIteration):
            await pages.__anext__()


async def test_resume_from_a_type_and_page_with_the_keys_already_delivered() -> None:
    async with LocalSandbox(kfa_products=1000) as sb, sb.client() as client:
        catalogue = catalogue_of(sb)
        every = expected(catalogue, "farmasi", "alkes")
        first = client.kfa.pages(page_size=100)
        delivered: list[str] = []
        async with first:
            async for page in first:
                delivered.extend(k for k in map(product_key, page.data) if k is not None)
                if first.stats.product_type == "alkes" and page.page == 2:
                    break
        position = (first.stats.product_type, first.stats.next_page)
        assert position == ("alkes", 3)
        rest = client.kfa.products(start_type="alkes", start_page=2, seen=delivered)
        got = [(p.kfa_code, p.name) async for p in rest]
        assert got == every[600 + 200 :]  # page 2 again: its rows skipped as seen
        assert rest.stats.duplicates_skipped == 100


async def test_filters_are_sent_and_applied() -> None:
    async with LocalSandbox(kfa_products=1000) as sb, sb.client() as client:
        catalogue = catalogue_of(sb)
        vaccines = [p async for p in client.kfa.products(farmalkes_type="vaccine")]
        assert vaccines and all(p.farmalkes_type.code == "vaccine" for p in vaccines)  # type: ignore[union-attr]
        assert len(vaccines) == len(catalogue.numbers("farmasi", _where(farmalkes_type="vaccine")))
        one = [p async for p in client.kfa.products(template_code="92000010")]
        assert [p.kfa_code for p in one] == ["93000040", "93000041", "93000042", "93000043"]
        pack = [p async for p in client.kfa.products(packaging_code="84000700")]
        assert [p.kfa_code for p in pack] == ["33000700"]
        dated = client.kfa.products(
            product_type="farmasi", from_date="2023-01-01", to_date="2023-06-30"
        )
        got = [p async for p in dated]
        assert got and all("2023-01-01" <= (p.updated_at or "")[:10] <= "2023-06-30" for p in got)
        found = [p async for p in client.kfa.products(keyword="paracetamol")]
        assert found and all("paracetamol" in (p.name or "").lower() for p in found)


def _where(**filters: Any) -> Any:
    from satusehat_async.sandbox.kfa_catalogue import ProductFilter

    return ProductFilter(**filters)


async def test_jkn_prices_every_page_and_by_region() -> None:
    async with LocalSandbox(kfa_products=200) as sb, sb.client() as client:
        before = sb.stats.requests_by_path["GET /kfa/farmalkes-price-jkn"]
        rows = await client.kfa.prices("92000000", page_size=5)  # template 0: two decrees
        assert len(rows) == 12 and len({(r.region_code, r.document_ref) for r in rows}) == 12
        assert sb.stats.requests_by_path["GET /kfa/farmalkes-price-jkn"] - before == 3
        assert all(isinstance(r.price_unit, float) for r in rows)
        assert rows[0].province and rows[0].province[0].province_code == "31"
        regional = await client.kfa.prices("93000005", region_code="regional3")
        assert [r.region_code for r in regional] == ["regional3"]
        assert regional[0].kfa_code == "92000001" and regional[0].end_date is None
        assert await client.kfa.prices("33000150") == []


BAD_PRODUCT_CALLS: list[dict[str, Any]] = [
    {"code": "93000004", "identifier": "bpom"},
    {"code": "/"},
    {"code": "9300"},
    {"code": 93000004},
    {"code": "93000004&x=1"},
    {"code": "G", "identifier": "nie"},
    {"code": "45-1", "identifier": "lkpp"},
]
BAD_CRAWLS: list[dict[str, Any]] = [
    {"product_type": "obat"},
    {"page_size": 0},
    {"page_size": 1001},
    {"page_size": True},
    {"concurrency": 0},
    {"start_page": 0},
    {"from_date": "2023-13-01"},
    {"to_date": "01-02-2023"},
    {"from_date": "2024-01-02", "to_date": "2024-01-01"},
    {"template_code": "93000004"},
    {"packaging_code": "94x"},
    {"keyword": ""},
    {"keyword": "a\nb"},
    {"farmalkes_type": "Medicine!"},
    {"seen": "93000004"},
    {"seen": [93000004]},
    {"product_type": "farmasi", "start_type": "alkes"},
]


async def test_bad_input_is_refused_before_anything_is_sent() -> None:
    async with LocalSandbox(kfa_products=50) as sb, sb.client() as client:
        await client.kfa.product("93000004")  # the token is held: nothing else to send
        sent = sb.stats.requests
        for call in BAD_PRODUCT_CALLS:
            with pytest.raises(ValidationError):
                await client.kfa.product(**call)
        for crawl in BAD_CRAWLS:
            with pytest.raises(ValidationError):
                client.kfa.products(**crawl)
            with pytest.raises(ValidationError):
                client.kfa.pages(**crawl)
        for kfa_code, region in [("9200000", None), ("92000000", "regional7"), (None, None)]:
            with pytest.raises(ValidationError):
                await client.kfa.prices(kfa_code, region)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await client.kfa.prices("92000000", page_size=0)
        assert sb.stats.requests == sent


async def test_the_sandbox_refuses_a_bad_query_as_fastapi_does() -> None:
    async with LocalSandbox(kfa_products=50) as sb, sb.client() as client:
        with pytest.raises(BadRequestError) as caught:
            await client.request("GET", "/kfa-v2/products/all", params={"page": "x", "size": 5000})
        assert caught.value.status == 422
        detail = caught.value.body["detail"]  # type: ignore[index]
        assert [d["loc"] for d in detail] == [
            ["query", "page"],
            ["query", "size"],
            ["query", "product_type"],
        ]
        assert detail[2] == {
            "loc": ["query", "product_type"],
            "msg": "field required",
            "type": "value_error.missing",
        }
        with pytest.raises(BadRequestError):
            await client.request("GET", "/kfa-v2/products", params={"identifier": "x", "code": "1"})
        with pytest.raises(BadRequestError):
            await client.request("GET", "/kfa/products/farmalkes-price-jkn", params={"page": 1})
        answer = await client.request(
            "GET",
            "/kfa/products/farmalkes-price-jkn",
            params={"page": 1, "limit": 2, "kfa_code": "92000000"},
        )
        assert answer["total"] == 12 and len(answer["items"]["data"]) == 2


async def test_a_warmed_catalogue_serves_the_same_pages() -> None:
    async with LocalSandbox(kfa_products=300) as sb, sb.client() as client:
        cold = [p async for p in client.kfa.products(page_size=33)]
        catalogue_of(sb).warm()  # what the benchmark's server does
        warm = [p async for p in client.kfa.products(page_size=33)]
        assert warm == cold and len(cold) == 300
