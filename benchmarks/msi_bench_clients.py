"""The crawlers compared by ``bench_msi_crawl.py``; each run is a child process of its own.

    python benchmarks/msi_bench_clients.py VARIANT BASE_URL [--concurrency N] [--max-facilities N]

Variants: ``ours`` (``client.msi.facilities``, one facility at a time), ``ours-batches``
(the same crawl, ``.batches()``: a page's list at a time), ``ours-slim`` (batches of a
two-field projection, ``model=``), ``aiohttp`` (a hand-written aiohttp + msgspec loop
with a semaphore, every field decoded into tuned Structs, the same per-crawl dedupe with
int keys in a set), ``aiohttp-min`` (the same loop decoding only the fields the work
needs: the absolute floor) and
``requests`` (a sequential ``requests`` + ``json`` loop, what integrators write today).
Every variant does the same per-record work (count facilities per province) and prints
one JSON line: elapsed seconds (after the token is obtained), pages, facilities, a digest
of the counts, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import sys
import time
from collections import Counter, deque
from typing import Any

import msgspec

JENIS = ["101", "102", "103", "104"]
PAGE_SIZE = 2000
MSI = "/masterdata/v1/mastersaranaindex/mastersarana"
TOKEN = "/oauth2/v1/accesstoken"
CREDENTIALS = {"client_id": "sandbox", "client_secret": "sandbox"}


def _params(page: int) -> list[tuple[str, str]]:
    return [("limit", str(PAGE_SIZE)), ("page", str(page))] + [("jenis_sarana", j) for j in JENIS]


# -- ours --------------------------------------------------------------------------------


class SlimRegion(msgspec.Struct, kw_only=True, gc=False):
    kode: str | None = None


class SlimFacility(msgspec.Struct, kw_only=True, gc=False):
    """The two fields the work reads: a projection (``model=``)."""

    kode_satusehat: str | None = None
    provinsi: SlimRegion | None = None


async def ours(base: str, concurrency: int, limit: int | None, form: str) -> dict[str, Any]:
    """``form``: ``rows`` (one facility at a time), ``batches`` (a page's list at a time)
    or ``slim`` (batches of the two-field projection)."""
    from satusehat_async import SatuSehatClient
    from satusehat_async.msi import MSI, FacilityPages, FacilityQuery, FacilityStream

    async with SatuSehatClient("sandbox", "sandbox", base_url=base) as client:
        assert isinstance(client.msi, MSI)
        await client.get_token()
        started, cpu = time.perf_counter(), time.process_time()
        counts: Counter[str | None] = Counter()
        model = SlimFacility if form == "slim" else None
        crawl: Any = FacilityStream(
            FacilityPages(
                client.context,
                client.msi.url,
                FacilityQuery.build(jenis_sarana=JENIS),
                page_size=PAGE_SIZE,
                concurrency=concurrency,
                start_page=1,
                model=model,
            )
        )
        seen = 0
        async with crawl:
            if form == "rows":
                async for facility in crawl:
                    provinsi = facility.provinsi
                    counts[provinsi.kode if provinsi is not None else None] += 1
                    seen += 1
                    if seen == limit:
                        break
            else:
                async for batch in crawl.batches():
                    for facility in batch:
                        provinsi = facility.provinsi
                        counts[provinsi.kode if provinsi is not None else None] += 1
                    seen += len(batch)
                    if limit is not None and seen >= limit:
                        break
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return _result(elapsed, cpu, crawl.stats.pages, counts)


# -- hand-written aiohttp + msgspec, Structs tuned per msgspec's performance tips ---------


class Region(msgspec.Struct, kw_only=True, gc=False):
    kode: str | None = None
    nama: str | None = None
    kode_bps: str | None = None
    kode_lama: str | None = None


class Kind(msgspec.Struct, kw_only=True, gc=False):
    kode: str | None = None
    nama: str | None = None
    nama_alt: str | None = None


class Klass(msgspec.Struct, kw_only=True, gc=False):
    kode: str | None = None
    nama: str | None = None


class Parent(msgspec.Struct, kw_only=True, gc=False):
    kode: str | None = None
    nama: str | None = None
    kode_sarana: str | None = None
    status_aktif: bool | None = None
    status_sarana: str | None = None


class Facility(msgspec.Struct, kw_only=True, gc=False):
    kode_satusehat: str | None = None
    kode_sarana: str | None = None
    nama: str | None = None
    telp: str | None = None
    email: str | None = None
    website: str | None = None
    longitude: float | str | None = None
    latitude: float | str | None = None
    operasional: bool | None = None
    wilayah_perairan_darat: str | None = None
    wilayah_karakteristik: str | None = None
    sarana_administrasi: Parent | None = None
    alamat: str | None = None
    provinsi: Region | None = None
    kabkota: Region | None = None
    jenis_sarana: Kind | None = None
    subjenis: Kind | None = None
    kelas_sarana: Klass | None = None
    status_sarana: str | None = None
    status_aktif: bool | None = None


class Page(msgspec.Struct, kw_only=True, gc=False):
    total_page: int
    data: list[Facility]


class MinRegion(msgspec.Struct, gc=False):
    kode: str | None = None


class MinFacility(msgspec.Struct, gc=False):
    kode_satusehat: str | None = None
    provinsi: MinRegion | None = None


class MinPage(msgspec.Struct, gc=False):
    total_page: int
    data: list[MinFacility]


async def handwritten(base: str, concurrency: int, minimal: bool) -> dict[str, Any]:
    import aiohttp

    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(MinPage if minimal else Page)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        async with session.post(
            base + TOKEN, params={"grant_type": "client_credentials"}, data=CREDENTIALS
        ) as answer:
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        semaphore = asyncio.Semaphore(concurrency)
        started, cpu = time.perf_counter(), time.process_time()

        async def fetch(page: int) -> Any:
            async with (
                semaphore,
                session.get(base + MSI, params=_params(page), headers=headers) as r,
            ):
                r.raise_for_status()
                body = await r.read()
            return decoder.decode(body)

        counts: Counter[str | None] = Counter()
        seen: set[int] = set()

        def work(page: Any) -> None:
            # The same per-crawl dedupe as ours, with int keys (all codes are 10 digits).
            keys = list(map(int, [f.kode_satusehat for f in page.data]))
            if not seen.isdisjoint(keys):
                raise RuntimeError("a repeated facility: not expected here")
            seen.update(keys)
            for facility in page.data:
                provinsi = facility.provinsi
                counts[provinsi.kode if provinsi is not None else None] += 1

        first = await fetch(1)
        work(first)
        tasks = deque(asyncio.create_task(fetch(n)) for n in range(2, first.total_page + 1))
        total = first.total_page
        del first
        while tasks:  # in page order, like the crawl; each page is released once processed
            work(await tasks.popleft())
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return _result(elapsed, cpu, total, counts)


# -- sequential requests + json ------------------------------------------------------------


def sequential(base: str) -> dict[str, Any]:
    import requests

    with requests.Session() as session:
        answer = session.post(
            base + TOKEN, params={"grant_type": "client_credentials"}, data=CREDENTIALS
        )
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        started, cpu = time.perf_counter(), time.process_time()
        counts: Counter[str | None] = Counter()
        page, total = 1, 1
        while page <= total:
            r = session.get(base + MSI, params=_params(page), headers=headers, timeout=60)
            r.raise_for_status()
            body = json.loads(r.content)
            total = body["total_page"]
            for facility in body["data"]:
                provinsi = facility.get("provinsi") or {}
                counts[provinsi.get("kode")] += 1
            page += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return _result(elapsed, cpu, total, counts)


def _result(elapsed: float, cpu: float, pages: int, counts: Counter[str | None]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(sorted(counts.items(), key=str)).encode()).hexdigest()
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "pages": pages,
        "facilities": sum(counts.values()),
        "digest": digest[:12],
        # Linux reports ru_maxrss in KiB.
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "variant",
        choices=["ours", "ours-batches", "ours-slim", "aiohttp", "aiohttp-min", "requests"],
    )
    parser.add_argument("base_url")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-facilities", type=int)
    args = parser.parse_args()
    if args.variant.startswith("ours"):
        form = {"ours": "rows", "ours-batches": "batches", "ours-slim": "slim"}[args.variant]
        result = asyncio.run(ours(args.base_url, args.concurrency, args.max_facilities, form))
    elif args.variant.startswith("aiohttp"):
        minimal = args.variant == "aiohttp-min"
        result = asyncio.run(handwritten(args.base_url, args.concurrency, minimal))
    else:
        result = sequential(args.base_url)
    json.dump({"variant": args.variant, **result}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
