"""Serve the embedded sandbox from its own process, for benchmarks measuring a client alone.

    python benchmarks/msi_sandbox_server.py --facilities 200000

Prints ``READY <base_url>`` on stdout once listening. Reads commands on stdin, one per
line: ``latency <seconds>`` changes the per-request latency (answers ``OK``); end of input
stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from satusehat_async.testing import Sandbox


async def serve(facilities: int, seed: int, latency: float) -> None:
    async with Sandbox(facilities=facilities, seed=seed, latency=latency) as sb:
        print(f"READY {sb.base_url}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command, _, value = line.strip().partition(" ")
            if command == "latency":
                sb.latency = float(value)
            elif command == "stats":
                print(f"max_in_flight={sb.stats.max_in_flight}", flush=True)
                sb.reset_stats()
                continue
            print("OK", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.facilities, args.seed, args.latency))


if __name__ == "__main__":
    main()
