"""New patients by NIK per second, and requests per create, against the sequential loop.

The sandbox runs in its own process (``--serve``, started by this script), so the
client measured has the CPU to itself. For each latency (added by the sandbox to every
request) the runs are interleaved, ``--reps`` rounds of:

- ``loop``        a hand-written aiohttp loop, one patient at a time: search by NIK, then
                  POST when nothing is found (the MPI guidance; 2 round trips per patient);
- ``lib-seq``     ``client.patients.create`` one at a time (written first: 1 round trip);
- ``lib-seq-sf``  the same, told not to trust the NIK's uniqueness (``nik_unique=False``:
                  search first, as the library did before issue 14);
- ``lib-conc``    ``client.patients.create``, ``--concurrency`` (20) at a time.

Every create is a new NIK; each run's stored count is checked (0 duplicates). Printed per
mode: creates per second (median and min-max over the rounds), the ideal (creates at once
/ (round trips x latency)), FHIR requests per create (counted by the sandbox; the token,
and the library's one CapabilityStatement read per client at warm-up, apart), and the
ratio to the loop paired within each round (median and min-max).

    python benchmarks/bench_patients.py            # ~2.5 min
    python benchmarks/bench_patients.py --quick    # ~40 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from satusehat_async import SatuSehatClient
from satusehat_async.patients import HumanName, Patient, nik_identifier
from satusehat_async.sandbox import LocalSandbox

NIK = "https://fhir.kemkes.go.id/id/nik"
FHIR = "/fhir-r4/v1"


# -- the sandbox's process ------------------------------------------------------------------


async def serve() -> None:
    """Serve a sandbox; stdin: ``latency S``, ``stats`` (JSON, then reset); EOF stops."""
    async with LocalSandbox(facilities=10) as sb:
        print(f"READY {sb.base_url}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command, _, value = line.strip().partition(" ")
            if command == "latency":
                sb.latency = float(value)
                print("OK", flush=True)
            elif command == "stats":
                by_path = sb.stats.requests_by_path
                niks = [
                    next(i["value"] for i in p["identifier"] if i["system"] == NIK)
                    for p in map(sb.patients.get, sb.patients.ids)
                    if p is not None
                ]
                stats = {
                    "fhir": sb.stats.requests - sb.stats.token_requests,
                    "posts": by_path[f"POST {FHIR}/Patient"],
                    "searches": by_path[f"GET {FHIR}/Patient"],
                    "stored": len(niks),
                    "distinct": len(set(niks)),
                }
                print(json.dumps(stats), flush=True)
                sb.reset_stats()


class Server:
    """The sandbox process, driven over its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str) -> None:
        self.process, self.base_url = process, base_url

    @classmethod
    async def start(cls) -> Server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode().split()
        assert line and line[0] == "READY", line
        return cls(process, line[1])

    async def ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return (await self.process.stdout.readline()).decode().strip()

    async def stats(self) -> dict[str, int]:
        result: dict[str, int] = json.loads(await self.ask("stats"))
        return result

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()


# -- the patients ---------------------------------------------------------------------------

_serial = 0


def new_niks(count: int) -> list[str]:
    """NIKs never used before in this run of the benchmark."""
    global _serial
    niks = [f"320101{n:06d}{n % 9999 + 1:04d}" for n in range(_serial, _serial + count)]
    _serial += count
    return niks


def patient_json(nik: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": NIK, "value": nik}],
        "name": [{"use": "official", "text": f"Pasien {nik[-6:]}"}],
        "gender": "female",
        "birthDate": "1990-01-01",
    }


# -- the sequential requests loop (hand-written aiohttp) ----------------------------------


class Loop:
    """Search by NIK, then POST when nothing is found; one patient at a time."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session, self.base_url = session, base_url
        self.headers: dict[str, str] = {}

    async def login(self) -> None:
        url = f"{self.base_url}/oauth2/v1/accesstoken?grant_type=client_credentials"
        form = {"client_id": "sandbox", "client_secret": "sandbox"}
        async with self.session.post(url, data=form) as response:
            token = (await response.json())["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def create(self, nik: str) -> str:
        url = f"{self.base_url}{FHIR}/Patient"
        params = {"identifier": f"{NIK}|{nik}"}
        async with self.session.get(url, params=params, headers=self.headers) as response:
            response.raise_for_status()
            bundle = await response.json()
        if bundle.get("entry"):
            return str(bundle["entry"][0]["resource"]["id"])
        headers = {**self.headers, "Content-Type": "application/json"}
        body = json.dumps(patient_json(nik)).encode()
        async with self.session.post(url, data=body, headers=headers) as response:
            response.raise_for_status()
            return str((await response.json())["id"])

    async def run(self, niks: list[str], concurrency: int) -> None:
        for nik in niks:
            await self.create(nik)


# -- the library ------------------------------------------------------------------------------


async def library_run(client: SatuSehatClient, niks: list[str], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(nik: str) -> None:
        async with gate:
            patient = Patient(
                identifier=[nik_identifier(nik)],
                name=[HumanName(use="official", text=f"Pasien {nik[-6:]}")],
                gender="female",
                birth_date="1990-01-01",
            )
            result = await client.patients.create(patient)
            assert result.created

    await asyncio.gather(*(one(nik) for nik in niks))


Run = Callable[[list[str], int], Awaitable[None]]


async def timed(server: Server, run: Run, count: int, concurrency: int) -> tuple[float, float]:
    """(creates per second, FHIR requests per create) of one run of ``count`` new NIKs."""
    await server.stats()  # zero the counters
    niks = new_niks(count)
    started = time.perf_counter()
    await run(niks, concurrency)
    seconds = time.perf_counter() - started
    stats = await server.stats()
    assert stats["stored"] == stats["distinct"], "a NIK stored twice"
    return count / seconds, stats["fhir"] / count


def _spread(values: list[float], fmt: str = "7.1f") -> str:
    median = statistics.median(values)
    return f"{median:{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


async def bench_latency(
    server: Server, latency: float, reps: int, sequential: int, concurrent: int, width: int
) -> list[str]:
    await server.ask(f"latency {latency}")
    modes: dict[str, tuple[Run, int, int, int]] = {}  # run, count, concurrency, round trips
    async with (
        aiohttp.ClientSession() as session,
        SatuSehatClient("sandbox", "sandbox", base_url=server.base_url) as client,
        SatuSehatClient("sandbox", "sandbox", base_url=server.base_url) as searching,
    ):
        loop = Loop(session, server.base_url)
        await loop.login()
        searching.patients.nik_unique = False
        for warm in (client, searching):  # the token and the CapabilityStatement, once
            await warm.get_token()
            await warm.patients.server_traits()
        modes["loop"] = (loop.run, sequential, 1, 2)
        modes["lib-seq"] = (lambda n, c: library_run(client, n, c), sequential, 1, 1)
        modes["lib-seq-sf"] = (lambda n, c: library_run(searching, n, c), sequential, 1, 2)
        modes["lib-conc"] = (lambda n, c: library_run(client, n, c), concurrent, width, 1)
        rates: dict[str, list[float]] = {name: [] for name in modes}
        per_create: dict[str, list[float]] = {name: [] for name in modes}
        for rep in range(reps):
            names = list(modes)
            names = names[rep % len(names) :] + names[: rep % len(names)]  # rotate the order
            for name in names:
                run, count, concurrency, _ = modes[name]
                rate, requests = await timed(server, run, count, concurrency)
                rates[name].append(rate)
                per_create[name].append(requests)
    lines = [f"latency {latency * 1000:.0f} ms, {reps} interleaved rounds"]
    for name, (_, count, concurrency, trips) in modes.items():
        ideal = concurrency / (trips * latency)
        ratio = [a / b for a, b in zip(rates[name], rates["loop"], strict=True)]
        lines.append(
            f"  {name:<10} x{concurrency:<3} n={count:<4} {_spread(rates[name])} creates/s"
            f"  ideal {ideal:6.1f}  {statistics.median(per_create[name]):.2f} req/create"
            f"  vs loop {_spread(ratio, '5.2f')}x"
        )
    return lines


async def main_async(args: argparse.Namespace) -> None:
    server = await Server.start()
    try:
        for latency in args.latency:
            lines = await bench_latency(
                server, latency, args.reps, args.sequential, args.concurrent, args.concurrency
            )
            for line in lines:
                print(line, flush=True)
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or, with ``--serve``, the sandbox's process) and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="3 rounds of fewer patients")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=20, help="patients per sequential run")
    parser.add_argument("--concurrent", type=int, default=200, help="patients per concurrent run")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency", type=float, nargs="*", default=[0.05, 0.2])
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve())
        return
    if args.quick:
        args.reps, args.sequential, args.concurrent = 3, 8, 60
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
