"""One catalogue crawl in a fresh process (for ``bench_kfa.py``): prints a JSON line.

    python benchmarks/kfa_bench_client.py ours URL --concurrency 4 --page-size 100

``ours`` is ``client.kfa.products()`` (every type); ``floor`` is a hand-written aiohttp
loop (all pages of a type scheduled at once under a semaphore, the same msgspec decode of
each product): the overhead floor. Times start once the client holds a token and one
warm-up request is done. ``peak_traced`` is tracemalloc's peak (the Python heap of the
crawl), ``max_rss`` the process's peak resident size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import tracemalloc

import aiohttp
import msgspec

from satusehat_async import SatuSehatClient
from satusehat_async.kfa import Product, ProductPage

_decode = msgspec.json.Decoder(ProductPage, strict=False).decode


async def ours(url: str, concurrency: int, page_size: int, trace: bool) -> dict[str, object]:
    async with SatuSehatClient("sandbox", "sandbox", base_url=url) as client:
        await client.kfa.product("93000001")  # token and a warm connection
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        crawl = client.kfa.products(page_size=page_size, concurrency=concurrency)
        count = 0
        async for product in crawl:
            count += product.kfa_code is not None
        elapsed = time.perf_counter() - start
        return {"elapsed": elapsed, "products": count, "pages": crawl.stats.pages}


async def _type_floor(
    session: aiohttp.ClientSession,
    url: str,
    kind: str,
    size: int,
    concurrency: int,
    headers: dict[str, str],
) -> tuple[int, int]:
    async def page(n: int) -> ProductPage:
        params = {"page": n, "size": size, "product_type": kind}
        async with semaphore, session.get(url, params=params, headers=headers) as answer:
            return _decode(await answer.read())

    semaphore = asyncio.Semaphore(concurrency)
    first = await page(1)
    pages = -(-(first.total or 0) // size)
    rest = await asyncio.gather(*(page(n) for n in range(2, pages + 1)))
    count = sum(isinstance(p, Product) for pg in (first, *rest) for p in pg.data)
    return count, pages


async def floor(url: str, concurrency: int, page_size: int, trace: bool) -> dict[str, object]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        form = {"client_id": "sandbox", "client_secret": "sandbox"}
        token_url = url + "/oauth2/v1/accesstoken?grant_type=client_credentials"
        async with session.post(token_url, data=form) as answer:
            token = (await answer.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        products_url = url + "/kfa-v2/products/all"
        warm = {"page": 1, "size": 1, "product_type": "farmasi"}
        async with session.get(products_url, params=warm, headers=headers) as answer:
            await answer.read()
        if trace:
            tracemalloc.start()
        start = time.perf_counter()
        count = pages = 0
        for kind in ("farmasi", "alkes"):
            c, p = await _type_floor(session, products_url, kind, page_size, concurrency, headers)
            count, pages = count + c, pages + p
        return {"elapsed": time.perf_counter() - start, "products": count, "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("variant", choices=["ours", "floor"])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--trace", action="store_true", help="measure tracemalloc's peak")
    args = parser.parse_args()
    run = ours if args.variant == "ours" else floor
    result = asyncio.run(run(args.url, args.concurrency, args.page_size, args.trace))
    if args.trace:
        result["peak_traced"] = tracemalloc.get_traced_memory()[1]
    result["max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
