"""Benchmark: a full MSI crawl with ``client.msi`` against the obvious alternatives.

    python benchmarks/bench_msi_crawl.py            # about a minute and a half on 2 cores

The sandbox runs in a process of its own (``msi_sandbox_server.py``) and every crawl in a
fresh child process (``msi_bench_clients.py``), so each client's time and peak memory are
its own. The registry holds 200,000 facilities: 100 pages of 2,000. Reported side by side:

* ``ours``         ``client.msi.facilities(...)``
* ``aiohttp``      a hand-written aiohttp + msgspec loop with a semaphore, all pages
                   scheduled at once, every field decoded into tuned Structs (gc=False,
                   kw_only), the same per-record work: the overhead floor for the same job
* ``aiohttp-min``  the same loop decoding only the one field the work reads (a lower bound
                   no general-purpose client can reach; shown for scale)
* ``requests``     a sequential requests + json loop: what integrators write today

Targets (issue #4): with 250 ms of latency per request and concurrency 8, ours within
1.15x of the ideal ``1 + ceil((pages - 1) / 8)`` round trips; with no latency, within 1.25x
of ``aiohttp``; peak memory for 200,000 facilities within 64 MiB of that for 20,000.
Times start once the client holds a token.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = str(HERE / "msi_bench_clients.py")
SERVER = str(HERE / "msi_sandbox_server.py")


class Server:
    """The sandbox in a child process, controlled over its stdin."""

    def __init__(self, facilities: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, SERVER, "--facilities", str(facilities)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"sandbox did not start: {line}")
        self.url = line[1]

    def command(self, text: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def crawl(variant: str, url: str, concurrency: int, limit: int | None = None) -> dict[str, Any]:
    argv = [sys.executable, CLIENTS, variant, url, "--concurrency", str(concurrency)]
    if limit is not None:
        argv += ["--max-facilities", str(limit)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiohttp
    import msgspec

    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"msgspec {msgspec.__version__}"
    )


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<44} {value:>14}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15, help="ours/aiohttp pairs, no latency")
    parser.add_argument("--latency", type=float, default=0.25)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"starting the sandbox ({args.facilities:,} facilities) in its own process...")
    server = Server(args.facilities)
    ok = True
    try:
        # -- no latency: ours vs the hand-written loop, interleaved, N pairs -------------
        # The machine is shared and its speed drifts: runs alternate (and which goes first
        # alternates), and the target is judged on the median of the per-pair ratios, each
        # pair run back to back under the same conditions. Best runs are shown too.
        times: dict[str, list[float]] = {"ours": [], "aiohttp": []}
        results: dict[str, dict[str, Any]] = {}
        for run in range(args.repeat):
            order = ("ours", "aiohttp") if run % 2 == 0 else ("aiohttp", "ours")
            for variant in order:
                results[variant] = crawl(variant, server.url, 4)
                times[variant].append(results[variant]["elapsed"])
        for variant in ("aiohttp-min", "requests"):
            results[variant] = crawl(variant, server.url, 4)
            times[variant] = [results[variant]["elapsed"]]
        digests = {r["digest"] for r in results.values()}
        facilities = results["ours"]["facilities"]
        pages = results["ours"]["pages"]
        if len(digests) != 1 or facilities != args.facilities:
            print(f"!! the crawls disagree: {results}")
            ok = False
        best = {k: min(v) for k, v in times.items()}
        median = {k: statistics.median(v) for k, v in times.items()}
        print(f"\nno latency, concurrency 4, {pages} pages, {facilities:,} facilities")
        print(f"  ({args.repeat} interleaved pairs of ours and aiohttp: best [median];")
        print("   peak RSS of the client process; time relative to ours)")
        for variant in ("ours", "aiohttp", "aiohttp-min", "requests"):
            row(
                variant,
                f"{best[variant]:.2f} s",
                f"[{median[variant]:.2f} s]  {results[variant]['maxrss_mib']:.0f} MiB"
                f"  {median[variant] / median['ours']:.2f}x",
            )
        pairs = [a / b for a, b in zip(times["ours"], times["aiohttp"], strict=True)]
        ratio_floor = statistics.median(pairs)
        row("ours / aiohttp, median of pairs", f"{ratio_floor:.2f}x")
        row("ours / aiohttp, best runs", f"{best['ours'] / best['aiohttp']:.2f}x")
        ok &= ratio_floor <= 1.25

        # -- latency: ours vs the ideal number of round trips -----------------------------
        server.command(f"latency {args.latency}")
        lat = {v: crawl(v, server.url, 8) for v in ("ours", "aiohttp", "requests")}
        server.command("latency 0")
        ideal = (1 + math.ceil((pages - 1) / 8)) * args.latency
        print(f"\n{args.latency * 1000:.0f} ms latency per request, concurrency 8")
        row("ideal: (1 + ceil((pages - 1) / 8)) round trips", f"{ideal:.2f} s")
        for variant, result in lat.items():
            row(variant, f"{result['elapsed']:.2f} s", f"{result['elapsed'] / ideal:.2f}x ideal")
        ratio_ideal = lat["ours"]["elapsed"] / ideal
        ok &= ratio_ideal <= 1.15

        # -- memory: 20,000 vs 200,000 facilities -----------------------------------------
        small = crawl("ours", server.url, 4, limit=args.facilities // 10)
        large = crawl("ours", server.url, 4)
        growth = large["maxrss_mib"] - small["maxrss_mib"]
        print("\npeak memory of ours (ru_maxrss of the client process, concurrency 4)")
        row(f"{small['facilities']:,} facilities", f"{small['maxrss_mib']:.1f} MiB")
        row(f"{large['facilities']:,} facilities", f"{large['maxrss_mib']:.1f} MiB")
        ok &= growth <= 64

        print("\ntargets")
        row(
            "no latency: ours / hand-written aiohttp <= 1.25",
            f"{ratio_floor:.2f}x",
            "(median of pairs)",
        )
        row("250 ms latency: ours / ideal <= 1.15", f"{ratio_ideal:.2f}x")
        row("memory: 200k - 20k <= 64 MiB", f"{growth:.1f} MiB")
        print("all targets met" if ok else "!! a target was missed")
    finally:
        server.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
