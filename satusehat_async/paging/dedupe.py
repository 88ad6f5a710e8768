"""Per-crawl deduplication: each row identity is yielded once, whatever the pages repeat.

What it costs. A crawl that its first page says is small (at most :data:`SMALL_CRAWL`,
262,144 rows) keeps its identities in a plain ``set`` (~66 bytes each, the fastest check:
two C passes a page), up to a quarter more than it announced. A bigger crawl moves to the
compact tables at its first page, and a crawl of unknown size after :data:`SET_LIMIT`
(131,072) identities; the move is made once, to compact tables of ``array('q')`` slots,
sized ahead from the crawl's expected size
(``total_page * page_size``, told by its first page) to a power of two at least 1.8
times it: ints in ``(0, 2**63)`` (the MSI's ``kode_satusehat`` codes, as
:func:`~satusehat_async.msi.source.facility_keys` makes them) cost 8 bytes per slot,
**14-29 bytes per facility** (1M facilities: 16 MiB, where the set took ~66 MiB), in an
:class:`~satusehat_async.paging.keyset.IntTable`: a page of new keys is checked and
stored in a few C-level passes, only keys whose home slot is taken are probed one at a
time (this costs several times the set's CPU per key). Other keys (strings, bytes,
tuples of those and ints, ints outside that range) are encoded injectively and kept as
124-bit keyed BLAKE2b digests in a :class:`~satusehat_async.paging.keyset.WideTable`
(16 bytes per slot, probed one at a time): two distinct keys are taken for one with odds
below ``n**2 / 2**125`` (~2.4e-26 for 1M keys; the digest key is random per process, so
no input can be crafted to collide). Anything else (floats, bools, objects) is kept
exactly, in a ``set``. Past the set, keys compare as ``==`` does within those families,
not across them (``1`` and ``"1"`` always differ; ``1`` and ``1.0`` differ there too).
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable
from typing import TypeVar, cast

import msgspec

from satusehat_async.paging.keyset import INT_MAX, IntTable, WideTable
from satusehat_async.paging.stats import PageStats

__all__ = ["SET_LIMIT", "SMALL_CRAWL", "Dedupe", "encode_key"]

#: Identities kept in a plain ``set`` before the move to the compact tables (~8 MiB),
#: when the crawl's size is not known, or is over :data:`SMALL_CRAWL`.
SET_LIMIT = 1 << 17
#: A crawl announcing at most this many rows keeps the set (at most ~21 MiB: a quarter
#: more than announced), the fastest check; a bigger one goes compact at its first page.
SMALL_CRAWL = 1 << 18

RowT = TypeVar("RowT")

_ENCODER = msgspec.msgpack.Encoder()
_ATOMS = (str, bytes, int)


def _encodable(key: object) -> bool:
    kind = type(key)
    if kind in _ATOMS:
        return True
    if kind is tuple:
        return all(item is None or _encodable(item) for item in key)  # type: ignore[attr-defined]
    return False


def _big_ints(key: object) -> object:
    """``key`` with the ints MessagePack cannot hold as an extension type of their own."""
    if type(key) is int:
        return msgspec.msgpack.Ext(1, str(key).encode())
    if type(key) is tuple:
        return [_big_ints(item) for item in key]
    return key


def encode_key(key: Hashable) -> bytes | None:
    """The injective byte form of a str, bytes, int or tuple key (of those and None).

    MessagePack keeps the types apart (text, bytes, ints, arrays; an int beyond 64 bits
    is an extension of its own); None for any other key, which is then kept as itself.
    """
    if not _encodable(key):
        return None
    try:
        return _ENCODER.encode(key)
    except OverflowError:
        return _ENCODER.encode(_big_ints(key))


class Dedupe:
    """The identities seen so far in one crawl (plus those it was told were seen).

    The identities of a small crawl live in a plain ``set`` (the fastest check
    there is: two C passes a page); past that they move, once, into the compact tables
    (see the module's docstring for what they cost).
    """

    __slots__ = ("_exact", "_expected", "_ints", "_set", "_stats", "_wide")

    def __init__(self, stats: PageStats, seen: Iterable[Hashable | None] = ()) -> None:
        self._stats = stats
        self._set: set[Hashable | None] | None = set()
        self._ints: IntTable | None = None
        self._wide: WideTable | None = None
        self._exact: set[Hashable] = set()
        self._expected = 0
        for key in seen:
            if key is not None:
                self._add(key)

    def __len__(self) -> int:
        if self._set is not None:
            return len(self._set)
        ints = self._ints.count if self._ints is not None else 0
        wide = self._wide.count if self._wide is not None else 0
        return ints + wide + len(self._exact)

    @property
    def compact(self) -> bool:
        """Have the identities moved to the compact tables?"""
        return self._set is None

    def reserve(self, count: int) -> None:
        """Expect ``count`` identities in all (the crawl's size, told by its first page):
        the compact table is then allocated once, at its final size."""
        self._expected = max(self._expected, count)
        if self._ints is not None:
            self._ints.reserve(count)
        elif self._set is not None and self._expected > SMALL_CRAWL:
            self._migrate()  # a big crawl: compact from its first page, no big set first

    def _set_limit(self) -> int:
        """How many identities the set may hold before the move to the compact tables."""
        if 0 < self._expected <= SMALL_CRAWL:
            return max(SET_LIMIT, self._expected + self._expected // 4)
        return SET_LIMIT

    def _migrate(self) -> None:
        """Move the set's identities into the compact tables (once, past SET_LIMIT)."""
        keys, self._set = self._set or set(), None
        self._ints = IntTable()
        try:  # the usual case, all ints in range: packed first, so the set is freed first
            packed = array("q", cast("set[int]", keys))
            if packed and min(packed) <= 0:
                raise OverflowError
        except (TypeError, OverflowError):
            for key in keys:
                if key is not None:
                    self._add(key)
        else:
            keys.clear()
            self._ints.reserve(max(self._expected, len(packed)))
            self._ints.extend(packed)

    def _add(self, key: Hashable) -> bool:
        """Insert one key; False when it was seen before."""
        if self._set is not None:
            if key in self._set:
                return False
            self._set.add(key)
            if len(self._set) > self._set_limit():
                self._migrate()
            return True
        if type(key) is int and 0 < key < INT_MAX:
            assert self._ints is not None
            return self._ints.add(key)
        encoded = encode_key(key)
        if encoded is None:
            if key in self._exact:
                return False
            self._exact.add(key)
            return True
        if self._wide is None:
            self._wide = WideTable()
        return self._wide.add(encoded)

    def _set_page(self, keys: list[Hashable | None]) -> bool:
        """Store a page of keys in the set if none was seen and none repeats; else False."""
        seen = self._set
        assert seen is not None
        if not seen.isdisjoint(keys):
            return False
        before = len(seen)
        seen.update(keys)
        if len(seen) - before == len(keys) and None not in seen:
            if len(seen) > self._set_limit():
                self._migrate()
            return True
        seen.difference_update(keys)  # undo, then take the careful path
        return False

    def _table_page(self, keys: list[Hashable | None]) -> list[int] | None:
        """Store a page of int keys in the table: the positions of repeats, or None
        (nothing stored) when the page is not all ints in range."""
        try:
            if not (min(keys) > 0 and max(keys) < INT_MAX):  # type: ignore[type-var,operator]
                return None
        except TypeError:  # None, strings, tuples...: not all ints
            return None
        assert self._ints is not None
        return self._ints.add_page(keys)  # type: ignore[arg-type]

    def new_rows(self, rows: list[RowT], keys: list[Hashable | None]) -> list[RowT]:
        """The rows whose key was not seen before (a None key is always kept); counts the
        others in ``stats.duplicates_skipped``. Returns ``rows`` itself when all are new."""
        if not keys:
            return rows
        if self._set is not None:
            if self._set_page(keys):
                return rows
        else:
            repeats = self._table_page(keys)
            if repeats is not None:
                if not repeats:
                    return rows
                self._stats.duplicates_skipped += len(repeats)
                drop = set(repeats)
                return [row for i, row in enumerate(rows) if i not in drop]
        kept: list[RowT] = []
        add = self._add
        for row, key in zip(rows, keys, strict=True):
            if key is not None and not add(key):
                self._stats.duplicates_skipped += 1
                continue
            kept.append(row)
        return kept
