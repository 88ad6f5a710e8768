"""Issue 14: the resumable export is a library feature (``client.msi.export``), and its
engine (:mod:`satusehat_async.export`) works for any ordered pager of Struct rows.

Against the embedded sandbox: NDJSON/CSV to files and streams, checkpoints, resume after
a failure, the overwrite rules in library terms, validation before anything is sent; and
the engine over a two-part crawl whose rows are keyed by a composite key (as KFA's are).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from satusehat_async.errors import CheckpointError, ResumeRefused, ServerError, ValidationError
from satusehat_async.export import Export, ExportResult, Position, RecordLayout, checkpoint_path
from satusehat_async.paging import PageStats
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox

FACILITIES = 450
FAST = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)


@pytest.fixture
async def sb() -> Any:
    async with Sandbox(facilities=FACILITIES, seed=14) as sandbox:
        yield sandbox


def codes(sb: Sandbox) -> list[str]:
    return [r["kode_satusehat"] for r in sb.registry]


def failing_from(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, first_bad: int) -> None:
    serve = sb.registry.page

    def page(query: Any) -> bytes:
        if query.page >= first_bad:
            raise RuntimeError("upstream gone")
        return serve(query)

    monkeypatch.setattr(sb.registry, "page", page)


async def test_export_ndjson_to_a_file_with_a_checkpoint(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "all.ndjson"
    seen: list[int] = []
    async with sb.client() as client:
        export = client.msi.export(
            out, page_size=100, concurrency=3, on_page=lambda r: seen.append(r.rows_written)
        )
        assert not out.exists()  # nothing touched until awaited
        result = await export
    assert isinstance(result, ExportResult) and result is export.result
    assert result.complete and not result.already_complete and result.resumed_from is None
    assert result.rows_written == result.rows_total == FACILITIES
    assert result.stats.pages == 5 and seen == [100, 200, 300, 400, 450]
    assert [json.loads(line)["kode_satusehat"] for line in out.read_text().splitlines()] == (
        codes(sb)
    )
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert checkpoint["complete"] and checkpoint["next_page"] == 6
    assert checkpoint["bytes"] == out.stat().st_size


async def test_resume_after_a_failure_writes_each_facility_once(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "rs.csv"
    failing_from(sb, monkeypatch, 3)
    async with sb.client(retry=FAST) as client:
        export = client.msi.export(out, format="CSV", page_size=100)
        with pytest.raises(ServerError):
            await export
        assert export.result.rows_written == 200 and not export.result.complete
        monkeypatch.undo()
        with pytest.raises(ResumeRefused, match=r"use resume=True .* or force=True"):
            await client.msi.export(out, format="csv", page_size=100)
        result = await client.msi.export(out, format="csv", page_size=100, resume=True)
    assert result.resumed_from == (None, 3) and result.resumed_from_page == 3
    assert (result.rows_before, result.rows_written, result.rows_total) == (200, 250, 450)
    with out.open(newline="") as f:
        assert [row["kode_satusehat"] for row in csv.DictReader(f)] == codes(sb)


async def test_refusals_speak_library_terms_and_send_nothing(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "precious.ndjson"
    out.write_text("my data\n")
    async with sb.client() as client:
        await client.get_token()
        sb.reset_stats()
        with pytest.raises(ResumeRefused, match="has no checkpoint") as caught:
            await client.msi.export(out, resume=True)
        assert "force=True" in str(caught.value) and "--" not in str(caught.value)
        bad: list[dict[str, Any]] = [
            {"format": "xml"},
            {"page_size": 0},
            {"concurrency": 0},
            {"resume": True, "force": True},
            {"kode_provinsi": "3X"},
            {"model": dict},
        ]
        for kwargs in bad:
            with pytest.raises(ValidationError):
                client.msi.export(tmp_path / "x.ndjson", **kwargs)
        with pytest.raises(ValidationError, match="need output to be a file path"):
            client.msi.export(io.BytesIO(), resume=True)
        assert sb.stats.requests == 0
    assert out.read_text() == "my data\n"


async def test_force_replaces_and_a_complete_export_sends_nothing(
    sb: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "rs.ndjson"
    out.write_text("old\n")
    async with sb.client() as client:
        first = await client.msi.export(out, force=True, jenis_sarana=104, page_size=50)
        assert first.complete and first.rows_total > 0
        sb.reset_stats()
        again = await client.msi.export(out, resume=True, jenis_sarana=104, page_size=50)
        assert again.already_complete and again.complete and sb.stats.requests == 0
        with pytest.raises(ResumeRefused, match="belongs to another crawl"):
            await client.msi.export(out, resume=True, jenis_sarana=103, page_size=50)


async def test_export_to_a_stream(sb: Sandbox) -> None:
    buffer = io.BytesIO()
    async with sb.client() as client:
        result = await client.msi.export(buffer, format="csv", page_size=200)
    assert result.path is None and not result.complete and result.rows_written == FACILITIES
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue().decode(), newline="")))
    assert [r["kode_satusehat"] for r in rows] == codes(sb)


async def test_a_damaged_checkpoint_is_refused_untouched(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "d.ndjson"
    async with sb.client() as client:
        await client.msi.export(out, page_size=100)
        checkpoint = json.loads(checkpoint_path(out).read_text())
        checkpoint.update(complete=False, facilities=449)
        checkpoint_path(out).write_text(json.dumps(checkpoint))
        before = out.read_bytes()
        sb.reset_stats()
        with pytest.raises(CheckpointError, match=r"use force=True to start over"):
            await client.msi.export(out, page_size=100, resume=True)
        assert sb.stats.requests == 0 and out.read_bytes() == before


# -- the engine, over another source: two parts, a composite key --------------------------


class Product(msgspec.Struct):
    """A row whose identity is its code *and* its name (as KFA products are keyed)."""

    code: str | None = None
    name: str | None = None
    price: int | None = None


def product_key(row: Any) -> Hashable | None:
    return f"{row.code}|{row.name}" if row.code is not None else None


class ProductKey(msgspec.Struct):
    code: str | None = None
    name: str | None = None


LAYOUT = RecordLayout(Product, ProductKey, product_key, noun="products", source="catalogue")
# Two parts of 3 pages of 2 rows; codes repeat across parts with other names.
CATALOGUE = {
    part: [[Product(f"C{n}", f"{part}-{p}-{n}", n) for n in range(2)] for p in range(1, 4)]
    for part in ("farmasi", "alkes")
}


class Pages:
    """An ordered crawl of the catalogue from a position, skipping ``seen`` keys."""

    def __init__(self, start: Position, seen: list[Hashable], fail_at: Position | None) -> None:
        self.stats = PageStats()
        self.items = self._pages(start, set(seen), fail_at)

    def _pages(
        self, start: Position, seen: set[Hashable], fail_at: Position | None
    ) -> Iterator[tuple[Position, list[Product]]]:
        parts = list(CATALOGUE)
        first = parts.index(start[0]) if start[0] else 0
        for part in parts[first:]:
            begin = start[1] if part == (start[0] or parts[0]) else 1
            for number in range(begin, len(CATALOGUE[part]) + 1):
                if (part, number) == fail_at:
                    raise ConnectionError("catalogue gone")
                rows = [r for r in CATALOGUE[part][number - 1] if product_key(r) not in seen]
                yield (part, number), rows

    def __aiter__(self) -> Pages:
        return self

    async def __anext__(self) -> tuple[Position, list[Product]]:
        try:
            page = next(self.items)
        except StopIteration:
            raise StopAsyncIteration from None
        self.stats.pages += 1
        return page

    async def aclose(self) -> None:
        self.items.close()


class Catalogue:
    layout = LAYOUT

    def __init__(self, fail_at: Position | None = None) -> None:
        self.fail_at = fail_at
        self.opened: list[tuple[Position, list[Hashable]]] = []

    def open(self, start: Position, seen: list[Hashable]) -> Pages:
        self.opened.append((start, sorted(map(str, seen))))
        return Pages(start, seen, self.fail_at)

    def rows(self, page: tuple[Position, list[Product]]) -> list[Product]:
        return page[1]

    def after(self, page: tuple[Position, list[Product]], crawl: object) -> Position:
        (part, number), _ = page
        if number == len(CATALOGUE[part or ""]):  # the part is done: the next one from 1
            later = list(CATALOGUE)[list(CATALOGUE).index(part or "") + 1 :]
            return (later[0], 1) if later else (part, number + 1)
        return part, number + 1


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_the_engine_resumes_a_crawl_of_parts_by_a_composite_key(
    tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"kfa.{fmt}"
    broken = Catalogue(fail_at=("alkes", 2))
    with pytest.raises(ConnectionError):
        await Export(out, broken, fingerprint="kfa", format=fmt, page_size=2)
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert (checkpoint["part"], checkpoint["next_page"], checkpoint["facilities"]) == (
        "alkes",
        2,
        8,
    )
    healed = Catalogue()
    result = await Export(out, healed, fingerprint="kfa", format=fmt, page_size=2, resume=True)
    (start, seen), = healed.opened  # fmt: skip
    assert start == ("alkes", 2) and len(seen) == 8 and "C0|alkes-1-0" in seen
    assert result.rows_before == 8 and result.rows_written == 4 and result.complete
    if fmt == "csv":
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["code", "name", "price"]
        names = [r["name"] for r in rows]
    else:
        names = [json.loads(line)["name"] for line in out.read_text().splitlines()]
    expected = [r.name for part in CATALOGUE.values() for page in part for r in page]
    assert names == expected and len(set(names)) == 12


async def test_the_engine_needs_no_client_to_write_a_stream() -> None:
    buffer = io.BytesIO()
    result = await Export(buffer, Catalogue(), fingerprint="x", page_size=2)
    assert result.rows_written == 12 and buffer.getvalue().count(b"\n") == 12
