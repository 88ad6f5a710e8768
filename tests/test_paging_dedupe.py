"""Issue 14: the per-crawl dedupe is exact at any size, in flat memory.

The model is a plain ``set`` (what the dedupe used to be). The compact tables are forced
early (a tiny ``SET_LIMIT``) and tiny (a few slots), so home slots collide and tables
grow mid-page; keys are ints, strings, tuples (the KFA's composite keys), None, and ints
sharing their low bits.
"""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satusehat_async.paging import dedupe as dedupe_module
from satusehat_async.paging.dedupe import Dedupe
from satusehat_async.paging.keyset import IntTable, WideTable
from satusehat_async.paging.stats import PageStats

_ints = st.one_of(
    st.integers(1, 50),  # many repeats
    st.integers(1, 2**63 - 1),
    st.integers(0, 40).map(lambda i: 1_000_000_000 + 1024 * i),  # shared low bits
    st.integers(-5, 0),
    st.integers(2**63, 2**64),
)
_keys = st.one_of(
    _ints,
    st.text(max_size=3),
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3)),
    st.none(),
    st.binary(max_size=2),
)
_pages = st.lists(st.lists(_keys, max_size=40), max_size=12)


def model_run(pages: list[list[Hashable]], seen: list[Hashable]) -> tuple[list[list[int]], int]:
    """What a plain set makes of the stream: kept positions per page, duplicates."""
    known = {_canon(key) for key in seen if key is not None}
    kept, duplicates = [], 0
    for page in pages:
        positions = []
        for i, key in enumerate(page):
            if key is not None and _canon(key) in known:
                duplicates += 1
                continue
            if key is not None:
                known.add(_canon(key))
            positions.append(i)
        kept.append(positions)
    return kept, duplicates


def _canon(key: Hashable) -> Hashable:
    # The dedupe tells apart what a set would merge across types (True == 1, 1 == 1.0);
    # the strategies draw no bools or floats, so the set is the model as it is.
    return (type(key).__name__, key)


@pytest.mark.parametrize(("limit", "small"), [(0, 0), (3, 0), (3, 100), (1 << 17, 1 << 18)])
@settings(max_examples=150, deadline=None)
@given(pages=_pages, seen=st.lists(_keys, max_size=10), reserve=st.integers(0, 300))
def test_dedupe_matches_a_set_for_any_key_stream(
    limit: int, small: int, pages: list[list[Hashable]], seen: list[Hashable], reserve: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dedupe_module, "SET_LIMIT", limit)
        patch.setattr(dedupe_module, "SMALL_CRAWL", small)
        stats = PageStats()
        dedupe = Dedupe(stats, seen)
        dedupe.reserve(reserve)
        got = []
        for page in pages:
            rows = list(range(len(page)))  # a row is its position
            got.append(dedupe.new_rows(rows, list(page)))
    expected, duplicates = model_run(pages, seen)
    assert got == expected
    assert stats.duplicates_skipped == duplicates
    distinct = {_canon(k) for k in seen + [k for p in pages for k in p] if k is not None}
    assert len(dedupe) == len(distinct)


def test_the_set_moves_to_the_compact_table_past_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dedupe_module, "SET_LIMIT", 4000)
    monkeypatch.setattr(dedupe_module, "SMALL_CRAWL", 0)  # any announced size is big
    stats = PageStats()
    dedupe = Dedupe(stats, seen=[str(1_000_000_000 + 5)])  # a resumed crawl's code
    dedupe.reserve(10_000)
    base = 1_000_000_000
    for page in range(5):
        keys: list[Hashable | None] = list(range(base + page * 2000, base + page * 2000 + 2000))
        assert dedupe.new_rows(list(keys), keys) == keys
    assert dedupe.compact
    again: list[Hashable | None] = [base + 1, base + 9_999, base + 10_000, "x", base + 10_000]
    assert dedupe.new_rows(list(again), again) == [base + 10_000, "x"]
    assert stats.duplicates_skipped == 3 and len(dedupe) == 10_000 + 1 + 2


def test_int_table_collisions_and_growth_stay_exact() -> None:
    table = IntTable()
    start = table.slots
    keys = [1024 * i + 7 for i in range(1, 3000)]  # one home slot for many of them
    assert table.add_page(keys[:1500]) == []
    assert table.add_page(keys[1000:] + keys[:3]) == [*range(500), 1999, 2000, 2001]
    assert table.slots > start and table.count == len(keys)
    assert all(key in table for key in keys) and 5 not in table and "7" not in table
    assert sorted(table) == keys


def test_wide_table_keeps_distinct_encodings_apart() -> None:
    table = WideTable()
    codes = [dedupe_module.encode_key(k) for k in ["1", 1, ("1",), b"1", (1, "a"), ("1", "a")]]
    assert all(code is not None and table.add(code) for code in codes)
    assert not any(table.add(code) for code in codes if code is not None)
    assert dedupe_module.encode_key(1.5) is None  # kept exactly, in a set


def test_memory_per_identity_is_a_few_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedupe_module, "SET_LIMIT", 0)
    monkeypatch.setattr(dedupe_module, "SMALL_CRAWL", 0)
    dedupe = Dedupe(PageStats())
    dedupe.reserve(100_000)
    keys: list[Hashable | None] = list(range(10**9, 10**9 + 100_000))
    dedupe.new_rows(list(keys), keys)
    table = dedupe._ints
    assert table is not None and table.count == 100_000
    assert table.slots * 8 / 100_000 <= 30  # bytes per identity (a set: ~66)


def test_a_small_crawl_keeps_the_set_and_a_big_one_goes_compact_at_its_first_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dedupe_module, "SET_LIMIT", 1000)
    monkeypatch.setattr(dedupe_module, "SMALL_CRAWL", 5000)
    base = 1_000_000_000
    small = Dedupe(PageStats())
    small.reserve(4000)  # announced small: the set holds up to a quarter more (5,000)
    for page in range(2):
        keys: list[Hashable | None] = list(range(base + page * 2000, base + page * 2000 + 2000))
        small.new_rows(list(keys), keys)
    assert not small.compact and len(small) == 4000  # past SET_LIMIT, still the set
    more: list[Hashable | None] = list(range(base + 4000, base + 6000))  # grew past it
    small.new_rows(list(more), more)
    assert small.compact and len(small) == 6000
    assert small.new_rows([1, 2], [base, base + 5999]) == []  # exact after the move

    big = Dedupe(PageStats())
    first: list[Hashable | None] = list(range(base, base + 100))
    big.new_rows(list(first), first)
    big.reserve(10_000)  # the first page announces a big crawl: compact at once
    assert big.compact and len(big) == 100
    assert big.new_rows([0], [base + 50]) == []
