"""Issue 14: field projection (``model=``) and the batch form, through the crawl.

A caller's msgspec Struct with only the fields it reads: decoded straight into it (a
cached decoder; the repair path too), deduplicated and resumed by ``kode_satusehat``
while the registry moves under the crawl; a model the crawl cannot use is refused before
anything is sent. ``stream.batches()`` yields each page's new rows as one list.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import pytest
from test_msi_pager import URL, FakeServer, client_for, rows

from satusehat_async.errors import ValidationError
from satusehat_async.msi import FacilityPage, FacilityPages, FacilityQuery, FacilityStream
from satusehat_async.msi.decode import decode_page, page_decoder


class Slim(msgspec.Struct, kw_only=True, gc=False):
    kode_satusehat: str | None = None
    nama: str | None = None


class Province(msgspec.Struct, kw_only=True):
    kode: str | None = None


class WithPlace(msgspec.Struct, kw_only=True):
    kode_satusehat: str | None = None
    provinsi: Province | None = None
    latitude: float | None = None
    longitude: float | None = None


def crawl(server: FakeServer, model: Any, **kwargs: Any) -> FacilityPages[Any]:
    kwargs.setdefault("start_page", 1)
    kwargs.setdefault("page_size", 10)
    kwargs.setdefault("concurrency", 3)
    return FacilityPages(
        client_for(server).context, URL, FacilityQuery.build(), model=model, **kwargs
    )


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_projection_is_crawled_deduplicated_through_an_offset_shift() -> None:
    data = rows(30)
    server = FakeServer(data)

    def shift(page: int) -> None:
        if page == 2:  # inserted at the front after page 1 was served: F9 is repeated
            data.insert(0, rows(1, start=500)[0])

    server.before_answer = shift
    server.delay = lambda p: 0.0 if p < 2 else 0.01 * p
    stream = FacilityStream(crawl(server, Slim, concurrency=1))
    got = [f async for f in stream]
    assert all(type(f) is Slim for f in got)
    assert [f.nama for f in got] == [f"F{i}" for i in range(30)]
    assert stream.stats.duplicates_skipped == 1 and stream.stats.facilities == 30
    assert stream.pages.model is Slim


async def test_a_projection_resumes_with_seen_codes() -> None:
    server = FakeServer(rows(25))
    pages = crawl(server, Slim, seen=["1000000000", "1000000024"], start_page=1)
    got = [f.kode_satusehat async for page in pages for f in page.facilities]
    assert len(got) == 23 and "1000000000" not in got and "1000000001" in got
    assert pages.stats.duplicates_skipped == 2


async def test_a_projection_is_repaired_not_lost() -> None:
    data = rows(12)
    data[3] = {"kode_satusehat": 1000000003, "provinsi": "not an object", "latitude": "x"}
    data[4] = {"kode_satusehat": "1000000004", "latitude": 106.8, "longitude": -6.2}
    stream = FacilityStream(crawl(FakeServer(data), WithPlace))
    got = [f async for f in stream]
    # every row but data[4] is repaired: rows() sends the province code as a number
    assert len(got) == 12 and stream.stats.repaired_records == 11
    assert got[3].kode_satusehat == "1000000003" and got[3].provinsi is None
    assert (got[4].latitude, got[4].longitude) == (-6.2, 106.8)  # swapped pair put back
    assert got[0].provinsi == Province(kode="32")


class NoIdentity(msgspec.Struct):
    nama: str | None = None


class Required(msgspec.Struct, kw_only=True):
    kode_satusehat: str | None = None
    nama: str  # no default: a record without it could not be decoded


class IntIdentity(msgspec.Struct):
    kode_satusehat: int | None = None


class ArrayLike(msgspec.Struct, array_like=True):
    kode_satusehat: str | None = None


class NestedRequired(msgspec.Struct):
    kode_satusehat: str | None = None
    provinsi: Required | None = None


@pytest.mark.parametrize(
    "model", [NoIdentity, Required, IntIdentity, ArrayLike, NestedRequired, dict, "Slim"]
)
async def test_a_model_the_crawl_cannot_use_is_refused_before_sending(model: Any) -> None:
    server = FakeServer(rows(5))
    with pytest.raises(ValidationError):
        crawl(server, model)
    assert server.requested == []


async def test_batches_are_each_pages_new_rows_without_a_step_per_row() -> None:
    data = rows(45)
    data[20] = dict(data[2])  # a repeat on page 3
    server = FakeServer(data)
    stream = FacilityStream(crawl(server, None))
    first = await stream.__anext__()  # a row taken first: the rest of page 1 comes first
    batches = [batch async for batch in stream.batches()]
    assert first.kode_satusehat == "1000000000"
    assert [len(b) for b in batches] == [9, 10, 9, 10, 5]
    codes = [first.kode_satusehat] + [f.kode_satusehat for b in batches for f in b]
    assert codes == [r["kode_satusehat"] for i, r in enumerate(data) if i != 20]
    assert stream.stats.duplicates_skipped == 1 and not other_tasks()


async def test_breaking_out_of_batches_cancels_the_crawl() -> None:
    server = FakeServer(rows(1000), delay=lambda p: 0.0 if p == 1 else 10.0)
    stream = FacilityStream(crawl(server, Slim, concurrency=4))
    async with contextlib.aclosing(stream), stream.batches() as batches:
        async for batch in batches:
            assert type(batch[0]) is Slim
            await asyncio.sleep(0.01)
            break
    assert not other_tasks() and sorted(server.cancelled) == [2, 3, 4, 5]


def test_decoders_are_cached_per_model_and_pages_are_typed_by_it() -> None:
    assert page_decoder(Slim) is page_decoder(Slim) and page_decoder() is page_decoder(None)
    body = msgspec.json.encode({"total_page": 1, "data": rows(2)})
    page, _ = decode_page(body, model=Slim)
    assert isinstance(page, FacilityPage) and type(page.facilities[0]) is Slim
