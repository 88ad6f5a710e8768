"""Compact sets of row identities: open addressing over ``array('q')``, no object per key.

A Python ``set`` of ints costs ~66 bytes per key (a 32-byte int object plus a 16-byte
slot at a load of 0.3-0.6); these tables cost 8 bytes per slot, 14-29 bytes per key at
the load they are sized for (a power of two at least 1.8 times the expected count).
:class:`IntTable` holds ints in ``(0, 2**63)`` and checks a whole page of them in a few
C-level passes (``map``, ``operator.itemgetter``, ``itertools.compress``): a key whose
home slot is empty is new, and it is stored in the same bulk pass; only keys whose home
slot is taken are probed one by one (linear probing). :class:`WideTable` holds 124-bit
keyed digests of other keys (strings, tuples, negative or huge ints), probed one by one.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import deque
from collections.abc import Iterator
from itertools import compress, repeat
from operator import and_, itemgetter, not_, setitem

__all__ = ["IntTable", "WideTable", "slots_for"]

#: Keys an :class:`IntTable` holds: 0 marks an empty slot, and array('q') is signed 64-bit.
INT_MAX = 2**63

# Grow past this load (keys / slots); tables sized for a count hold it at ~0.56.
_MAX_LOAD = 0.7
_SIZE_FACTOR = 1.8
_MIN_SLOTS = 1023
_CHUNK = 4096  # rebuilds and migrations go this many keys at a time (bounded RSS)


def slots_for(count: int) -> int:
    """The table size for ``count`` keys: a power of two, at a load of 0.28-0.56.

    A key's home slot is its low bits (``key & (slots - 1)``: one cheap C operation; a
    modulo of a 10-digit int costs several times more). Registry codes are counters or
    decimal numbers, whose low bits spread well; keys that share their low bits (a
    stride of a power of two) only make probing longer, never wrong.
    """
    return 1 << max(_MIN_SLOTS, int(count * _SIZE_FACTOR) + 1).bit_length()


class IntTable:
    """A set of ints in ``(0, 2**63)``, 8 bytes per slot (``key % slots`` + linear probing)."""

    __slots__ = ("_slots", "_table", "count")

    def __init__(self, expected: int = 0) -> None:
        self._slots = slots_for(expected)
        self._table = array("q", [0]) * self._slots
        self.count = 0

    @property
    def slots(self) -> int:
        """The table's size (its memory is ``8 * slots`` bytes)."""
        return self._slots

    def reserve(self, count: int) -> None:
        """Make room for ``count`` keys in all (grows the table once, ahead of time)."""
        if count > self._slots * _MAX_LOAD:
            self._rebuild(slots_for(count))

    def add(self, key: int) -> bool:
        """Insert ``key``; False when it was there already."""
        if self.count + 1 > self._slots * _MAX_LOAD:
            self._rebuild(slots_for(2 * (self.count + 1)))
        return self._insert(key)

    def _insert(self, key: int) -> bool:
        table, size = self._table, self._slots
        mask = size - 1
        slot = key & mask
        while True:
            held = table[slot]
            if held == key:
                return False
            if not held:
                table[slot] = key
                self.count += 1
                return True
            slot = (slot + 1) & mask

    def add_page(self, keys: list[int]) -> list[int]:
        """Insert a page of keys in bulk; the positions of those already held.

        Keys whose home slot is empty are new: they are stored in a few C-level passes.
        The others are probed and inserted one by one, in page order (so of a key
        repeated within the page the first is new). ``keys`` must be ints in
        ``(0, 2**63)``.
        """
        count = len(keys)
        if self.count + count > self._slots * _MAX_LOAD:
            self._rebuild(slots_for(2 * (self.count + count)))
        if count < 2:
            return [] if count == 0 or self._insert(keys[0]) else [0]
        size, table = self._slots, self._table
        slots = list(map(and_, keys, repeat(size - 1)))
        held = itemgetter(*slots)(table)
        free = list(map(not_, held))
        free_slots = list(compress(slots, free))
        free_at = list(compress(range(count), free))
        # Of keys sharing an empty home slot the first takes it (reversed: the first
        # writes last); the others are probed one by one like the taken ones.
        owner = dict(zip(reversed(free_slots), reversed(free_at), strict=True))
        later: list[int] = []
        if len(owner) != len(free_slots):
            free_slots, free_at = list(owner), list(owner.values())
            first = set(free_at)
            later = [i for i in compress(range(count), free) if i not in first]
        deque(map(setitem, repeat(table), free_slots, map(keys.__getitem__, free_at)), 0)
        self.count += len(free_slots)
        if len(free_slots) == count:
            return []
        rest = list(compress(range(count), held))
        if later:
            rest = sorted(rest + later)
        insert = self._insert
        # The rest in page order: a key repeated within the page is new the first time.
        return [i for i in rest if not insert(keys[i])]

    def __contains__(self, key: object) -> bool:
        if type(key) is not int or not 0 < key < INT_MAX:
            return False
        table, size = self._table, self._slots
        mask = size - 1
        slot = key & mask
        while True:
            held = table[slot]
            if held == key:
                return True
            if not held:
                return False
            slot = (slot + 1) & mask

    def __iter__(self) -> Iterator[int]:
        table = self._table
        for start in range(0, self._slots, _CHUNK):
            yield from filter(None, table[start : start + _CHUNK])

    def extend(self, keys: array[int]) -> None:
        """Insert many distinct keys (a migration, a rebuild), in bulk passes."""
        self.reserve(self.count + len(keys))
        for start in range(0, len(keys), _CHUNK):
            self.add_page(keys[start : start + _CHUNK].tolist())

    def _rebuild(self, slots: int) -> None:
        old = self._table
        self._slots = slots
        self._table = array("q", [0]) * slots
        self.count = 0
        for start in range(0, len(old), _CHUNK):
            self.add_page(list(filter(None, old[start : start + _CHUNK])))


class WideTable:
    """A set of any other keys, as 124-bit keyed BLAKE2b digests (16 bytes per slot).

    Two keys are taken for one only if their digests agree in 124 bits: with ``n`` keys
    the odds that any two distinct keys do are below ``n**2 / 2**125`` (1M keys:
    ~2.4e-26), and the digest key is random per process, so no input can be chosen to
    collide. Keys are encoded injectively first (see :func:`encode_key`).
    """

    __slots__ = ("_high", "_low", "_salt", "_slots", "count")

    def __init__(self, expected: int = 0) -> None:
        self._slots = slots_for(expected)
        self._high = array("q", [0]) * self._slots
        self._low = array("q", [0]) * self._slots
        self._salt = os.urandom(16)
        self.count = 0

    def _digest(self, encoded: bytes) -> tuple[int, int]:
        value = int.from_bytes(
            hashlib.blake2b(encoded, digest_size=16, key=self._salt).digest(), "big"
        )
        # Two non-zero 62-bit halves (0 marks an empty slot).
        return ((value >> 64) >> 2) + 1, ((value & (2**64 - 1)) >> 2) + 1

    def add(self, encoded: bytes) -> bool:
        """Insert the key encoded as ``encoded``; False when it was there already."""
        if self.count + 1 > self._slots * _MAX_LOAD:
            self._rebuild(slots_for(2 * (self.count + 1)))
        high, low = self._digest(encoded)
        return self._insert(high, low)

    def _insert(self, high: int, low: int) -> bool:
        highs, lows, size = self._high, self._low, self._slots
        mask = size - 1
        slot = high & mask
        while True:
            held = highs[slot]
            if not held:
                highs[slot], lows[slot] = high, low
                self.count += 1
                return True
            if held == high and lows[slot] == low:
                return False
            slot = (slot + 1) & mask

    def _rebuild(self, slots: int) -> None:
        highs, lows = self._high, self._low
        self._slots = slots
        self._high = array("q", [0]) * slots
        self._low = array("q", [0]) * slots
        self.count = 0
        for high, low in zip(highs, lows, strict=True):
            if high:
                self._insert(high, low)
