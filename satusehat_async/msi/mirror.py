"""A local SQLite mirror of the facility registry, refreshed incrementally.

:func:`sync` (``client.msi.sync(database, ...)``, ``satusehat msi sync DB``) keeps a copy
of the registry, or of the part matching some filters, in a SQLite database (the standard
library's ``sqlite3``, WAL mode, one transaction per page, all database work in one worker
thread so the event loop keeps fetching), and reports what was added, changed and closed
since the last sync as a :class:`~satusehat_async.msi.mirror_report.SyncReport`.

How a sync crawls:

* **full** (the first sync, or ``full=True``): every matching facility; then at once a
  **catch-up** pass with ``lower_bound_updated_at`` = the day before the full pass started,
  which delivers every facility added or changed while it ran, including those inserted
  at positions the offset cursor had already passed. Facilities the full pass did not
  find are then looked up (by ``kode_satusehat``, or with a second full pass given the
  found codes as ``seen=`` when there are many), because rows deleted mid-crawl make
  offset paging skip unchanged ones; only those still missing are closed as ``vanished``.
* **incremental** (later syncs): facilities updated since the day before the last sync's
  high-water mark (the UTC date it started). The registry filters by *date*, so a day of
  overlap covers its time zone (WIB) and clock skew; records are compared by content, so
  the overlap reports nothing that did not change. A mirror filtered on ``status_aktif``
  is crawled without that filter here, so a facility that closes (or reopens) is seen.

What it can promise: after a sync, every facility updated (as the registry dates it)
since the previous sync's start is in the mirror as last seen, and a full sync also drops
facilities that left the registry or the filters. What it cannot: an incremental pass
does not see a facility *deleted* from the registry, nor one changed out of the mirror's
other filters (a move to another province, a new name outside a ``nama`` filter), and a
full pass keeps a facility deleted after its page was read: run ``full=True`` now and
then (weekly, say) to find those.

Closed means: ``status_aktif`` became false (reason ``inactive``; an unfiltered mirror
keeps the row, a ``status_aktif=True`` mirror drops it), or a full sync no longer finds
the facility (``vanished``: the row stays with ``gone_at`` set), or it was seen outside a
``status_aktif`` filter (``left_filter``). A facility found again later is ``added``. A
facility first seen already inactive is ``added``; a change to a closed one is ``changed``.

The database remembers its filters (``meta.fingerprint``,
:meth:`FacilityQuery.fingerprint`) and refuses to sync with others
(:class:`MirrorFilterMismatch`) unless ``full=True``, which empties and rebuilds it.

Schema (``schema_version`` 1), for other tools:

* ``meta (key TEXT PRIMARY KEY, value TEXT)``: ``schema_version``; ``fingerprint``;
  ``query`` (the filters as JSON, FacilityQuery's field names); ``created_at``;
  ``high_water`` (YYYY-MM-DD, the UTC date the last completed sync started; absent until
  one completes).
* ``facility``: one row per ``kode_satusehat`` (``TEXT PRIMARY KEY``). Every field of
  :class:`~satusehat_async.msi.Facility`, nested objects flattened as
  ``<object>_<field>``: ``kode_sarana, nama, telp, email, website`` TEXT;
  ``longitude, latitude`` REAL; ``operasional`` INTEGER (0/1/NULL);
  ``wilayah_perairan_darat, wilayah_karakteristik`` TEXT; ``sarana_administrasi_kode,
  _nama, _kode_sarana`` TEXT, ``sarana_administrasi_status_aktif`` INTEGER,
  ``sarana_administrasi_status_sarana`` TEXT; ``alamat`` TEXT; ``provinsi_kode, _nama,
  _kode_bps, _kode_lama`` and ``kabkota_kode, _nama, _kode_bps, _kode_lama`` TEXT;
  ``jenis_sarana_kode, _nama, _nama_alt`` and ``subjenis_kode, _nama, _nama_alt`` TEXT;
  ``kelas_sarana_kode, _nama`` TEXT; ``status_sarana`` TEXT; ``status_aktif`` INTEGER.
  A null object and an object of nulls both store NULLs. Then the mirror's own columns:
  ``content_hash`` TEXT (a digest of the columns above), ``first_seen``, ``last_seen``
  and ``updated_at`` (TEXT, ISO 8601 UTC: first seen, last seen, last seen *changed* by
  this mirror — the registry does not answer its own update dates), ``last_sync``
  INTEGER (the last sync that saw it), ``gone_at`` TEXT (NULL while in the registry
  and the filters). The view ``facility_current`` is ``facility WHERE gone_at IS NULL``:
  the registry as of the last sync.
* ``sync (id INTEGER PRIMARY KEY, mode TEXT, started_at TEXT, finished_at TEXT,
  lower_bound TEXT, high_water TEXT, added, changed, closed, facilities INTEGER)``: one
  row per sync; ``finished_at`` NULL for one that did not complete (its pages are kept
  and its changes are reported by the next completed sync).
* ``change (sync_id INTEGER, kode_satusehat TEXT, kind TEXT, reason TEXT,
  PRIMARY KEY (sync_id, kode_satusehat))``: what each completed sync reported; ``kind``
  is ``added``, ``changed`` or ``closed``, ``reason`` one of the closed reasons above.
* ``pending``: the mirror's bookkeeping between a sync's first page and its end.

One sync at a time per database (a second waits up to 5 s for the lock, then fails with
:class:`MirrorError`); readers may read at any time (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.msi.mirror_passes import Crawler, stamp
from satusehat_async.msi.mirror_report import PassReport, SyncReport
from satusehat_async.msi.mirror_store import SCHEMA_VERSION, MirrorError, MirrorStore
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery, validate_page_size
from satusehat_async.msi.stats import CrawlStats

if TYPE_CHECKING:
    from satusehat_async.msi.api import MSI

__all__ = ["MirrorError", "MirrorFilterMismatch", "PassReport", "SyncReport", "sync"]

T = TypeVar("T")
#: ``on_page(pass_name, stats)``: called after each page is stored (for progress).
PageCallback = Callable[[str, CrawlStats], None]


class MirrorFilterMismatch(ValidationError):
    """The database mirrors other filters; sync it with its own, or rebuild (``full=True``)."""


def _filters(query: FacilityQuery) -> dict[str, Any]:
    """The filters that differ from the defaults (what a person needs to read)."""
    default = FacilityQuery()
    return {
        field.name: getattr(query, field.name)
        for field in dataclasses.fields(query)
        if getattr(query, field.name) != getattr(default, field.name)
    }


def _mirror_query(query: object) -> FacilityQuery:
    if not isinstance(query, FacilityQuery):
        raise ValidationError(
            f"query must be a FacilityQuery (FacilityQuery.build(...)), got {type(query).__name__}"
        )
    for name in ("lower_bound_updated_at", "upper_bound_updated_at"):
        if getattr(query, name) is not None:
            raise ValidationError(
                f"a mirror sets {name} itself (it syncs what changed since the last sync); "
                "leave it out"
            )
    return query


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


class _Worker:
    """The one thread all database work runs in, so the event loop is never blocked."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="msi-mirror")

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in the thread; a cancelled caller waits for it to end."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(function, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # the transaction in flight finishes (or rolls back) before we unwind
            with contextlib.suppress(Exception):
                await future
            raise
        except sqlite3.Error as exc:
            raise MirrorError(f"{self.path}: {exc}") from None

    def shutdown(self) -> None:
        """Let the thread go (it is idle: every call was awaited)."""
        self._executor.shutdown(wait=False)


def _prepare(store: MirrorStore, query: FacilityQuery, full: bool, now: str) -> tuple[str, bool]:
    """Check (or set) the mirror's filters; returns (mode, rebuilt). Runs in the thread."""
    meta = store.meta()
    fingerprint = query.fingerprint()
    fresh = {
        "schema_version": SCHEMA_VERSION,
        "fingerprint": fingerprint,
        "query": msgspec.json.encode(dataclasses.asdict(query)).decode(),
        "created_at": now,
    }
    if "fingerprint" not in meta:
        store.set_meta(dict(fresh))
        return "full", False
    if meta["fingerprint"] != fingerprint:
        if not full:
            raise MirrorFilterMismatch(
                f"{store.path} mirrors other filters ({_described(meta.get('query'))}) than "
                f"these ({_described_query(query)}): sync it with its own filters, or pass "
                "full=True to rebuild it for these"
            )
        store.reset(dict(fresh))
        return "full", True
    return ("full" if full or "high_water" not in meta else "incremental"), False


def _described_query(query: FacilityQuery) -> str:
    return ", ".join(f"{k}={v}" for k, v in _filters(query).items()) or "no filters"


def _described(stored: str | None) -> str:
    try:
        fields = msgspec.json.decode(stored or "{}")
        return _described_query(FacilityQuery(**{k: _tuple(v) for k, v in fields.items()}))
    except (msgspec.DecodeError, TypeError):
        return "unreadable filters"


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


async def sync(
    msi: MSI,
    database: str | os.PathLike[str],
    *,
    query: FacilityQuery,
    full: bool = False,
    page_size: int = MAX_PAGE_SIZE,
    concurrency: int = 4,
    overlap_days: int = 1,
    clock: Callable[[], float] = time.time,
    on_page: PageCallback | None = None,
) -> SyncReport:
    """Bring the mirror in ``database`` up to date with the registry's ``query`` part.

    Creates the database on first use (a full pass); later calls crawl only what was
    updated since the last sync, less ``overlap_days`` days. See the module's
    documentation for the passes, what they promise, and the schema.

    Args:
        msi: the registry API (``client.msi``).
        database: the SQLite file (created if missing).
        query: the mirror's filters (without the ``*_bound_updated_at`` dates).
        full: crawl everything (finds vanished facilities); with other filters than the
            database's, empty it and rebuild it for these.
        page_size, concurrency: as for :meth:`MSI.pages <satusehat_async.msi.MSI.pages>`.
        overlap_days: days an incremental pass reaches back before the high-water mark.
        clock: seconds since the epoch (the high-water mark and the timestamps).
        on_page: called after each stored page with the pass's name and live stats.

    Raises:
        ValidationError: bad arguments (nothing sent, the database untouched).
        MirrorFilterMismatch: the database mirrors other filters and ``full`` is False.
        MirrorError: the database cannot be used (not a mirror, locked, unwritable).
    """
    query = _mirror_query(query)
    page_size = validate_page_size(page_size)
    concurrency = _count("concurrency", concurrency, 1)
    overlap = dt.timedelta(days=_count("overlap_days", overlap_days, 0))
    path = os.fspath(database)
    worker = _Worker(path)
    try:
        store = await worker.call(MirrorStore, path)
        try:
            crawler = Crawler(
                msi,
                worker.call,
                store,
                query,
                page_size=page_size,
                concurrency=concurrency,
                on_page=on_page,
                clock=clock,
            )
            return await _sync(worker, store, crawler, bool(full), overlap)
        finally:
            await worker.call(store.close)
    finally:
        worker.shutdown()


async def _sync(
    worker: _Worker, store: MirrorStore, crawler: Crawler, full: bool, overlap: dt.timedelta
) -> SyncReport:
    """One sync on an open store: prepare, crawl, classify, report."""
    started = crawler.clock()
    today = dt.datetime.fromtimestamp(started, dt.timezone.utc).date()
    mode, rebuilt = await worker.call(_prepare, store, crawler.query, full, stamp(started))
    meta = await worker.call(store.meta)
    mark = dt.date.fromisoformat(meta["high_water"]) if mode == "incremental" else today
    lower = (mark - overlap).isoformat()
    sync_id = await worker.call(store.begin_sync, mode, stamp(started), lower, today.isoformat())
    await crawler.run(sync_id, mode, lower)
    finished = stamp(crawler.clock())
    rows = await worker.call(store.finish, sync_id, finished, {"high_water": today.isoformat()})
    return SyncReport(
        database=worker.path,
        sync_id=sync_id,
        mode=mode,
        rebuilt=rebuilt,
        fingerprint=crawler.query.fingerprint(),
        filters=_filters(crawler.query),
        started_at=stamp(started),
        finished_at=finished,
        high_water=today.isoformat(),
        facilities=await worker.call(store.count),
        passes=tuple(crawler.passes),
        **_by_kind(rows),
    )


def _by_kind(rows: Sequence[tuple[str, str, str | None]]) -> dict[str, Any]:
    """The store's change rows as SyncReport's added/changed/closed/closed_reasons."""
    by_kind: dict[str, list[str]] = {"added": [], "changed": [], "closed": []}
    reasons: dict[str, str] = {}
    for code, kind, reason in rows:
        by_kind[kind].append(code)
        if kind == "closed":
            reasons[code] = reason or "vanished"
    kinds: dict[str, Any] = {kind: tuple(sorted(codes)) for kind, codes in by_kind.items()}
    kinds["closed_reasons"] = dict(sorted(reasons.items()))
    return kinds
