"""Visit transactions per second against the embedded sandbox, and requests per visit.

A visit is one ``client.transaction``: an Encounter, 2 Conditions and 3 vital-sign
Observations, each with a local identifier of the sandbox's organization (so the
transaction is idempotent). For each latency (added by the sandbox to every request),
``--visits`` new visits run ``--concurrency`` at a time, then the same visits are
re-submitted. Printed per phase: visits per second, the ideal (concurrency / (round trips
x latency): a new visit is 2 round trips — its entries' searches, concurrently, then the
POST — and a re-submission 1, the searches), and the FHIR requests per visit counted by the
sandbox (token requests apart).

    python benchmarks/bench_visits.py           # ~10 s; --visits N, --concurrency N
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from satusehat_async import SatuSehatClient
from satusehat_async.fhir import Transaction
from satusehat_async.sandbox import LocalSandbox

PATIENT = "Patient/P02478375538"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def visit(org: str, reg: str) -> Transaction:
    """The outpatient minimum, every entry with a local identifier."""

    def ids(kind: str, value: str) -> list[dict[str, str]]:
        return [{"system": f"http://sys-ids.kemkes.go.id/{kind}/{org}", "value": value}]

    tx = Transaction()
    enc, conds = f"urn:uuid:{uuid.uuid4()}", [f"urn:uuid:{uuid.uuid4()}" for _ in range(2)]
    start, end = "2026-11-30T01:00:00+00:00", "2026-11-30T02:00:00+00:00"
    tx.add(
        {
            "resourceType": "Encounter",
            "identifier": ids("encounter", reg),
            "status": "arrived",
            "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
            "subject": {"reference": PATIENT},
            "period": {"start": start},
            "statusHistory": [{"status": "arrived", "period": {"start": start}}],
            "diagnosis": [{"condition": {"reference": c}, "rank": n} for n, c in enumerate(conds)],
            "serviceProvider": {"reference": f"Organization/{org}"},
        },
        full_url=enc,
    )
    for n, (url, icd) in enumerate(zip(conds, ["K35.8", "J06.9"], strict=True)):
        condition = {
            "resourceType": "Condition",
            "identifier": ids("condition", f"{reg}-D{n}"),
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
        }
        tx.add(condition, full_url=url)
    for n, loinc in enumerate(["8867-4", "8480-6", "8310-5"]):
        tx.add(
            {
                "resourceType": "Observation",
                "identifier": ids("observation", f"{reg}-V{n}"),
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"reference": PATIENT},
                "encounter": {"reference": enc},
                "effectiveDateTime": end,
            }
        )
    return tx


async def _phase(
    client: SatuSehatClient, sb: LocalSandbox, regs: list[str], concurrency: int
) -> tuple[float, float, bool]:
    """(seconds, FHIR requests per visit, all created) of one pass over ``regs``."""
    gate = asyncio.Semaphore(concurrency)
    created: list[bool] = []

    async def one(reg: str) -> None:
        async with gate:
            result = await client.transaction(visit(sb.organization_id, reg))
            created.append(result.created)

    before = sb.stats.requests - sb.stats.token_requests
    started = time.perf_counter()
    await asyncio.gather(*(one(reg) for reg in regs))
    seconds = time.perf_counter() - started
    requests = sb.stats.requests - sb.stats.token_requests - before
    return seconds, requests / len(regs), all(created)


async def _latency(latency: float, visits: int, concurrency: int) -> list[str]:
    lines = [f"latency {latency * 1000:.0f} ms, concurrency {concurrency}, {visits} visits"]
    async with LocalSandbox(facilities=10, latency=latency) as sb, sb.client() as client:
        await client.tokens.token()  # timed once it holds a token
        regs = [f"BENCH-{n:05d}" for n in range(visits)]
        for name, round_trips in (("new visit", 2), ("re-submission", 1)):
            seconds, per_visit, created = await _phase(client, sb, regs, concurrency)
            rate = visits / seconds
            # the searches of one visit go out together: one round trip for all of them
            ideal = concurrency / (round_trips * latency)
            lines.append(
                f"  {name:<14} {rate:7.1f} visits/s  ideal {ideal:7.1f}  "
                f"({rate / ideal:4.0%})  {per_visit:.2f} requests/visit  "
                f"created={created}"
            )
        stored = [sb.resources.count(k) for k in ("Encounter", "Condition", "Observation")]
        lines.append(f"  stored Encounter/Condition/Observation: {stored}")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--latency", type=float, nargs="*", default=[0.05, 0.2])
    args = parser.parse_args(argv)
    for latency in args.latency:
        for line in asyncio.run(_latency(latency, args.visits, args.concurrency)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
