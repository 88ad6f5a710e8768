"""The KFA client against scripted answers (MockBackend): the documented quirky shapes,
repair, "/" identity, paging by item count, not-found answers and error answers."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from _support import RecordingSleep

from satusehat_async import RetryPolicy, SatuSehatClient
from satusehat_async.errors import BadRequestError, NotFoundError
from satusehat_async.http import BackendRequest
from satusehat_async.kfa import CSV_COLUMNS, Product, parse_timestamp, product_key, product_row
from satusehat_async.kfa.decode import decode_detail, decode_price_page, decode_product_page
from satusehat_async.testing import MockBackend

BASE = "https://kfa.test"
TOKEN = {"access_token": "tok", "expires_in": "3600"}

# The documented detail (reference §6.2), trimmed.
DETAIL: dict[str, Any] = {
    "search_code": "93015993",
    "search_identifier": "kfa",
    "result": {
        "name": "Abacavir Sulfate 300 mg Tablet Salut Selaput (KIMIA FARMA)",
        "kfa_code": "93015993",
        "active": True,
        "updated_at": "2023-09-21 07:17:24",
        "farmalkes_type": {"code": "medicine", "name": "Obat", "group": "farmasi"},
        "dosage_form": {"code": "BS077", "name": "Tablet Salut Selaput"},
        "nie": "GKL2012431917A1",
        "fix_price": 7215.0,
        "het_price": 13297,
        "dose_per_unit": 1,
        "kode_lkpp": "45463910",
        "atc_l1": {"name": "ANTIINFECTIVES", "code": "J", "level": "1", "parent_code": False},
        "atc_l5": {"name": "Abacavir", "code": "J05AF06", "level": "5", "parent_code": "J05AF"},
        "packaging_ids": [
            {
                "name": "Dus isi 60",
                "kfa_code": "94021264",
                "pack_price": 0.0,
                "uom_id": "Tablet",
                "qty": 60.0,
            }
        ],
        "product_template": {"kfa_code": "92000888", "name": "Abacavir Sulfate 300 mg"},
        "active_ingredients": [
            {"kfa_code": "91000651", "zat_aktif": "Abacavir", "kekuatan_zat_aktif": "300 mg"}
        ],
        "dosage_usage": [],
        "cvx_info": {},
        "replacement": {"product": None, "template": None},
        "a_field_from_the_future": {"x": 1},
    },
}


def device(name: str, template: str = "82002082", **extra: Any) -> dict[str, Any]:
    """A documented list item of a device without a variant code (§6.3)."""
    return {
        "name": name,
        "kfa_code": "/",
        "nie": None,
        "manufacturer": None,
        "fix_price": 8000,
        "farmalkes_type": {"code": "device", "name": "Alat Kesehatan", "group": "alkes"},
        "dosage_form": {"code": False, "name": False},
        "product_template": {"kfa_code": template, "name": "IV Catheter"},
        **extra,
    }


def client_for(handler: Any) -> SatuSehatClient:
    async def answer(request: BackendRequest) -> Any:
        if request.url.startswith(BASE + "/oauth2/"):
            return 200, {}, TOKEN
        return handler(request)

    return SatuSehatClient(
        "cid",
        "csecret",
        base_url=BASE,
        backend=MockBackend(answer),
        retry=RetryPolicy(max_attempts=3, jitter=None),
        sleep=RecordingSleep(),
        circuit_breaker=None,
    )


def test_the_documented_detail_decodes_with_its_quirks() -> None:
    product = decode_detail(msgspec.json.encode(DETAIL))
    assert product is not None and product.kfa_code == "93015993"
    assert product.atc_l1 is not None and product.atc_l1.parent_code is False
    assert product.atc_l1.level == "1" and product.atc_l5.parent_code == "J05AF"  # type: ignore[union-attr]
    assert product.het_price == 13297.0 and isinstance(product.het_price, float)
    assert product.packaging_ids[0].qty == 60.0  # type: ignore[index]
    assert parse_timestamp(product.updated_at) is not None
    assert parse_timestamp(product.updated_at).hour == 7  # type: ignore[union-attr]
    assert parse_timestamp("not a time") is None and parse_timestamp(None) is None
    assert product_key(product) == "93015993"


def test_a_record_that_does_not_fit_is_repaired_not_lost() -> None:
    page = {
        "total": 3,
        "page": 1,
        "size": 10,
        "items": {
            "data": [
                {"name": "ok", "kfa_code": "93000001"},
                {
                    "name": "odd",
                    "kfa_code": 93000002,
                    "fix_price": "mahal",
                    "tags": "x",
                    "packaging_ids": [{"kfa_code": 94000002, "qty": "n/a"}, 7],
                },
                "not an object",
            ]
        },
    }
    decoded, repaired = decode_product_page(msgspec.json.encode(page))
    assert repaired == 2 and [p.kfa_code for p in decoded.data] == ["93000001", "93000002"]
    odd = decoded.data[1]
    assert odd.fix_price is None and odd.tags is None
    assert odd.packaging_ids is not None and odd.packaging_ids[0].kfa_code == "94000002"
    prices, _ = decode_price_page(b'{"total":1,"items":{"data":[{"price_unit":"x"}]}}'), 0
    assert prices.data[0].price_unit is None


def test_product_key_of_slash_devices_and_the_csv_row() -> None:
    a, b = (msgspec.convert(device(n), Product) for n in ("IV Catheter 22G", "IV Catheter 24G"))
    assert product_key(a) != product_key(b) and product_key(a).startswith('["/"')  # type: ignore[union-attr]
    assert product_key(a) == product_key(msgspec.convert(device("IV Catheter 22G"), Product))
    assert product_key(Product(kfa_code="/")) is None  # nothing to tell it apart
    row = product_row(a)
    assert tuple(row) == CSV_COLUMNS
    assert row["dosage_form_code"] is None and row["template_code"] == "82002082"
    assert row["fix_price"] == 8000.0 and row["product_type"] == "alkes"


async def test_pages_follow_the_item_count_and_repeats_are_delivered_once() -> None:
    # 5 items in pages of 2: 3 pages. Page 2 repeats page 1's last "/" device (an offset
    # shift) and holds a second, distinct "/" device of the same template.
    pages = {
        1: [{"kfa_code": "33000001", "name": "a"}, device("Catheter 22G")],
        2: [device("Catheter 22G"), device("Catheter 24G")],
        3: [{"kfa_code": "33000005", "name": "e"}],
    }
    asked: list[dict[str, str]] = []

    def handler(request: BackendRequest) -> Any:
        assert request.url.split("?")[0] == BASE + "/kfa-v2/products/all"
        query = dict(request.query)
        asked.append(query)
        page = int(query["page"])
        return 200, {"total": 5, "page": page, "size": 2, "items": {"data": pages[page]}}

    async with client_for(handler) as client:
        crawl = client.kfa.products(product_type="alkes", page_size=2, keyword="catheter")
        names = [p.name async for p in crawl]
    assert names == ["a", "Catheter 22G", "Catheter 24G", "e"]
    assert crawl.stats.duplicates_skipped == 1 and crawl.stats.total_page == 3
    assert [q["page"] for q in asked] == ["1", "2", "3"]
    assert asked[0] == {"page": "1", "size": "2", "product_type": "alkes", "keyword": "catheter"}


@pytest.mark.parametrize(
    ("status", "body", "found"),
    [
        (200, {"search_code": "93000001", "result": {}}, None),
        (200, {"search_code": "93000001", "result": None}, None),
        (200, {"search_code": "93000001"}, None),
        (200, {"result": "nothing"}, None),
        (404, {"detail": "product not found"}, None),
        (200, DETAIL, "93015993"),
    ],
)
async def test_not_found_shapes(status: int, body: Any, found: str | None) -> None:
    async with client_for(lambda request: (status, body)) as client:
        product = await client.kfa.product("93000001")
    assert (product.kfa_code if product is not None else None) == found


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, b"", NotFoundError),  # a wrong URL: empty body
        (404, {"detail": "Not Found"}, NotFoundError),  # FastAPI's unknown route
        (404, {"fault": {"faultstring": "x"}}, NotFoundError),
        (422, {"detail": [{"loc": ["query", "code"], "msg": "field required"}]}, BadRequestError),
    ],
)
async def test_error_answers_raise(status: int, body: Any, error: type[Exception]) -> None:
    async with client_for(lambda request: (status, body)) as client:
        with pytest.raises(error):
            await client.kfa.product("93000001")


async def test_prices_follow_page_and_limit_to_the_end() -> None:
    rows = [
        {"kfa_code": "92000372", "region_code": f"regional{n}", "price_unit": 848}
        for n in range(1, 7)
    ]

    def handler(request: BackendRequest) -> Any:
        query = request.query
        assert request.url.split("?")[0] == BASE + "/kfa/farmalkes-price-jkn"
        page, limit = int(query["page"]), int(query["limit"])
        data = rows[(page - 1) * limit : page * limit]
        return 200, {"total": 6, "page": page, "limit": limit, "items": {"data": data}}

    async with client_for(handler) as client:
        got = await client.kfa.prices("92000372", page_size=4)
    assert [r.region_code for r in got] == [f"regional{n}" for n in range(1, 7)]
    assert got[0].price_unit == 848.0
