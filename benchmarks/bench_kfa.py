"""Benchmark: the whole KFA catalogue crawled with ``client.kfa.products()``.

    python benchmarks/bench_kfa.py            # 60,000 products, 50 ms latency, 5 pairs
    python benchmarks/bench_kfa.py --quick    # 10,000 products, 2 pairs

The sandbox serves the catalogue from a process of its own (``kfa_sandbox_server.py``,
records encoded at start) with a fixed latency per request; every crawl runs in a fresh
child process (``kfa_bench_client.py``). Two measures:

* latency-bound time: ``ours`` against the ideal ``ceil(pages / concurrency) x latency``,
  in interleaved pairs with ``floor`` (a hand-written aiohttp loop scheduling every page
  of a type at once under the same semaphore); medians, min and max. Target: ours
  within 1.15x of the ideal. (Each product type's first page is fetched alone, since it
  tells the type's total: two round trips the ideal does not count.)
* client memory as the catalogue grows: tracemalloc's peak and the peak RSS of a crawl
  of a small and a big catalogue (10,000 vs 60,000 products; 2,000 vs 10,000 quick).
  Target: flat (only the set of product keys grows with the catalogue).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = str(HERE / "kfa_sandbox_server.py")
CLIENT = str(HERE / "kfa_bench_client.py")


class Server:
    """The sandbox in a child process (stopped by closing its stdin)."""

    def __init__(self, products: int, latency: float) -> None:
        argv = [sys.executable, SERVER, "--products", str(products), "--latency", str(latency)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"sandbox did not start: {line}")
        self.url = line[1]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def crawl(
    variant: str, url: str, concurrency: int, page_size: int, trace: bool = False
) -> dict[str, Any]:
    argv = [sys.executable, CLIENT, variant, url, "--concurrency", str(concurrency),
            "--page-size", str(page_size)] + (["--trace"] if trace else [])  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f}  (min {min(values):.3f}, max {max(values):.3f})"


def latency_bound(
    products: int, latency: float, concurrency: int, page_size: int, pairs: int
) -> None:
    server = Server(products, latency)
    try:
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": []}
        for _ in range(pairs):
            for variant in ("ours", "floor"):
                runs[variant].append(crawl(variant, server.url, concurrency, page_size))
    finally:
        server.close()
    pages = runs["ours"][0]["pages"]
    ideal = math.ceil(pages / concurrency) * latency
    shape = f"{pages} pages of {page_size}, concurrency {concurrency}"
    print(
        f"\nlatency-bound: {products} products, {shape}, latency {latency * 1000:.0f} ms; "
        f"ideal {ideal:.3f} s"
    )
    for variant, results in runs.items():
        assert all(r["products"] == products for r in results), results
        times = [r["elapsed"] for r in results]
        ratios = [t / ideal for t in times]
        print(f"  {variant:6} time {spread(times)} s   vs ideal {spread(ratios)}")


def memory(sizes: tuple[int, int], concurrency: int, page_size: int) -> None:
    print("\nclient memory while crawling (ours; latency 0):")
    for products in sizes:
        server = Server(products, 0.0)
        try:
            result = crawl("ours", server.url, concurrency, page_size, trace=True)
        finally:
            server.close()
        assert result["products"] == products, result
        print(f"  {products:7} products: tracemalloc peak {result['peak_traced'] / 2**20:6.2f} MiB,"
              f"  peak RSS {result['max_rss'] / 2**20:6.1f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--products", type=int)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--pairs", type=int)
    args = parser.parse_args()
    products = args.products or (10_000 if args.quick else 60_000)
    pairs = args.pairs or (2 if args.quick else 5)
    latency_bound(products, args.latency, args.concurrency, args.page_size, pairs)
    sizes = (2_000, 10_000) if args.quick else (10_000, 60_000)
    memory(sizes, args.concurrency, args.page_size)


if __name__ == "__main__":
    main()
