"""Serve the embedded sandbox's KFA catalogue from its own process, for ``bench_kfa.py``.

    python benchmarks/kfa_sandbox_server.py --products 60000 --latency 0.05

The catalogue's list records are encoded once at start (``KfaCatalogue.warm``), so a page
costs the server a join, not a draw: the client's time is what is measured. Prints
``READY <base_url>`` on stdout once listening; end of input stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from satusehat_async.sandbox.kfa_catalogue import catalogue_of
from satusehat_async.testing import LocalSandbox


async def serve(products: int, seed: int, latency: float) -> None:
    async with LocalSandbox(facilities=0, kfa_products=products, seed=seed, latency=latency) as sb:
        catalogue_of(sb).warm()
        print(f"READY {sb.base_url}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            print("OK", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(serve(args.products, args.seed, args.latency))


if __name__ == "__main__":
    main()
