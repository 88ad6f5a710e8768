"""What one mirror sync did: :class:`SyncReport` (text for a person, JSON for programs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import msgspec

__all__ = ["PassReport", "SyncReport"]

_SHOWN = 10  # codes listed per kind in the text summary


@dataclasses.dataclass(frozen=True)
class PassReport:
    """One crawl of a sync.

    Attributes:
        name: ``full`` (every matching facility), ``incremental`` (updated since the
            last sync), ``catch-up`` (after a full pass: updated since it started),
            ``confirm`` (a full pass with ``seen=``, or ``lookup`` by code: facilities a
            full pass did not find, before calling them vanished).
        lower_bound_updated_at: the pass's ``lower_bound_updated_at`` (None: none).
        pages, facilities, duplicates_skipped, retries: as in
            :class:`~satusehat_async.msi.CrawlStats`.
        possibly_incomplete: the registry moved under the pass (offset paging).
    """

    name: str
    lower_bound_updated_at: str | None
    pages: int
    facilities: int
    duplicates_skipped: int
    retries: int
    possibly_incomplete: bool


@dataclasses.dataclass(frozen=True)
class SyncReport:
    """What a sync changed in the mirror, since the last completed sync.

    Each ``kode_satusehat`` is in at most one of ``added``, ``changed`` and ``closed``
    (sorted). ``closed_reasons`` says why each closed one is: ``inactive`` (its
    ``status_aktif`` became false), ``vanished`` (a full pass no longer finds it) or
    ``left_filter`` (seen outside the mirror's ``status_aktif`` filter).

    Attributes:
        database: the database path.
        sync_id: the sync's row in the ``sync`` table.
        mode: ``full`` or ``incremental``.
        rebuilt: the mirror was emptied first (``full=True`` with other filters).
        fingerprint: the mirror's filters' :meth:`FacilityQuery.fingerprint`.
        filters: the mirror's filters (the non-default ones).
        started_at, finished_at: ISO 8601 UTC timestamps.
        high_water: the UTC date the sync started: the next incremental pass asks for
            facilities updated since the day before it.
        facilities: facilities in the mirror after the sync (``facility_current``).
        passes: every crawl the sync made, in order.
    """

    database: str
    sync_id: int
    mode: str
    rebuilt: bool
    fingerprint: str
    filters: dict[str, Any]
    started_at: str
    finished_at: str
    high_water: str
    facilities: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    closed: tuple[str, ...]
    closed_reasons: dict[str, str]
    passes: tuple[PassReport, ...]

    @property
    def counts(self) -> dict[str, int]:
        """``{"added": n, "changed": n, "closed": n}``."""
        return {"added": len(self.added), "changed": len(self.changed), "closed": len(self.closed)}

    @property
    def unchanged(self) -> bool:
        """Nothing was added, changed or closed."""
        return not (self.added or self.changed or self.closed)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (the ``--format json`` document)."""
        data = dataclasses.asdict(self)
        data["counts"] = self.counts
        return data

    def to_json(self) -> str:
        """The report as a JSON document (keys in a stable order)."""
        return msgspec.json.encode(self.to_dict(), order="sorted").decode()

    def summary(self) -> str:
        """A few lines for a person: what changed, how it was crawled, what comes next."""
        filters = ", ".join(f"{k}={_text(v)}" for k, v in self.filters.items()) or "none"
        counts = self.counts
        lines = [
            f"msi sync {self.database}: {self.mode} pass"
            + (" (rebuilt for new filters)" if self.rebuilt else "")
            + f", {self.facilities:,} facilities in the mirror (filters: {filters})",
            f"  added {counts['added']:,}, changed {counts['changed']:,}, "
            f"closed {counts['closed']:,}" + ("" if not self.unchanged else " (no change)"),
        ]
        for kind, codes in (("added", self.added), ("changed", self.changed)):
            if codes:
                lines.append(f"  {kind}: {_codes(codes)}")
        if self.closed:
            closed = [f"{code} ({self.closed_reasons.get(code, '?')})" for code in self.closed]
            lines.append(f"  closed: {_codes(closed)}")
        lines.append("  crawled: " + "; ".join(_pass_line(p) for p in self.passes))
        if any(p.possibly_incomplete for p in self.passes):
            lines.append(
                "  note: the registry moved during a crawl; the passes above closed the gap "
                "(see the mirror's documentation for what offset paging can promise)"
            )
        return "\n".join(lines)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _codes(codes: Sequence[str]) -> str:
    shown = ", ".join(codes[:_SHOWN])
    more = len(codes) - _SHOWN
    return shown + (f" (+{more:,} more)" if more > 0 else "")


def _pass_line(report: PassReport) -> str:
    since = f" from {report.lower_bound_updated_at}" if report.lower_bound_updated_at else ""
    return f"{report.name}{since} {report.pages} page(s), {report.facilities:,} facilities" + (
        f", {report.retries} retries" if report.retries else ""
    )
