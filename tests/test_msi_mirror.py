"""The facility mirror (``satusehat_async.msi.mirror.sync``) against the local sandbox.

Sync a registry into SQLite, change, add and close facilities in the sandbox, sync
again: the report lists exactly those and the database equals the (filtered) registry,
row by row. Also: filtered mirrors, refusing other filters, the gap offset paging leaves
while the registry moves (inserted and deleted rows during a full crawl), vanished
facilities, the day of overlap, an interrupted sync, and a database that is not a mirror.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from satusehat_async import SatuSehatClient
from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.msi import Facility, FacilityQuery
from satusehat_async.msi.mirror import MirrorError, MirrorFilterMismatch, SyncReport, sync
from satusehat_async.msi.models import normalise_coordinates
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import LocalSandbox

FACILITIES = 3000
TODAY = dt.date(2026, 6, 15)
NOON = dt.datetime(2026, 6, 15, 12, tzinfo=dt.timezone.utc).timestamp()
NESTED = ("sarana_administrasi", "provinsi", "kabkota", "jenis_sarana", "subjenis", "kelas_sarana")
OWN_COLUMNS = {"content_hash", "first_seen", "last_seen", "updated_at", "last_sync", "gone_at"}


class Clock:
    """A settable clock shared by the registry and the mirror."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def next_day(self) -> None:
        self.now += 86_400


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=FACILITIES, seed=5) as sandbox:
        sandbox.registry.clock = clock
        yield sandbox


@pytest.fixture
async def client(sb: LocalSandbox) -> AsyncIterator[SatuSehatClient]:
    fast = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    async with sb.client(retry=fast) as c:
        yield c


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "mirror.db"


def run_sync(
    client: SatuSehatClient, db: Path, clock: Clock, **kwargs: Any
) -> Any:  # a coroutine of SyncReport
    filters = kwargs.pop("filters", {})
    kwargs.setdefault("page_size", 500)
    return sync(client.msi, db, query=FacilityQuery.build(**filters), clock=clock, **kwargs)


# -- the oracle: the registry read independently of the mirror's code ------------------


def expected_row(record: dict[str, Any]) -> dict[str, Any]:
    """A registry record as the documented schema says it is stored."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in NESTED:
            for sub, sub_value in (value or {}).items():
                row[f"{key}_{sub}"] = sub_value
        else:
            row[key] = value
    # the coordinates as the models read them (numbers, strings, swapped pairs)
    facility = msgspec.json.decode(msgspec.json.encode(record), type=Facility, strict=False)
    normalise_coordinates([facility])
    row["latitude"], row["longitude"] = facility.latitude, facility.longitude
    return {k: int(v) if isinstance(v, bool) else v for k, v in row.items()}


def registry_rows(
    sb: LocalSandbox, keep: Callable[[dict[str, Any]], bool] = lambda r: True
) -> dict[str, dict[str, Any]]:
    return {r["kode_satusehat"]: expected_row(r) for r in sb.registry if keep(r)}


def mirror_rows(db: Path, view: str = "facility_current") -> dict[str, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT * FROM {view}").fetchall()
    return {
        row["kode_satusehat"]: {k: row[k] for k in row.keys() if k not in OWN_COLUMNS}  # noqa: SIM118
        for row in rows
    }


def assert_mirror_equals(db: Path, expected: dict[str, dict[str, Any]]) -> None:
    mirrored = mirror_rows(db)
    assert mirrored.keys() == expected.keys()
    for code, row in expected.items():
        stored = mirrored[code]
        assert {k: stored.get(k) for k in row} == row, code
        assert all(v is None for k, v in stored.items() if k not in row), code


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


# -- sync, change, sync ----------------------------------------------------------------


async def test_first_sync_copies_the_registry_and_a_second_reports_nothing(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    report = await run_sync(client, db, clock)
    assert report.mode == "full" and not report.rebuilt
    assert set(report.added) == {r["kode_satusehat"] for r in sb.registry}
    assert report.changed == report.closed == ()
    assert report.facilities == FACILITIES
    assert [p.name for p in report.passes] == ["full", "catch-up"]
    assert report.high_water == TODAY.isoformat()
    assert report.passes[1].lower_bound_updated_at == "2026-06-14"
    assert_mirror_equals(db, registry_rows(sb))
    meta = dict(query(db, "SELECT key, value FROM meta"))
    assert meta["fingerprint"] == FacilityQuery.build().fingerprint()
    assert meta["high_water"] == "2026-06-15" and meta["schema_version"] == "1"

    clock.next_day()
    sb.reset_stats()
    again = await run_sync(client, db, clock)
    assert again.mode == "incremental" and again.unchanged
    assert [(p.name, p.lower_bound_updated_at) for p in again.passes] == [
        ("incremental", "2026-06-14")
    ]
    assert sb.stats.requests == 1  # nothing was updated since: one empty page
    assert query(db, "SELECT id, mode, added, changed, closed FROM sync") == [
        (1, "full", FACILITIES, 0, 0),
        (2, "incremental", 0, 0, 0),
    ]


async def test_changed_added_and_closed_facilities_are_reported_exactly(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock)
    clock.next_day()
    codes = [r["kode_satusehat"] for r in sb.registry]
    changed = codes[10:15]
    for n, code in enumerate(changed):
        sb.registry.change(code, telp=f"0812000000{n}", nama=f"Klinik Baru {n}")
    closed = [c for c in codes[100:400] if sb.registry[sb.registry.index_of(c)]["status_aktif"]]
    closed = closed[:4]
    for code in closed:
        sb.registry.close(code)
    added = sb.registry.add(7, updated_at=sb.registry.today())

    report = await run_sync(client, db, clock)
    assert report.mode == "incremental"
    assert report.added == tuple(sorted(added))
    assert report.changed == tuple(sorted(changed))
    assert report.closed == tuple(sorted(closed))
    assert report.closed_reasons == {code: "inactive" for code in sorted(closed)}
    assert_mirror_equals(db, registry_rows(sb))  # closed rows stay, status_aktif 0
    assert query(db, "SELECT kind, count(*) FROM change WHERE sync_id = 2 GROUP BY kind") == [
        ("added", 7),
        ("changed", 5),
        ("closed", 4),
    ]
    first_seen, updated_at = query(
        db, "SELECT first_seen, updated_at FROM facility WHERE kode_satusehat = ?", changed[0]
    )[0]
    assert (first_seen, updated_at) == ("2026-06-15T12:00:00Z", "2026-06-16T12:00:00Z")


async def test_a_record_touched_without_a_change_is_not_reported(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock)
    code = sb.registry[0]["kode_satusehat"]
    sb.registry.change(code, nama=sb.registry[0]["nama"])  # dated today, same content
    clock.next_day()
    report = await run_sync(client, db, clock)
    assert report.passes[0].facilities == 1 and report.unchanged


async def test_the_day_of_overlap_catches_an_update_dated_the_day_before(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    """The registry dates in its own time zone: an update after the sync, dated earlier."""
    await run_sync(client, db, clock)
    codes = [r["kode_satusehat"] for r in sb.registry]
    sb.registry.change(codes[1], telp="0811", updated_at=TODAY - dt.timedelta(days=1))
    sb.registry.change(codes[2], telp="0822", updated_at=TODAY - dt.timedelta(days=2))
    report = await run_sync(client, db, clock)
    assert report.changed == (codes[1],)  # the one dated two days back is beyond the overlap
    wider = await run_sync(client, db, clock, overlap_days=2)
    assert wider.changed == (codes[2],)


async def test_a_full_sync_closes_vanished_facilities(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock)
    gone = [sb.registry[i]["kode_satusehat"] for i in (3, 700, 2900)]
    for code in gone:
        sb.registry.remove(code)
    clock.next_day()
    incremental = await run_sync(client, db, clock)
    assert incremental.unchanged  # a deletion is not an update: only a full pass sees it

    report = await run_sync(client, db, clock, full=True)
    assert report.mode == "full" and not report.rebuilt
    assert report.closed == tuple(sorted(gone)) and not report.added and not report.changed
    assert report.closed_reasons == {code: "vanished" for code in sorted(gone)}
    assert [p.name for p in report.passes] == ["full", "catch-up", "lookup"]
    assert_mirror_equals(db, registry_rows(sb))
    kept = query(db, "SELECT kode_satusehat, gone_at FROM facility WHERE gone_at IS NOT NULL")
    assert sorted(kept) == [(code, "2026-06-16T12:00:00Z") for code in sorted(gone)]
    assert (await run_sync(client, db, clock, full=True)).unchanged  # closed once, not again


async def test_client_msi_sync_takes_the_filters_as_arguments(
    sb: LocalSandbox, client: SatuSehatClient, db: Path
) -> None:
    report = await client.msi.sync(db, jenis_sarana=104, status_aktif=True, page_size=300)
    expected = registry_rows(
        sb, lambda r: r["jenis_sarana"]["kode"] == "104" and r["status_aktif"] is True
    )
    assert report.filters == {"jenis_sarana": (104,), "status_aktif": True}
    assert set(report.added) == expected.keys()
    assert_mirror_equals(db, expected)
    assert (await client.msi.sync(db, jenis_sarana=104, status_aktif=True)).unchanged
    with pytest.raises(MirrorFilterMismatch):
        await client.msi.sync(db, jenis_sarana=104)


# -- filtered mirrors ----------------------------------------------------------------


async def test_a_province_mirror_holds_only_its_province(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    province = sb.registry[0]["provinsi"]["kode"]

    def inside(record: dict[str, Any]) -> bool:
        return bool(record["provinsi"]["kode"] == province)

    report = await run_sync(client, db, clock, filters={"kode_provinsi": province})
    expected = registry_rows(sb, inside)
    assert 0 < len(expected) < FACILITIES
    assert set(report.added) == expected.keys()
    assert report.filters == {"kode_provinsi": province}
    assert_mirror_equals(db, expected)

    inside_code = next(iter(expected))
    outside_code = next(r["kode_satusehat"] for r in sb.registry if not inside(r))
    sb.registry.change(inside_code, email="baru@example.id")
    sb.registry.change(outside_code, email="lain@example.id")
    clock.next_day()
    again = await run_sync(client, db, clock, filters={"kode_provinsi": province})
    assert again.changed == (inside_code,) and not again.added and not again.closed
    assert_mirror_equals(db, registry_rows(sb, inside))


async def test_an_active_only_mirror_drops_a_facility_that_closes(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    def active(record: dict[str, Any]) -> bool:
        return record["status_aktif"] is True

    filters = {"status_aktif": True}
    await run_sync(client, db, clock, filters=filters)
    assert_mirror_equals(db, registry_rows(sb, active))
    code = next(r["kode_satusehat"] for r in sb.registry if active(r))
    sb.registry.close(code)
    clock.next_day()
    report = await run_sync(client, db, clock, filters=filters)
    assert report.closed == (code,) and report.closed_reasons == {code: "inactive"}
    assert not report.added and not report.changed
    assert_mirror_equals(db, registry_rows(sb, active))
    assert query(db, "SELECT status_aktif FROM facility WHERE kode_satusehat = ?", code) == [(0,)]
    # reopened: found again by the next incremental pass
    sb.registry.change(code, status_aktif=True)
    assert (await run_sync(client, db, clock, filters=filters)).added == (code,)


async def test_an_inactive_only_mirror_drops_a_facility_that_reopens(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    def inactive(record: dict[str, Any]) -> bool:
        return record["status_aktif"] is False

    filters = {"status_aktif": False}
    await run_sync(client, db, clock, filters=filters)
    code = next(r["kode_satusehat"] for r in sb.registry if inactive(r))
    sb.registry.change(code, status_aktif=True)
    clock.next_day()
    report = await run_sync(client, db, clock, filters=filters)
    assert report.closed == (code,) and report.closed_reasons == {code: "left_filter"}
    assert_mirror_equals(db, registry_rows(sb, inactive))


async def test_other_filters_are_refused_unless_full_rebuilds(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock, filters={"jenis_sarana": 104})
    before = mirror_rows(db)
    sb.reset_stats()
    with pytest.raises(MirrorFilterMismatch) as caught:
        await run_sync(client, db, clock, filters={"jenis_sarana": 103})
    assert isinstance(caught.value, ValidationError)
    assert "jenis_sarana=(104,)" in str(caught.value) and "full=True" in str(caught.value)
    assert sb.stats.requests == 0 and mirror_rows(db) == before

    rebuilt = await run_sync(client, db, clock, filters={"jenis_sarana": 103}, full=True)
    assert rebuilt.rebuilt and rebuilt.mode == "full"

    def klinik(record: dict[str, Any]) -> bool:
        return bool(record["jenis_sarana"]["kode"] == "103")

    assert set(rebuilt.added) == registry_rows(sb, klinik).keys()
    assert_mirror_equals(db, registry_rows(sb, klinik))
    assert query(db, "SELECT id FROM sync") == [(1,)]  # the old history went with the old filters


async def test_bad_arguments_are_refused_before_anything_is_sent(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    sb.reset_stats()
    dated = FacilityQuery.build(lower_bound_updated_at="2024-01-01")
    with pytest.raises(ValidationError, match="lower_bound_updated_at"):
        await sync(client.msi, db, query=dated)
    with pytest.raises(ValidationError, match="query must be a FacilityQuery"):
        await sync(client.msi, db, query={"kode_provinsi": "32"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="page_size"):
        await sync(client.msi, db, query=FacilityQuery.build(), page_size=5000)
    with pytest.raises(ValidationError, match="concurrency"):
        await sync(client.msi, db, query=FacilityQuery.build(), concurrency=0)
    assert sb.stats.requests == 0 and not db.exists()


async def test_a_database_that_is_not_a_mirror_is_refused(
    sb: LocalSandbox, client: SatuSehatClient, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE patients (nik TEXT)")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    sb.reset_stats()
    for path in (other, garbage):
        with pytest.raises(MirrorError, match="cannot be used as a facility mirror") as caught:
            await sync(client.msi, path, query=FacilityQuery.build())
        assert isinstance(caught.value, SatuSehatError)
    assert sb.stats.requests == 0
    assert query(other, "SELECT name FROM sqlite_master") == [("patients",)]


# -- the gap of offset paging ----------------------------------------------------------


async def test_facilities_inserted_during_the_full_crawl_end_up_in_the_mirror(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    """Rows inserted ahead of the cursor are missed by offset paging; the catch-up finds them."""
    sb.registry.add_during_crawl(25, after_page=2)
    report = await run_sync(client, db, clock, concurrency=1)
    inserted = sb.registry.added_during_crawl
    assert len(inserted) == 25
    full, catch_up = report.passes
    assert full.facilities == FACILITIES  # the full pass alone missed all 25
    assert catch_up.facilities == 25 and catch_up.lower_bound_updated_at == "2026-06-14"
    assert set(inserted) <= set(report.added) and len(report.added) == FACILITIES + 25
    assert_mirror_equals(db, registry_rows(sb))


async def test_rows_deleted_during_a_full_crawl_do_not_close_unchanged_ones(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    """Deletions mid-crawl make offset paging skip unchanged rows: confirmed, not closed."""
    await run_sync(client, db, clock)
    clock.next_day()
    sb.registry.remove_during_crawl(60, after_page=2)  # shifts 60 unseen rows into read pages
    report = await run_sync(client, db, clock, full=True, concurrency=1)
    removed = sb.registry.removed_during_crawl
    assert len(removed) == 60  # read on page 1, then deleted: they shift 60 others back
    assert report.passes[0].facilities == FACILITIES - 60  # so the full pass missed 60
    assert report.passes[-1].name == "confirm"  # too many for lookups: a pass with seen=
    assert report.passes[-1].facilities == 60
    assert report.unchanged  # none of the 60 missed was closed
    # the deleted ones were seen before they went: the next full pass closes them
    assert mirror_rows(db).keys() == registry_rows(sb).keys() | set(removed)
    clock.next_day()
    after = await run_sync(client, db, clock, full=True)
    assert after.closed == tuple(sorted(removed)) and not after.added and not after.changed
    assert set(after.closed_reasons.values()) == {"vanished"}
    assert_mirror_equals(db, registry_rows(sb))


# -- interruption ----------------------------------------------------------------------


async def test_changes_of_an_interrupted_sync_are_reported_by_the_next(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock)
    codes = [r["kode_satusehat"] for r in sb.registry]
    for code in codes[:600]:
        sb.registry.change(code, website="https://baru.example.id")
    clock.next_day()

    def stop(name: str, stats: Any) -> None:
        raise RuntimeError("stopped after one page")

    with pytest.raises(RuntimeError):
        await run_sync(client, db, clock, on_page=stop)
    assert query(db, "SELECT count(*) FROM facility WHERE updated_at LIKE '2026-06-16%'") == [
        (500,)
    ]  # the first page was committed
    report = await run_sync(client, db, clock)
    assert report.changed == tuple(sorted(codes[:600]))
    assert query(db, "SELECT id, finished_at IS NOT NULL FROM sync") == [
        (1, 1),
        (2, 0),
        (3, 1),
    ]


async def test_the_report_reads_as_text_and_as_json(
    sb: LocalSandbox, client: SatuSehatClient, db: Path, clock: Clock
) -> None:
    await run_sync(client, db, clock, filters={"jenis_sarana": [104, 102]})
    code = next(r["kode_satusehat"] for r in sb.registry if r["jenis_sarana"]["kode"] == "104")
    sb.registry.change(code, telp="0800")
    report: SyncReport = await run_sync(client, db, clock, filters={"jenis_sarana": [104, 102]})
    text = report.summary()
    assert f"msi sync {db}: incremental pass" in text
    assert "(filters: jenis_sarana=104,102)" in text
    assert "added 0, changed 1, closed 0" in text and f"changed: {code}" in text
    document = json.loads(report.to_json())
    assert document["counts"] == {"added": 0, "changed": 1, "closed": 0}
    assert document["changed"] == [code] and document["mode"] == "incremental"
    assert document["filters"] == {"jenis_sarana": [104, 102]}
    assert document["passes"][0]["name"] == "incremental"
