"""Chaos soak: the client against a hostile embedded sandbox, with invariants checked.

Three soaks, each a function the CI's short test (``tests/test_chaos.py``) calls with small
numbers and ``python benchmarks/chaos_soak.py`` runs long:

- **crawls** with 40 % transient faults (5xx, 429, dropped connections) and tokens that
  expire every second, some of them cancelled at random moments: every crawl that runs to
  its end yields every facility exactly once; a cancelled one leaves no task running.
- **patient creates** (adults by NIK and newborns by the mother's NIK, twins included)
  under ambiguous write faults (the write commits, then the answer is lost) and a search
  that lags writes by up to 3 s: 0 duplicates and 0 lost patients. A create may end in
  ``CreateOutcomeUnknown``; the caller then repeats it (the documented contract) until it
  succeeds.
- **kills + --resume**: ``satusehat msi crawl`` in a child process, killed with SIGKILL at
  random moments and resumed: the output file holds every facility exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from satusehat_async import RetryPolicy
from satusehat_async.patients import CreateOutcomeUnknown, ReconcileWindow
from satusehat_async.sandbox import ThreadedSandbox

# A patient policy generous enough to ride out 40 % faults; waits stay short.
SOAK_RETRY = RetryPolicy(max_attempts=12, max_time=60.0, base_delay=0.01, max_delay=0.2)


@dataclasses.dataclass
class SoakReport:
    """What one soak did and whether its invariants held."""

    name: str
    runs: int = 0
    items: int = 0
    duplicates: int = 0
    lost: int = 0
    unknown_outcomes: int = 0
    cancelled: int = 0
    kills: int = 0
    leftover_tasks: int = 0
    requests: int = 0
    token_requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every invariant held."""
        return self.duplicates == 0 and self.lost == 0 and self.leftover_tasks == 0

    def line(self) -> str:
        """One line for a person."""
        fields = dataclasses.asdict(self)
        name = fields.pop("name")
        parts = ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
        )
        return f"{name}: {'OK' if self.ok else 'FAILED'} ({parts})"


def _leftover_tasks() -> int:
    current = asyncio.current_task()
    return sum(1 for task in asyncio.all_tasks() if task is not current and not task.done())


async def soak_crawls(
    *,
    facilities: int = 20_000,
    crawls: int = 6,
    page_size: int = 500,
    latency: float = 0.01,
    seed: int = 1,
) -> SoakReport:
    """Crawls under 40 % transient faults and 1-second tokens, some cancelled at random."""
    report = SoakReport("crawls")
    rng = random.Random(seed)
    started = time.perf_counter()
    # The sandbox serves from a thread of its own so the tasks left on this loop are the
    # client's alone.
    with ThreadedSandbox(
        facilities=facilities, fault_rate=0.4, latency=latency, token_ttl=1.0, seed=seed
    ) as sb:
        expected = {row["kode_satusehat"] for row in sb.registry}
        async with sb.client(retry=SOAK_RETRY) as client:
            for run in range(crawls):
                seen: list[str] = []
                crawl = client.msi.facilities(
                    page_size=page_size, concurrency=rng.choice((2, 4, 8))
                )

                async def consume(crawl: Any = crawl, seen: list[str] = seen) -> None:
                    async for facility in crawl:
                        seen.append(facility.kode_satusehat)

                task = asyncio.create_task(consume())
                cancel = run % 3 == 2  # every third crawl is cancelled mid-way
                if cancel:
                    await asyncio.sleep(rng.uniform(0.05, 0.5))
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await crawl.aclose()
                    report.cancelled += 1
                else:
                    await task
                    report.runs += 1
                    report.items += len(seen)
                    report.duplicates += len(seen) - len(set(seen))
                    report.lost += len(expected - set(seen))
                await asyncio.sleep(0)
                report.leftover_tasks += _leftover_tasks()
        report.requests = sb.stats.requests
        report.token_requests = sb.stats.token_requests
    report.seconds = time.perf_counter() - started
    return report


def _adult(nik: str, index: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"use": "official", "system": "https://fhir.kemkes.go.id/id/nik", "value": nik}
        ],
        "name": [{"use": "official", "text": f"Pasien Soak {index}"}],
        "gender": "female" if index % 2 else "male",
        "birthDate": "1990-01-01",
    }


def _newborn(mother_nik: str, order: int, family: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "official",
                "system": "https://fhir.kemkes.go.id/id/nik-ibu",
                "value": mother_nik,
            }
        ],
        "name": [{"use": "official", "text": f"Bayi Soak {family}"}],
        "gender": "female" if order % 2 else "male",
        "birthDate": "2026-11-30",
        "multipleBirthInteger": order,
    }


def _nik(index: int, *, female: bool = False) -> str:
    # 16 digits: region 320101, birth date 010190 (day + 40 for women), serial 0001+
    return f"320101{41 if female else 1:02d}0190{index + 1:04d}"


async def _create_until_known(client: Any, patient: dict[str, Any], report: SoakReport) -> str:
    while True:
        try:
            result = await client.patients.create(patient)
        except CreateOutcomeUnknown:
            report.unknown_outcomes += 1
            await asyncio.sleep(0.1)
            continue
        return str(result.id)


async def soak_patients(
    *,
    adults: int = 60,
    families: int = 20,
    max_lag: float = 3.0,
    fault_rate: float = 0.35,
    seed: int = 1,
) -> SoakReport:
    """Concurrent creates under ambiguous write faults and a search lagging writes.

    ``families`` mothers each register twins (birth orders 1 and 2) and one single-birth
    baby (order 0); every create runs concurrently with the others.
    """
    report = SoakReport("patients")
    started = time.perf_counter()
    kinds = ("commit_then_504", "commit_then_drop", "commit_then_500", "503", "drop")
    with ThreadedSandbox(
        facilities=100,
        fault_rate=fault_rate,
        fault_kinds=kinds,
        search_lag=(0.0, max_lag),
        token_ttl=1.0,
        seed=seed,
    ) as sb:
        async with sb.client(retry=SOAK_RETRY) as client:
            # the window must outlast the lag: a committed write shows within max_lag
            client.patients.window = ReconcileWindow(span=max_lag + 1.0)
            jobs: list[Any] = [
                _create_until_known(client, _adult(_nik(i), i), report) for i in range(adults)
            ]
            for family in range(families):
                mother = _nik(family, female=True)
                jobs.extend(
                    _create_until_known(client, _newborn(mother, order, family), report)
                    for order in (0, 1, 2)
                )
            ids = await asyncio.gather(*jobs)
        stored = [sb.patients.get(pid) for pid in sb.patients.ids]
        report.requests = sb.stats.requests
        report.token_requests = sb.stats.token_requests
    expected = adults + 3 * families
    report.runs = 1
    report.items = len(stored)
    report.duplicates = max(0, len(stored) - expected)
    report.lost = max(0, expected - len(stored))
    report.duplicates += len(ids) - len(set(ids))  # two callers handed one record
    report.seconds = time.perf_counter() - started
    return report


def _read_codes(path: Path, fmt: str) -> list[str]:
    if not path.exists():
        return []
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [row["kode_satusehat"] for row in csv.DictReader(handle)]
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["kode_satusehat"] for line in handle if line.strip()]


def soak_kills(
    *, facilities: int = 20_000, kills: int = 10, fmt: str = "ndjson", seed: int = 1
) -> SoakReport:
    """``satusehat msi crawl`` killed with SIGKILL at random moments, then ``--resume``d."""
    report = SoakReport(f"kills+resume ({fmt})")
    rng = random.Random(seed)
    started = time.perf_counter()
    # Latency stretches each run so that most kills land mid-crawl.
    with ThreadedSandbox(
        facilities=facilities, fault_rate=0.2, latency=0.03, token_ttl=1.0, seed=seed
    ) as sb:
        expected = {row["kode_satusehat"] for row in sb.registry}
        env = {**os.environ, **sb.environ()}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"registry.{fmt}"
            command = [
                sys.executable, "-m", "satusehat_async.cli", "msi", "crawl",
                "--page-size", "200", "--concurrency", "4",
                "--format", fmt, "--output", str(out),
            ]  # fmt: skip
            errors = Path(tmp) / "stderr.txt"
            resume = False
            while True:
                args = [*command, "--resume"] if resume else command
                with errors.open("wb") as stderr:
                    child = subprocess.Popen(
                        args, env=env, stdout=subprocess.DEVNULL, stderr=stderr
                    )
                    resume = True
                    try:
                        timeout = rng.uniform(0.3, 1.5) if report.kills < kills else 600
                        child.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        child.send_signal(signal.SIGKILL)
                        child.wait()
                        report.kills += 1
                        continue
                if child.returncode != 0:
                    message = errors.read_text(errors="replace").strip()
                    raise RuntimeError(f"crawl exited {child.returncode}: {message}")
                break
            codes = _read_codes(out, fmt)
    report.runs = 1
    report.items = len(codes)
    report.duplicates = len(codes) - len(set(codes))
    report.lost = len(expected - set(codes))
    report.seconds = time.perf_counter() - started
    return report


async def _async_soaks(args: argparse.Namespace) -> list[SoakReport]:
    return [
        await soak_crawls(facilities=args.facilities, crawls=args.crawls),
        await soak_patients(adults=args.adults, families=args.families, max_lag=args.max_lag),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=100_000)
    parser.add_argument("--crawls", type=int, default=12)
    parser.add_argument("--adults", type=int, default=300)
    parser.add_argument("--families", type=int, default=60)
    parser.add_argument("--max-lag", type=float, default=3.0)
    parser.add_argument("--kills", type=int, default=100)
    args = parser.parse_args(argv)
    # the faults are the point: keep the client's warnings about them off the report
    logging.basicConfig(level=logging.ERROR)
    reports = asyncio.run(_async_soaks(args))
    for fmt in ("ndjson", "csv"):
        reports.append(soak_kills(facilities=args.facilities // 5, kills=args.kills // 2, fmt=fmt))
    for report in reports:
        print(report.line())
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
