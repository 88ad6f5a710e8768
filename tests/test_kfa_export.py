"""``client.kfa.export`` end to end against the embedded sandbox: the whole catalogue once
and in order through faults and expiring tokens, both formats, interruption and resume
(also across the farmasi/alkes boundary), the overwrite rules, bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from satusehat_async.errors import ResumeRefused, ServerError, ValidationError
from satusehat_async.export import ExportResult, checkpoint_path
from satusehat_async.kfa import CSV_COLUMNS, KfaCrawlStats
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox.kfa_catalogue import KfaCatalogue, catalogue_of
from satusehat_async.testing import LocalSandbox

# 30 % faults: 12 attempts make a page that fails them all about 1 in 2 million.
SOAK_RETRY = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.003)
FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)

Identity = tuple[Any, ...]


def fake_clock() -> Callable[[], float]:
    """A wall clock that advances one second per reading: tokens expire mid-export."""
    ticks = itertools.count()
    return lambda: 1_700_000_000.0 + next(ticks)


def identity(record: dict[str, Any]) -> Identity:
    """What tells products apart, read from a raw record (a "/" device has no own code)."""
    template = record.get("product_template") or {}
    fields = ("kfa_code", "name", "nie", "manufacturer")
    return (*(record.get(f) for f in fields), template.get("kfa_code"))


def expected(catalogue: KfaCatalogue, *types: str) -> list[Identity]:
    """Every product of ``types`` in the server's list order, read from the catalogue."""
    return [identity(r) for t in types for r in catalogue.records(t)]


def ndjson_rows(path: Path) -> list[Identity]:
    return [identity(json.loads(line)) for line in path.read_text().splitlines()]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def csv_identities(path: Path) -> list[Identity]:
    def cell(row: dict[str, str], name: str) -> str | None:
        return row[name] or None

    fields = ("kfa_code", "name", "nie", "manufacturer", "template_code")
    return [tuple(cell(row, f) for f in fields) for row in csv_rows(path)]


def rows_of(path: Path, fmt: str) -> list[Identity]:
    return ndjson_rows(path) if fmt == "ndjson" else csv_identities(path)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_the_whole_catalogue_once_in_order_through_faults_and_expiring_tokens(
    tmp_path: Path, fmt: str
) -> None:
    clock = fake_clock()
    options: dict[str, Any] = {"fault_rate": 0.3, "token_ttl": 60.0, "seed": 5}
    out = tmp_path / f"kfa.{fmt}"
    async with LocalSandbox(facilities=0, kfa_products=6000, clock=clock, **options) as sb:
        catalogue = catalogue_of(sb)
        seen_pages: list[tuple[str | None, int]] = []

        def on_page(result: ExportResult) -> None:
            stats = result.stats
            assert isinstance(stats, KfaCrawlStats)
            seen_pages.append((stats.product_type, result.rows_total))
            if stats.pages % 20 == 0:
                sb.expire_tokens()  # and the fake clock expires them every 60 readings

        async with sb.client(retry=SOAK_RETRY, clock=clock) as client:
            result = await client.kfa.export(
                out, format=fmt, page_size=100, concurrency=4, on_page=on_page
            )
        want = expected(catalogue, "farmasi", "alkes")
        got = rows_of(out, fmt)
        assert got == want and len(set(got)) == len(got) == 6000
        assert sum(row[0] == "/" for row in got) == 480  # every "/" device, each once
        assert result.complete and result.rows_total == result.rows_written == 6000
        stats = result.stats
        assert isinstance(stats, KfaCrawlStats)
        assert stats.totals == {"farmasi": 3600, "alkes": 2400} and stats.pages == 60
        assert [kind for kind, _ in seen_pages] == ["farmasi"] * 36 + ["alkes"] * 24
        faults = sum(sb.stats.faults_injected.values())
        assert faults > 20 and stats.retries >= faults  # ridden through by retries
        assert sb.stats.token_requests > 3  # tokens expired mid-export, fetched again
        checkpoint = json.loads(checkpoint_path(out).read_text())
        assert checkpoint["complete"] and checkpoint["facilities"] == 6000
        assert checkpoint["bytes"] == out.stat().st_size and checkpoint["part"] == "alkes"


def failing_from(catalogue: KfaCatalogue, number: int) -> Callable[[Any], bytes]:
    """``catalogue.listed`` that fails (a 500) for any page reaching product ``number``."""
    serve = catalogue.listed

    def listed(numbers: Any) -> bytes:
        if any(n >= number for n in numbers):
            raise RuntimeError("upstream gone")
        return serve(numbers)

    return listed


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
@pytest.mark.parametrize(("stop_at", "part", "page"), [(1250, "farmasi", 13), (2150, "alkes", 4)])
async def test_a_failed_export_resumes_to_every_product_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, stop_at: int, part: str, page: int
) -> None:
    out = tmp_path / f"kfa.{fmt}"
    async with LocalSandbox(facilities=0, kfa_products=3000) as sb:
        catalogue = catalogue_of(sb)  # farmasi: products 0-1799, alkes 1800-2999
        async with sb.client(retry=FAST_RETRY) as client:
            monkeypatch.setattr(catalogue, "listed", failing_from(catalogue, stop_at))
            with pytest.raises(ServerError):
                await client.kfa.export(out, format=fmt, page_size=100, concurrency=3)
            checkpoint = json.loads(checkpoint_path(out).read_text())
            assert (checkpoint["part"], checkpoint["next_page"]) == (part, page)
            assert not checkpoint["complete"] and checkpoint["bytes"] == out.stat().st_size
            written = checkpoint["facilities"]
            with out.open("a") as f:  # a crash in the middle of writing the next page
                f.write('{"kfa_code": "9300' if fmt == "ndjson" else "93001300,half a ro")
            monkeypatch.undo()
            result = await client.kfa.export(out, format=fmt, page_size=100, resume=True)
        assert result.resumed_from == (part, page) and result.rows_before == written
        got = rows_of(out, fmt)
        assert got == expected(catalogue, "farmasi", "alkes") and len(set(got)) == 3000
        assert result.complete and result.rows_total == 3000


async def test_a_cancelled_export_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "kfa.ndjson"
    async with LocalSandbox(facilities=0, kfa_products=2000, latency=0.002) as sb:
        catalogue = catalogue_of(sb)
        async with sb.client() as client:
            task: asyncio.Task[ExportResult] | None = None

            def stop(result: ExportResult) -> None:
                if result.stats.pages == 18 and task is not None:
                    task.cancel()  # Ctrl-C in the middle of alkes

            export = client.kfa.export(out, page_size=80, concurrency=4, on_page=stop)
            task = asyncio.ensure_future(export.run())
            with pytest.raises(asyncio.CancelledError):
                await task
            checkpoint = json.loads(checkpoint_path(out).read_text())
            # the write under way when the cancellation came finishes first (a page, or two)
            assert checkpoint["part"] == "alkes" and checkpoint["next_page"] in (4, 5)
            assert not checkpoint["complete"]
            written = (15 + checkpoint["next_page"] - 1) * 80
            assert len(ndjson_rows(out)) == checkpoint["facilities"] == written
            result = await client.kfa.export(out, page_size=80, concurrency=4, resume=True)
        assert ndjson_rows(out) == expected(catalogue, "farmasi", "alkes")
        assert result.rows_total == 2000 and result.resumed_from is not None


async def test_resume_at_the_end_of_a_type_goes_on_with_the_next(tmp_path: Path) -> None:
    out = tmp_path / "kfa.csv"
    async with LocalSandbox(facilities=0, kfa_products=1000) as sb:
        catalogue = catalogue_of(sb)  # farmasi 600 = exactly 6 pages of 100
        async with sb.client(retry=FAST_RETRY) as client:
            serve = catalogue.listed

            def only_farmasi(numbers: Any) -> bytes:
                if any(n >= 600 for n in numbers):
                    raise RuntimeError("alkes gone")
                return serve(numbers)

            catalogue.listed = only_farmasi  # type: ignore[method-assign]
            with pytest.raises(ServerError):
                await client.kfa.export(out, format="csv", page_size=100, concurrency=1)
            checkpoint = json.loads(checkpoint_path(out).read_text())
            assert (checkpoint["part"], checkpoint["next_page"]) == ("farmasi", 7)
            catalogue.listed = serve  # type: ignore[method-assign]
            result = await client.kfa.export(out, format="csv", page_size=100, resume=True)
        assert csv_identities(out) == expected(catalogue, "farmasi", "alkes")
        by_type = result.stats.by_type  # type: ignore[attr-defined]
        assert by_type["farmasi"].items == 0 and by_type["alkes"].items == 400


async def test_slash_devices_are_told_apart_in_csv_and_resume_keys_on_them(tmp_path: Path) -> None:
    out = tmp_path / "alkes.csv"
    async with LocalSandbox(facilities=0, kfa_products=500) as sb:
        catalogue = catalogue_of(sb)
        async with sb.client() as client:
            result = await client.kfa.export(out, format="csv", product_type="alkes", page_size=7)
            rows = csv_rows(out)
            slash = [row for row in rows if row["kfa_code"] == "/"]
            assert len(slash) == 40 and len({row["key"] for row in rows}) == len(rows) == 200
            assert all(json.loads(row["key"])[0] == "/" for row in slash)
            assert csv_identities(out) == expected(catalogue, "alkes")
            assert result.stats.by_type.keys() == {"alkes"}  # type: ignore[attr-defined]
            requests = sb.stats.requests
            again = await client.kfa.export(
                out, format="csv", product_type="alkes", page_size=7, resume=True
            )
            assert again.already_complete and sb.stats.requests == requests  # nothing sent


async def test_a_stream_gets_the_whole_catalogue() -> None:
    buffer = io.BytesIO()
    async with LocalSandbox(facilities=0, kfa_products=300) as sb:
        catalogue = catalogue_of(sb)
        async with sb.client() as client:
            result = await client.kfa.export(buffer, product_type="farmasi", page_size=50)
    lines = buffer.getvalue().decode().splitlines()
    assert [identity(json.loads(line)) for line in lines] == expected(catalogue, "farmasi")
    assert result.path is None and not result.complete and result.rows_written == 180


async def test_an_existing_file_is_refused_unless_forced_and_other_filters_unless_forced(
    tmp_path: Path,
) -> None:
    out = tmp_path / "precious.ndjson"
    out.write_text("my data\n")
    async with LocalSandbox(facilities=0, kfa_products=300) as sb, sb.client() as client:
        with pytest.raises(ResumeRefused, match=r"already exists; use resume=True .* force=True"):
            await client.kfa.export(out)
        with pytest.raises(ResumeRefused, match=r"has no checkpoint"):
            await client.kfa.export(out, resume=True)
        assert out.read_text() == "my data\n" and sb.stats.requests == 0
        await client.kfa.export(out, force=True, product_type="alkes")
        assert ndjson_rows(out) == expected(catalogue_of(sb), "alkes")
        requests = sb.stats.requests
        with pytest.raises(ResumeRefused, match=r"belongs to another crawl.*force=True"):
            await client.kfa.export(out, resume=True, product_type="farmasi")
        with pytest.raises(ResumeRefused, match=r"belongs to another crawl"):
            await client.kfa.export(out, resume=True, product_type="alkes", format="csv")
        assert sb.stats.requests == requests


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"format": "xml"}, "format must be one of ndjson, csv"),
        ({"page_size": 0}, "page_size must be an integer from 1 to 1000"),
        ({"page_size": 1001}, "page_size must be an integer from 1 to 1000"),
        ({"concurrency": 0}, "concurrency must be a positive integer"),
        ({"product_type": "obat"}, "product_type must be 'farmasi', 'alkes' or None"),
        ({"keyword": " "}, "keyword must be printable text"),
        ({"from_date": "2024-02-30"}, "from_date must be a date"),
        ({"template_code": "93000001"}, "template_code must start with 92 or 82"),
        ({"resume": True, "force": True}, "exclude each other"),
    ],
)
async def test_bad_input_is_refused_when_called_and_nothing_is_sent(
    tmp_path: Path, arguments: dict[str, Any], message: str
) -> None:
    async with LocalSandbox(facilities=0, kfa_products=100) as sb, sb.client() as client:
        with pytest.raises(ValidationError, match=message):
            client.kfa.export(tmp_path / "x.ndjson", **arguments)
        with pytest.raises(ValidationError, match="resume and force need output to be a file"):
            client.kfa.export(io.BytesIO(), resume=True)
        assert sb.stats.requests == 0 and not (tmp_path / "x.ndjson").exists()
