"""The mirror's SQLite side: schema, one transaction per page, the end-of-sync classification.

Blocking code only; :mod:`satusehat_async.msi.mirror` runs every call in one worker
thread. The schema is documented in :mod:`satusehat_async.msi.mirror`.
"""

# The SQL below is assembled from the column names of the models and "?" placeholders
# only; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from satusehat_async.errors import SatuSehatError
from satusehat_async.msi.mirror_rows import COLUMNS, FacilityRow, row_hash

__all__ = ["SCHEMA_VERSION", "MirrorError", "MirrorStore"]

#: The ``schema_version`` this module writes and reads.
SCHEMA_VERSION = "1"

_NAMES = [name for name, _ in COLUMNS]
_FACILITY_COLUMNS = ",\n  ".join(
    f"{name} {kind} PRIMARY KEY" if name == "kode_satusehat" else f"{name} {kind}"
    for name, kind in COLUMNS
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facility (
  {_FACILITY_COLUMNS},
  content_hash TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_sync INTEGER NOT NULL,
  gone_at TEXT
);
CREATE INDEX IF NOT EXISTS facility_last_sync ON facility (last_sync);
CREATE VIEW IF NOT EXISTS facility_current AS SELECT * FROM facility WHERE gone_at IS NULL;
CREATE TABLE IF NOT EXISTS sync (
  id INTEGER PRIMARY KEY,
  mode TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  lower_bound TEXT,
  high_water TEXT NOT NULL,
  added INTEGER,
  changed INTEGER,
  closed INTEGER,
  facilities INTEGER
);
CREATE TABLE IF NOT EXISTS change (
  sync_id INTEGER NOT NULL REFERENCES sync (id),
  kode_satusehat TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('added', 'changed', 'closed')),
  reason TEXT,
  PRIMARY KEY (sync_id, kode_satusehat)
);
CREATE TABLE IF NOT EXISTS pending (
  kode_satusehat TEXT PRIMARY KEY,
  before_hash TEXT,
  before_aktif INTEGER,
  before_present INTEGER NOT NULL
);
"""
_UPSERT = (
    f"INSERT INTO facility ({', '.join(_NAMES)}, content_hash, first_seen, last_seen, "
    f"updated_at, last_sync, gone_at) VALUES ({', '.join('?' * len(_NAMES))}, ?, ?, ?, ?, ?, "
    "NULL) ON CONFLICT (kode_satusehat) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _NAMES[1:])
    + ", content_hash = excluded.content_hash, last_seen = excluded.last_seen, "
    "updated_at = excluded.updated_at, last_sync = excluded.last_sync, gone_at = NULL"
)
_GONE = (
    ", ".join(f"{name} = ?" for name in _NAMES[1:])
    + ", content_hash = ?, last_seen = ?, updated_at = ?, last_sync = ?, gone_at = ?"
)
_AKTIF = _NAMES.index("status_aktif")
_CHUNK = 500  # bound parameters per IN (...) lookup: well under SQLite's oldest limit


class MirrorError(SatuSehatError):
    """The mirror's database cannot be used: not a mirror, damaged, locked, or unwritable."""


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class MirrorStore:
    """One open mirror database (used from one thread at a time)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            # isolation_level=None: transactions are explicit (BEGIN ... COMMIT per page)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
            self.db.execute("PRAGMA busy_timeout = 5000")
            self._check_foreign()
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise MirrorError(f"{path}: cannot be used as a facility mirror ({exc})") from None

    def _check_foreign(self) -> None:
        """Refuse a database holding other tables and no mirror (someone else's file)."""
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise sqlite3.DatabaseError("it holds other tables and no mirror")
        if "meta" in tables:
            version = self.meta().get("schema_version")
            if version is not None and version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema_version {version}, not {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def meta(self) -> dict[str, str]:
        """The ``meta`` table as a dict."""
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, str | None]) -> None:
        """Write (or, for None, delete) ``meta`` keys in one transaction."""
        with self._transaction():
            for key, value in values.items():
                if value is None:
                    self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def reset(self, meta: dict[str, str | None]) -> None:
        """Empty the mirror (a rebuild) and set ``meta``, in one transaction."""
        with self._transaction():
            for table in ("facility", "change", "pending", "sync", "meta"):
                self.db.execute(f"DELETE FROM {table}")
        self.set_meta(meta)

    def begin_sync(self, mode: str, started_at: str, lower_bound: str | None, mark: str) -> int:
        """Record a sync's start; returns its id."""
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO sync (mode, started_at, lower_bound, high_water) VALUES (?, ?, ?, ?)",
                (mode, started_at, lower_bound, mark),
            )
        return int(cursor.lastrowid or 0)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def _previous(self, codes: Sequence[str]) -> dict[str, tuple[str, Any, Any]]:
        """code -> (content_hash, status_aktif, gone_at) for those already mirrored."""
        found: dict[str, tuple[str, Any, Any]] = {}
        for chunk in _chunks(codes):
            marks = ",".join("?" * len(chunk))
            for code, digest, aktif, gone in self.db.execute(
                "SELECT kode_satusehat, content_hash, status_aktif, gone_at FROM facility "
                f"WHERE kode_satusehat IN ({marks})",
                tuple(chunk),
            ):
                found[code] = (digest, aktif, gone)
        return found

    def write(
        self, rows: Sequence[FacilityRow], out: Sequence[FacilityRow], sync_id: int, now: str
    ) -> None:
        """Apply one page in one transaction.

        ``rows`` match the mirror's filters and are upserted; ``out`` are records seen
        outside them (the status widening of an incremental pass): a mirrored one leaves
        the mirror (``gone_at``), an unknown one is ignored. The state before the first
        change since the last completed sync is kept in ``pending``.
        """
        previous = self._previous([row[0] for row in (*rows, *out)])
        upserts: list[tuple[Any, ...]] = []
        seen: list[str] = []
        touched: list[tuple[Any, ...]] = []
        gone: list[tuple[Any, ...]] = []
        for row in rows:
            digest = row_hash(row)
            before = previous.get(row[0])
            if before is not None and before[0] == digest and before[2] is None:
                seen.append(row[0])
                continue
            touched.append(_pending(row[0], before))
            upserts.append((*row, digest, now, now, now, sync_id))
        for row in out:
            before = previous.get(row[0])
            if before is not None and before[2] is None:
                touched.append(_pending(row[0], before))
                gone.append((*row[1:], row_hash(row), now, now, sync_id, now, row[0]))
        with self._transaction():
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?)", touched)
            self.db.executemany(_UPSERT, upserts)
            for chunk in _chunks(seen):  # unchanged rows: one statement per chunk
                self.db.execute(
                    "UPDATE facility SET last_seen = ?, last_sync = ? WHERE kode_satusehat IN "
                    f"({','.join('?' * len(chunk))})",
                    (now, sync_id, *chunk),
                )
            self.db.executemany(
                f"UPDATE facility SET {_GONE} WHERE kode_satusehat = ?",
                gone,
            )

    def unseen(self, sync_id: int) -> list[str]:
        """Mirrored codes a (full) sync has not seen yet: the candidates to vanish."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT kode_satusehat FROM facility WHERE gone_at IS NULL AND last_sync < ? "
                "ORDER BY kode_satusehat",
                (sync_id,),
            )
        ]

    def seen_codes(self, sync_id: int) -> Iterator[str]:
        """The codes a sync has seen so far (for a crawl's ``seen=``)."""
        for row in self.db.execute(
            "SELECT kode_satusehat FROM facility WHERE last_sync = ?", (sync_id,)
        ):
            yield row[0]

    def vanish(self, codes: Iterable[str], now: str) -> None:
        """Mark ``codes`` gone from the registry (a full sync did not find them)."""
        codes = list(codes)
        previous = self._previous(codes)
        with self._transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?)",
                [_pending(code, previous.get(code)) for code in codes],
            )
            self.db.executemany(
                "UPDATE facility SET gone_at = ? WHERE kode_satusehat = ? AND gone_at IS NULL",
                [(now, code) for code in codes],
            )

    def finish(
        self, sync_id: int, finished_at: str, meta: dict[str, str | None]
    ) -> list[tuple[str, str, str | None]]:
        """Classify every pending change, record it under the sync, clear ``pending``.

        Returns ``(kode_satusehat, kind, reason)`` rows; one transaction with the ``meta``
        update (the new high-water mark), so a sync either completes whole or not at all.
        """
        changes: list[tuple[str, str, str | None]] = []
        query = (
            "SELECT p.kode_satusehat, p.before_hash, p.before_aktif, p.before_present, "
            "f.content_hash, f.status_aktif, f.gone_at, f.last_sync "
            "FROM pending p LEFT JOIN facility f USING (kode_satusehat)"
        )
        for code, b_hash, b_aktif, b_present, digest, aktif, gone, last_sync in self.db.execute(
            query
        ):
            present = digest is not None and gone is None
            before = (bool(b_present), b_hash, b_aktif)
            change = _classify(before, present, digest, aktif, seen=last_sync == sync_id)
            if change is not None:
                changes.append((code, *change))
        counts = {kind: sum(1 for _, k, _ in changes if k == kind) for kind in _KINDS}
        with self._transaction():
            self.db.executemany(
                "INSERT INTO change VALUES (?, ?, ?, ?)",
                [(sync_id, code, kind, reason) for code, kind, reason in changes],
            )
            self.db.execute("DELETE FROM pending")
            self.db.execute(
                "UPDATE sync SET finished_at = ?, added = ?, changed = ?, closed = ?, "
                "facilities = (SELECT count(*) FROM facility WHERE gone_at IS NULL) "
                "WHERE id = ?",
                (finished_at, counts["added"], counts["changed"], counts["closed"], sync_id),
            )
            for key, value in meta.items():
                if value is not None:
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        return changes

    def count(self) -> int:
        """Facilities in the mirror now (``facility_current``)."""
        return int(self.db.execute("SELECT count(*) FROM facility_current").fetchone()[0])


_KINDS = ("added", "changed", "closed")


def _pending(code: str, before: tuple[str, Any, Any] | None) -> tuple[Any, ...]:
    if before is None:
        return (code, None, None, 0)
    return (code, before[0], before[1], 1 if before[2] is None else 0)


def _classify(
    before: tuple[bool, str | None, Any],
    present: bool,
    digest: str | None,
    aktif: Any,
    *,
    seen: bool,
) -> tuple[str, str | None] | None:
    """What happened to one facility between two completed syncs (None: nothing).

    ``before`` is (was it in the mirror, its content hash, its status_aktif) at the last
    completed sync; ``seen``: this sync saw its record.
    """
    was_present, before_hash, before_aktif = before
    if not was_present:
        return ("added", None) if present else None
    if not present:
        if not seen:  # a full pass did not find it: gone from the registry or its filters
            return ("closed", "vanished")
        # seen outside the mirror's filters (an incremental pass widened status_aktif)
        return ("closed", "inactive" if aktif == 0 else "left_filter")
    if digest == before_hash:
        return None
    if aktif == 0 and before_aktif != 0:
        return ("closed", "inactive")
    return ("changed", None)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
