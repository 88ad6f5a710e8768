"""Issue 14: a caller's Struct (a projection) through crawl, resume and export.

``client.msi.facilities(model=Mine)`` yields ``Mine`` rows; a crawl resumed with
``start_page`` and ``seen`` still yields each facility once; ``client.msi.export(...,
model=Mine)`` writes the projection's own fields (CSV columns ``kode_satusehat``,
``nama``, ``provinsi.kode``), resumes after a failure, and refuses to resume a file
written with another model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from satusehat_async.errors import ResumeRefused, ServerError
from satusehat_async.export import checkpoint_path
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox

FACILITIES = 360


class Province(msgspec.Struct):
    kode: str | None = None


class Mine(msgspec.Struct):
    """Only what the caller reads."""

    kode_satusehat: str | None = None
    nama: str | None = None
    provinsi: Province | None = None


class Other(msgspec.Struct):
    kode_satusehat: str | None = None


@pytest.fixture
async def sb() -> Any:
    async with Sandbox(facilities=FACILITIES, seed=21) as sandbox:
        yield sandbox


def registry(sb: Sandbox) -> list[tuple[str, str, str]]:
    return [(r["kode_satusehat"], r["nama"], r["provinsi"]["kode"]) for r in sb.registry]


async def test_a_projection_crawls_and_resumes_each_facility_once(sb: Sandbox) -> None:
    async with sb.client() as client:
        rows = [f async for f in client.msi.facilities(model=Mine, page_size=50)]
        assert all(type(f) is Mine for f in rows)
        assert [(f.kode_satusehat, f.nama, f.provinsi.kode) for f in rows if f.provinsi] == (
            registry(sb)
        )
        first = rows[:100]  # two pages delivered, then "interrupted"
        rest = client.msi.facilities(
            model=Mine,
            page_size=50,
            start_page=2,  # page 2 again: its rows are in `seen`, skipped
            seen=[f.kode_satusehat for f in first if f.kode_satusehat],
        )
        again = [f async for f in rest]
        assert [f.kode_satusehat for f in first + again] == [c for c, _, _ in registry(sb)]
        assert rest.stats.duplicates_skipped == 50
        pages = client.msi.pages(model=Mine, page_size=100, jenis_sarana=104)
        async for page in pages:
            assert all(type(f) is Mine for f in page.facilities)


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
async def test_a_projection_exports_its_own_fields_and_resumes(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    out = tmp_path / f"mine.{fmt}"
    serve = sb.registry.page

    def failing(query: Any) -> bytes:
        if query.page >= 3:
            raise RuntimeError("upstream gone")
        return serve(query)

    monkeypatch.setattr(sb.registry, "page", failing)
    fast = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    async with sb.client(retry=fast) as client:
        with pytest.raises(ServerError):
            await client.msi.export(out, format=fmt, model=Mine, page_size=100)
        assert json.loads(checkpoint_path(out).read_text())["next_page"] == 3
        monkeypatch.undo()
        with pytest.raises(ResumeRefused, match="belongs to another crawl"):
            await client.msi.export(out, format=fmt, model=Other, page_size=100, resume=True)
        with pytest.raises(ResumeRefused, match="belongs to another crawl"):
            await client.msi.export(out, format=fmt, page_size=100, resume=True)  # full model
        result = await client.msi.export(out, format=fmt, model=Mine, page_size=100, resume=True)
    assert result.rows_before == 200 and result.rows_total == FACILITIES
    if fmt == "csv":
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["kode_satusehat", "nama", "provinsi.kode"]
        got = [(r["kode_satusehat"], r["nama"], r["provinsi.kode"]) for r in rows]
    else:
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert set(records[0]) == {"kode_satusehat", "nama", "provinsi"}
        got = [(r["kode_satusehat"], r["nama"], r["provinsi"]["kode"]) for r in records]
    assert got == registry(sb)
