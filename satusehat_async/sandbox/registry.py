"""The sandbox's facility registry: pre-encoded records, filtered lists cached per query.

Each facility is kept as the JSON bytes the API answers with, so a page of 2,000 is one
``b",".join`` of a slice, and the list of matches of a filter is computed once and then
shared by every page of a crawl (until the registry changes).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import msgspec

from satusehat_async.sandbox.facilities import FacilityGenerator, Row, row_after_change
from satusehat_async.sandbox.msi import SOURCES, MsiFilter, MsiQuery, source_code

__all__ = ["FacilityMeta", "Registry"]

_CACHED_FILTERS = 64
_REMEMBER_UP_TO = 20_000
_REMEMBERED = 4
# (count, seed) -> records and rows already drawn; equal seeds draw equal registries
_DRAWN: OrderedDict[tuple[int, int], tuple[tuple[bytes, ...], tuple[Row, ...]]] = OrderedDict()
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class FacilityMeta:
    """What the registry knows about a facility beyond its JSON record.

    ``kode_kecamatan`` and ``updated_at`` drive the ``kode_kecamatan`` and
    ``*_bound_updated_at`` filters but are not part of the answered record (as in the
    real API); ``identifiers`` maps each ``sumber_identifier`` to the facility's code there.
    """

    kode_satusehat: str
    kode_sarana: str
    jenis_sarana: str
    kode_kecamatan: str
    updated_at: str
    identifiers: dict[str, str]


class Registry(Sequence[dict[str, Any]]):
    """The facilities, in the stable order every page answer follows.

    Indexing returns a freshly decoded ``dict`` of the record (the sandbox serves the
    bytes, so changing the dict changes nothing); ``len()`` and iteration work as on a list.
    """

    def __init__(self, count: int, seed: int, *, clock: Callable[[], float] = time.time) -> None:
        if count < 0:
            raise ValueError("the facility count cannot be negative")
        self._seed, self._initial = seed, count
        self._generator: FacilityGenerator | None = None
        drawn = _DRAWN.get((count, seed))
        if drawn is None:
            self._generator = FacilityGenerator(seed)
            pairs = self._generator.generate(count)
            drawn = (tuple(blob for blob, _ in pairs), tuple(row for _, row in pairs))
            if count <= _REMEMBER_UP_TO:  # test suites start many small sandboxes
                _DRAWN[(count, seed)] = drawn
                while len(_DRAWN) > _REMEMBERED:
                    _DRAWN.popitem(last=False)
        else:
            _DRAWN.move_to_end((count, seed))
        self._blobs: list[bytes] = list(drawn[0])
        self._rows: list[Row] = list(drawn[1])
        self._cache: OrderedDict[MsiFilter, list[bytes]] = OrderedDict()
        self.version = 0
        """Bumped by every change to the registry."""
        self.overreport_total_page = 0
        """Pages added to every answer's ``total_page``: a stale, too-big count (a quirk)."""
        self.clock = clock
        """Seconds since the epoch: its UTC date is "today" for :meth:`change` and :meth:`close`."""
        self._removals: list[tuple[int, int]] = []  # (after_page, count), in order
        self._additions: list[tuple[int, int, str | None]] = []  # (after_page, count, date)
        self.added_during_crawl: list[str] = []
        """The codes :meth:`add_during_crawl` has added so far."""
        self.removed_during_crawl: list[str] = []
        """The codes :meth:`remove_during_crawl` has removed so far."""

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [_decode(blob) for blob in self._blobs[index]]
        record: dict[str, Any] = _decode(self._blobs[index])
        return record

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for blob in self._blobs:
            yield _decode(blob)

    def raw(self, index: int) -> bytes:
        """The JSON bytes served for the facility at ``index``."""
        return self._blobs[index]

    def row(self, index: int) -> Row:
        """The filterable fields of the facility at ``index``."""
        return self._rows[index]

    def meta(self, index: int) -> FacilityMeta:
        """Kecamatan, update date and source-system codes of the facility at ``index``."""
        row = self._rows[index]
        identifiers = {}
        for sumber in SOURCES:
            code = source_code(row, sumber)
            if code is not None:
                identifiers[sumber] = code
        return FacilityMeta(
            kode_satusehat=row.kode_satusehat,
            kode_sarana=row.kode_sarana,
            jenis_sarana=row.jenis,
            kode_kecamatan=row.kecamatan,
            updated_at=row.updated_at,
            identifiers=identifiers,
        )

    def index_of(self, kode_satusehat: str) -> int:
        """Position of the facility with that SATUSEHAT code; ``KeyError`` if none."""
        for index, row in enumerate(self._rows):
            if row.kode_satusehat == kode_satusehat:
                return index
        raise KeyError(kode_satusehat)

    def add(
        self, count: int, *, at_front: bool = True, updated_at: str | dt.date | None = None
    ) -> list[str]:
        """Register ``count`` new facilities; returns their ``kode_satusehat`` codes.

        ``at_front`` puts them before every existing facility, so the rows of every page
        of a crawl in progress shift (as on a live registry); ``updated_at`` is their
        update date (default: drawn at random like the others).
        """
        if count < 0:
            raise ValueError("the facility count cannot be negative")
        date = updated_at.isoformat() if isinstance(updated_at, dt.date) else updated_at
        if self._generator is None:  # the first draw was remembered: replay it to go on
            self._generator = FacilityGenerator(self._seed)
            self._generator.generate(self._initial)
        pairs = self._generator.generate(count, updated_at=date)
        blobs = [blob for blob, _ in pairs]
        rows = [row for _, row in pairs]
        if at_front:
            self._blobs[0:0] = blobs
            self._rows[0:0] = rows
        else:
            self._blobs.extend(blobs)
            self._rows.extend(rows)
        self._changed()
        return [row.kode_satusehat for row in rows]

    def remove(self, kode_satusehat: str) -> None:
        """Drop a facility from the registry (rows after it shift up by one)."""
        index = self.index_of(kode_satusehat)
        del self._blobs[index]
        del self._rows[index]
        self._changed()

    def put(self, index: int, record: dict[str, Any] | bytes) -> None:
        """Serve ``record`` (a dict, or raw JSON bytes) for the facility at ``index``.

        For hostile-data tests: the record may be anything, even JSON no model fits (huge
        numbers, odd types, control characters). The facility's filterable fields (type,
        region, dates) stay those it was drawn with.
        """
        blob = record if isinstance(record, bytes) else msgspec.json.encode(record)
        self._blobs[index] = blob
        self._changed()

    def today(self) -> str:
        """The registry's today (``YYYY-MM-DD``, the UTC date of :attr:`clock`)."""
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date().isoformat()

    def change(
        self, kode_satusehat: str, *, updated_at: str | dt.date | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change fields of a facility's record, as an update in the registry would.

        ``fields`` replace the record's top-level fields (a nested one whole:
        ``provinsi={...}``); the filters follow (name, status, type, region). The update
        date becomes ``updated_at`` (default :meth:`today`), so ``lower_bound_updated_at``
        finds it. Returns the new record.
        """
        if "kode_satusehat" in fields:
            raise ValueError("kode_satusehat identifies the facility: it cannot change")
        index = self.index_of(kode_satusehat)
        record: dict[str, Any] = _decode(self._blobs[index])
        record.update(fields)
        day = updated_at.isoformat() if isinstance(updated_at, dt.date) else updated_at
        self._blobs[index] = msgspec.json.encode(record)
        self._rows[index] = row_after_change(self._rows[index], record, day or self.today())
        self._changed()
        return record

    def close(
        self, kode_satusehat: str, *, updated_at: str | dt.date | None = None
    ) -> dict[str, Any]:
        """Close a facility: ``status_aktif`` false, its update date bumped (see :meth:`change`)."""
        return self.change(kode_satusehat, updated_at=updated_at, status_aktif=False)

    def add_during_crawl(
        self, count: int, *, after_page: int, updated_at: str | dt.date | None = None
    ) -> None:
        """Insert ``count`` facilities at the front once a page past ``after_page`` is asked for.

        Reproduces rows inserted mid-crawl at positions already read: offset paging misses
        them (and repeats the rows they push into the next page). Happens once, just
        before the first request for a page number above ``after_page`` is answered; the
        new facilities are dated ``updated_at`` (default :meth:`today` at that moment) and
        their codes land in :attr:`added_during_crawl`.
        """
        if count < 0 or after_page < 0:
            raise ValueError("count and after_page cannot be negative")
        day = updated_at.isoformat() if isinstance(updated_at, dt.date) else updated_at
        self._additions.append((after_page, count, day))

    def _apply_mid_crawl(self, page: int) -> None:
        """Run the removals and additions scheduled for a request of ``page``."""
        due = [removal for removal in self._removals if page > removal[0]]
        for removal in due:
            self._removals.remove(removal)
            self.removed_during_crawl.extend(self.remove_front(removal[1]))
        for addition in [a for a in self._additions if page > a[0]]:
            self._additions.remove(addition)
            day = addition[2] or self.today()
            self.added_during_crawl.extend(self.add(addition[1], updated_at=day))

    def remove_front(self, count: int) -> list[str]:
        """Drop the first ``count`` facilities (rows after them shift up); returns their codes."""
        if count < 0:
            raise ValueError("the facility count cannot be negative")
        codes = [row.kode_satusehat for row in self._rows[:count]]
        del self._blobs[:count]
        del self._rows[:count]
        self._changed()
        return codes

    def remove_during_crawl(self, count: int, *, after_page: int) -> None:
        """Delete the first ``count`` facilities once a page past ``after_page`` is asked for.

        Reproduces rows deleted mid-crawl: every later row shifts into pages already read
        (offset paging then misses them). Happens once, just before the first request
        for a page number above ``after_page`` is answered; the codes land in
        :attr:`removed_during_crawl`.
        """
        if count < 0 or after_page < 0:
            raise ValueError("count and after_page cannot be negative")
        self._removals.append((after_page, count))

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def select(self, filter_: MsiFilter) -> list[bytes]:
        """The records matching ``filter_``, in registry order (cached per filter)."""
        cached = self._cache.get(filter_)
        if cached is not None:
            self._cache.move_to_end(filter_)
            return cached
        blobs = self._blobs
        if filter_ == MsiFilter(jenis_sarana=filter_.jenis_sarana):  # a plain crawl by type
            jenis = filter_.jenis_sarana
            found = [blobs[i] for i, row in enumerate(self._rows) if row.jenis in jenis]
        else:
            matches = filter_.matches
            found = [blobs[i] for i, row in enumerate(self._rows) if matches(row)]
        self._cache[filter_] = found
        if len(self._cache) > _CACHED_FILTERS:
            self._cache.popitem(last=False)
        return found

    def page(self, query: MsiQuery) -> bytes:
        """The whole JSON answer to ``query``: ``{status_code, message, page, total_page, data}``.

        ``total_page`` is ``ceil(matches / limit)`` (0 when nothing matches) plus
        :attr:`overreport_total_page`; a page past the end answers an empty ``data``.
        """
        self._apply_mid_crawl(query.page)
        found = self.select(query.filter)
        total_page = -(-len(found) // query.limit) + self.overreport_total_page
        start = (query.page - 1) * query.limit
        head = b'{"status_code":200,"message":"Success","page":%d,"total_page":%d,"data":[' % (
            query.page,
            total_page,
        )
        return b"".join((head, b",".join(found[start : start + query.limit]), b"]}"))
