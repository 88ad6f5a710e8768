"""``satusehat demo``: the main job on the local sandbox — no credentials, no network.

Starts a local sandbox (an embedded fake SATUSEHAT, not the Kemkes staging host) in
process, with latency, transient faults and short-lived tokens; crawls its whole
facility registry through the real client with a progress bar (plain progress lines
without the ``cli`` extra's rich); summarises what came back, then creates, finds and
patches patients — including a create whose answer is lost after the server committed
it, and newborn twins registered by their mother's NIK.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from satusehat_async.cli.main import fail
from satusehat_async.cli.msi_cmd import advance_progress, crawl_progress
from satusehat_async.errors import SatuSehatError

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.msi.pager import CrawlStats
    from satusehat_async.patients import Patients
    from satusehat_async.sandbox import LocalSandbox

__all__ = ["register"]

_TYPE_NAMES = {"101": "Praktik Mandiri", "102": "Puskesmas", "103": "Klinik", "104": "Rumah Sakit"}

# Demo identities: syntactically valid NIKs of nobody (the sandbox has no civil registry).
_ADULT_NIK = "3273014506900002"
_SECOND_NIK = "3578021203850007"
_MOTHER_NIK = "3174054107920003"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="run the main job on a local sandbox: an embedded fake SATUSEHAT (no "
        "credentials, no network; not the Kemkes staging host)",
        description="Start a local sandbox (an embedded fake SATUSEHAT on 127.0.0.1, not the "
        "Kemkes staging host) in this process, crawl its whole facility registry through "
        "the real client, then create, find and patch patients.",
    )
    parser.add_argument("--facilities", type=int, default=10_000, help="registry size")
    parser.add_argument("--page-size", type=int, default=100, help="facilities per page")
    parser.add_argument("--concurrency", type=int, default=8, help="pages in flight")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added per request")
    parser.add_argument(
        "--fault-rate", type=float, default=0.1, help="fraction of transient faults"
    )
    parser.add_argument(
        "--token-ttl", type=float, default=2.0, help="token lifetime in seconds (short: refreshes)"
    )
    parser.add_argument("--seed", type=int, default=1, help="makes data and faults reproducible")
    parser.set_defaults(func=demo_command)


def _check(args: argparse.Namespace) -> None:
    if args.facilities < 1:
        raise fail("--facilities must be at least 1")
    if not 1 <= args.page_size <= 2000:
        raise fail("--page-size must be between 1 and 2000")
    if args.concurrency < 1:
        raise fail("--concurrency must be at least 1")
    if not 0.0 <= args.fault_rate < 1.0:
        raise fail("--fault-rate must be in [0, 1)")
    if not (math.isfinite(args.latency_ms) and args.latency_ms >= 0):
        raise fail("--latency-ms must be a number >= 0")
    if not (math.isfinite(args.token_ttl) and args.token_ttl > 0):
        raise fail("--token-ttl must be a number > 0")


def _have_rich() -> bool:
    """Whether the ``cli`` extra's rich is importable (the demo runs without it)."""
    try:
        import rich.progress  # noqa: F401
    except ImportError:
        return False
    return True


def _say(text: str = "") -> None:
    print(text, flush=True)


async def demo_command(args: argparse.Namespace) -> int:
    """Run ``satusehat demo``; returns the exit code."""
    _check(args)
    from satusehat_async.sandbox import LocalSandbox

    started = time.monotonic()
    sandbox = LocalSandbox(
        facilities=args.facilities,
        seed=args.seed,
        latency=args.latency_ms / 1000.0,
        fault_rate=args.fault_rate,
        token_ttl=args.token_ttl,
    )
    async with sandbox:
        _say(
            f"local sandbox (an embedded fake SATUSEHAT, not Kemkes staging) at "
            f"{sandbox.base_url} with {args.facilities:,} "
            f"facilities, {args.latency_ms:g} ms latency, {args.fault_rate:.0%} transient "
            f"faults, {args.token_ttl:g} s tokens"
        )
        async with sandbox.client() as client:
            await _crawl(client, sandbox, args)
            patient_id = await _patients(client, sandbox)
            await _visit(client, sandbox, patient_id)
        _say()
        _say(
            f"demo finished in {time.monotonic() - started:.1f}s: "
            f"{sandbox.stats.requests:,} requests served, "
            f"{sandbox.stats.token_requests} token requests, "
            f"{sum(sandbox.stats.faults_injected.values())} faults injected, "
            f"{client.metrics.retries} retries"
        )
    return 0


async def _crawl(client: SatuSehatClient, sandbox: LocalSandbox, args: argparse.Namespace) -> None:
    by_type: Counter[str] = Counter()
    by_province: Counter[tuple[str, str]] = Counter()
    with_coordinates = 0
    _say()
    _say(
        f"1. crawling the facility registry (page size {args.page_size}, "
        f"{args.concurrency} pages in flight)"
    )
    pages = client.msi.pages(
        jenis_sarana=[101, 102, 103, 104],
        page_size=args.page_size,
        concurrency=args.concurrency,
    )
    terminal = sys.stderr.isatty()
    plain = _PlainProgress() if terminal and not _have_rich() else None
    async with pages:
        with crawl_progress(terminal and plain is None) as progress:
            task = None
            async for page in pages:
                for facility in page.facilities:
                    jenis = facility.jenis_sarana
                    by_type[(jenis.kode if jenis else None) or "?"] += 1
                    prov = facility.provinsi
                    by_province[
                        ((prov.kode or "?"), (prov.nama or "?")) if prov else ("?", "?")
                    ] += 1
                    if facility.latitude is not None and facility.longitude is not None:
                        with_coordinates += 1
                if progress is not None:
                    task = advance_progress(progress, task, pages.stats, 1)
                if plain is not None:
                    plain.page(page.total_page)
    stats = pages.stats
    _summarise_crawl(stats, by_type, by_province, with_coordinates, len(sandbox.registry))


class _PlainProgress:
    """Progress as a few plain lines on stderr, for a terminal without rich."""

    def __init__(self) -> None:
        self.done = 0
        self.shown = -1
        print("   (pip install 'satusehat-async[cli]' for a progress bar)", file=sys.stderr)

    def page(self, total: int | None) -> None:
        self.done += 1
        total = max(total or 0, self.done)
        tenth = self.done * 10 // total
        if tenth != self.shown:  # at most eleven lines, whatever the registry size
            self.shown = tenth
            print(f"   {self.done:,}/{total:,} pages", file=sys.stderr, flush=True)


def _summarise_crawl(
    stats: CrawlStats,
    by_type: Counter[str],
    by_province: Counter[tuple[str, str]],
    with_coordinates: int,
    registry_size: int,
) -> None:
    complete = "every one" if stats.facilities == registry_size else f"of {registry_size:,}"
    _say(
        f"   {stats.facilities:,} facilities ({complete}, each once) from {stats.pages} pages "
        f"in {stats.elapsed:.2f}s; {stats.retries} retries rode through faults; "
        f"{with_coordinates:,} with usable coordinates"
    )
    _say(
        "   by type:     "
        + ", ".join(
            f"{_TYPE_NAMES.get(code, code)} {count:,}" for code, count in sorted(by_type.items())
        )
    )
    _say(f"   by province ({len(by_province)}):")
    cells = [f"{code} {name[:22]:<22} {n:>6,}" for (code, name), n in sorted(by_province.items())]
    rows = -(-len(cells) // 3)  # three columns, filled top to bottom
    for row in range(rows):
        _say("     " + "   ".join(cells[row::rows]))


_NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
_NIK_IBU_SYSTEM = "https://fhir.kemkes.go.id/id/nik-ibu"


def _person(
    system: str, nik: str, name: str, gender: str, birth_date: str, **more: Any
) -> dict[str, Any]:
    """A Patient resource identified by ``nik`` under ``system`` (NIK, or the mother's)."""
    return {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": system, "value": nik}],
        "name": [{"use": "official", "text": name}],
        "gender": gender,
        "birthDate": birth_date,
        **more,
    }


async def _patients(client: SatuSehatClient, sandbox: LocalSandbox) -> str:
    patients = client.patients
    _say()
    _say("2. patients (Master Patient Index)")
    first_id = await _register_adults(patients, sandbox)
    await _register_twins(patients)
    await _find_and_update(patients, first_id)
    stored = sandbox.stats.patients_stored
    if stored != 4:
        raise SatuSehatError(f"expected 4 patients stored, the sandbox holds {stored}")
    _say(f"   the sandbox holds exactly {stored} patients for 4 distinct people")
    return first_id


async def _visit(client: SatuSehatClient, sandbox: LocalSandbox, patient_id: str) -> None:
    """An outpatient visit as one transaction through a lost answer, finished, sent again."""
    import datetime as dt

    from satusehat_async import visits
    from satusehat_async.fhir import Encounter

    _say()
    _say("3. a visit (rawat jalan): Encounter + 2 diagnoses + 3 vital signs, one transaction")
    start = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))) - dt.timedelta(hours=1)  # WIB
    encounter = visits.outpatient_encounter(
        patient=(patient_id, "Siti Rahmawati"),
        practitioner=("10009880728", "dr. Alexander"),
        location=("b017aa54-f1df-4ec2-9d84-8823815d7228", "Poli Umum"),
        visit_id="RJ-DEMO-0001",
        organization_id=client.organization_id,
        start=start,
    )
    diagnoses = [("J06.9", "Acute upper respiratory infection"), ("R50.9", "Fever")]
    signs = {"heart_rate": 88, "systolic": 120, "diastolic": 80}
    # The server commits the Bundle, then the gateway answers 504: the outcome is unknown.
    sandbox.inject("commit_then_504", method="POST", path_prefix="/fhir-r4/v1")
    visit = await visits.rawat_jalan(
        client, encounter=encounter, diagnoses=diagnoses, vital_signs=signs
    )
    if sandbox.faults.pending:
        raise SatuSehatError("the visit's injected 504 was not met")
    _say(
        f"   sent through a 504 after commit -> Encounter {visit.encounter_id} "
        f"(created={visit.created}: reconciled by search, not re-sent)"
    )
    api = client.fhir(Encounter)
    moved = await api.update(visits.advance(visit.encounter, "in-progress", at=start))
    done = await api.update(visits.advance(moved, "finished", at=start + dt.timedelta(minutes=40)))
    history = " -> ".join(h.status or "?" for h in done.status_history or [])
    _say(f"   moved to finished by update     -> status history {history}")
    again = await visits.rawat_jalan(
        client, encounter=encounter, diagnoses=diagnoses, vital_signs=signs
    )
    same = again.encounter_id == visit.encounter_id
    _say(f"   the same visit sent again       -> created={again.created}, same ids={same}")
    counts = [sandbox.resources.count(k) for k in ("Encounter", "Condition", "Observation")]
    if counts != [1, 2, 3] or not same:
        raise SatuSehatError(f"expected 1 Encounter, 2 Conditions, 3 Observations: {counts}")
    _say("   the sandbox holds exactly 1 Encounter, 2 Conditions and 3 Observations")


async def _register_adults(patients: Patients, sandbox: LocalSandbox) -> str:
    """Create an adult twice (one record), then one whose answer is lost; the first id."""
    adult = _person(
        _NIK_SYSTEM, _ADULT_NIK, "Siti Rahmawati", "female", "1990-06-05", language="en"
    )
    first = await patients.create(adult)
    _say(f"   create by NIK               -> {first.id} (created={first.created})")
    again = await patients.create(adult)
    _say(f"   create the same NIK again   -> {again.id} (created={again.created}: no duplicate)")

    # The server commits the next create, then the connection drops before the answer.
    sandbox.inject("commit_then_drop", method="POST", path_prefix="/fhir-r4/v1/Patient")
    lost = await patients.create(
        _person(_NIK_SYSTEM, _SECOND_NIK, "Bambang Wijaya", "male", "1985-03-12", language="en")
    )
    _say(
        f"   create, answer lost in transit -> {lost.id} (created={lost.created}: "
        "reconciled by search, not re-sent)"
    )
    return first.id


async def _register_twins(patients: Patients) -> None:
    """Newborn twins, registered by their mother's NIK and their birth order."""
    twins = []
    for order, name in ((1, "Bayi Ny. Dewi 1"), (2, "Bayi Ny. Dewi 2")):
        baby = _person(
            _NIK_IBU_SYSTEM, _MOTHER_NIK, name, "female", "2026-11-20", multipleBirthInteger=order
        )
        twins.append(await patients.create(baby))
    _say(f"   newborn twins by mother's NIK -> {twins[0].id}, {twins[1].id}")


async def _find_and_update(patients: Patients, first_id: str) -> None:
    """Search by NIK (masked) and by the mother's NIK, patch the first adult, read it back."""
    from satusehat_async.patients import replace

    found = await patients.search(nik=_ADULT_NIK)
    masked = found[0].name[0].text if found and found[0].name else None
    _say(f"   search by NIK               -> {len(found)} match, name masked as {masked!r}")
    babies = await patients.search(nik_ibu=_MOTHER_NIK)
    _say(f"   search by mother's NIK      -> {len(babies)} babies (unmasked)")
    patched = await patients.patch(first_id, [replace("/language", "id")])
    _say(
        f"   patch /language en -> id    -> language={patched.language!r}, "
        f"version {patched.meta.version_id if patched.meta else '?'}"
    )
    fetched = await patients.get(first_id)
    _say(f"   read back                   -> {fetched.id}, language={fetched.language!r}")
