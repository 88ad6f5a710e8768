"""``satusehat msi crawl`` end to end: formats, refusals, usage errors, interruption, resume."""

from __future__ import annotations

import csv
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from satusehat_async.cli.main import main
from satusehat_async.msi.checkpoint import checkpoint_path
from satusehat_async.msi.export import CSV_COLUMNS
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox, ThreadedSandbox

FACILITIES = 3000
# The package re-exports the function main(), which shadows the module attribute.
cli_main = importlib.import_module("satusehat_async.cli.main")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=FACILITIES, seed=11) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> None:
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)
    original = cli_main.client_from_args
    fast = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    monkeypatch.setattr(
        cli_main, "client_from_args", lambda args, **kw: original(args, retry=fast, **kw)
    )
    sb.faults.clear()
    sb.reset_stats()


def crawl(*args: str | Path) -> int:
    return main(["msi", "crawl", *map(str, args)])


def all_codes(sb: Sandbox, jenis: set[str] | None = None) -> list[str]:
    return [
        r["kode_satusehat"]
        for r in sb.registry
        if jenis is None or r["jenis_sarana"]["kode"] in jenis
    ]


def ndjson_codes(path: Path) -> list[str]:
    return [json.loads(line)["kode_satusehat"] for line in path.read_text().splitlines()]


def test_ndjson_export_has_every_facility_once(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.ndjson"
    assert crawl("--output", out, "--page-size", "250", "--concurrency", "3") == 0
    assert ndjson_codes(out) == all_codes(sb)
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert checkpoint["complete"] is True and checkpoint["bytes"] == out.stat().st_size
    assert checkpoint["next_page"] == 13 and checkpoint["facilities"] == FACILITIES
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"msi crawl: {FACILITIES:,} facilities in")
    first = json.loads(out.read_text().splitlines()[0])
    assert isinstance(first["provinsi"]["kode"], str)


def test_csv_export_flattens_nested_fields(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "rs.csv"
    assert crawl("--jenis-sarana", "104", "--jenis-sarana", "klinik", "--format", "csv",
                 "-o", out, "--page-size", "100") == 0  # fmt: skip
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and "provinsi.kode" in rows[0]
    assert [r["kode_satusehat"] for r in rows] == all_codes(sb, {"103", "104"})
    assert {r["jenis_sarana.kode"] for r in rows} == {"103", "104"}
    assert rows[0]["status_aktif"] in ("true", "false")


def test_stdout_with_filters(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    province = sb.registry[0]["provinsi"]["kode"]
    assert crawl("--kode-provinsi", province, "--jenis-sarana", "102") == 0
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines()]
    expected = [
        r["kode_satusehat"]
        for r in sb.registry
        if r["provinsi"]["kode"] == province and r["jenis_sarana"]["kode"] == "102"
    ]
    assert [r["kode_satusehat"] for r in records] == expected and expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kode-provinsi", "321"], "--kode-provinsi must be a 2-digit code"),
        (["--kode-kabkota", "32"], "--kode-kabkota must be a 4-digit code"),
        (["--kode-kecamatan", "3271"], "--kode-kecamatan must be a 6-digit code"),
        (["--page-size", "2001"], "--page-size must be between 1 and 2000"),
        (["--page-size", "0"], "--page-size must be between 1 and 2000"),
        (["--format", "xml"], "--format must be one of ndjson, csv"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--resume"], "--resume and --force need --output FILE"),
        (["--sumber-identifier", "yankes_rs"], "must be given together"),
        (["--updated-from", "2024-13-01"], "--updated-from must be a date"),
        (["--jenis-sarana", "hospital"], "--jenis-sarana takes a facility type code or"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_send_nothing(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert crawl(*argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sb.stats.requests == 0


def test_existing_output_is_never_clobbered(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "precious.ndjson"
    out.write_text("my data\n")
    assert crawl("-o", out) == 2
    assert "already exists; use --resume" in capsys.readouterr().err
    assert crawl("-o", out, "--resume") == 2  # no checkpoint: where it stopped is unknown
    assert "has no checkpoint" in capsys.readouterr().err
    assert out.read_text() == "my data\n" and sb.stats.requests == 0
    assert crawl("-o", out, "--force", "--jenis-sarana", "104") == 0
    assert ndjson_codes(out) == all_codes(sb, {"104"})


def test_resume_without_output_starts_fresh_and_a_complete_one_is_left_alone(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fresh.ndjson"
    assert crawl("-o", out, "--resume", "--jenis-sarana", "101") == 0
    assert ndjson_codes(out) == all_codes(sb, {"101"})
    requests = sb.stats.requests
    capsys.readouterr()
    assert crawl("-o", out, "--resume", "--jenis-sarana", "101") == 0
    assert "already complete" in capsys.readouterr().err
    assert sb.stats.requests == requests


def test_resume_refuses_a_checkpoint_of_another_query(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a.ndjson"
    assert crawl("-o", out, "--jenis-sarana", "101") == 0
    assert crawl("-o", out, "--resume", "--jenis-sarana", "102") == 2
    assert "belongs to another crawl" in capsys.readouterr().err


def test_interrupted_crawl_resumes_to_exactly_the_full_set(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "partial.csv"
    serve = sb.registry.page

    def failing(query: Any) -> bytes:
        if query.page >= 5:  # the network goes away for good after four pages
            raise RuntimeError("upstream gone")
        return serve(query)

    monkeypatch.setattr(sb.registry, "page", failing)
    assert crawl("-o", out, "--format", "csv", "--page-size", "200", "--concurrency", "3") == 1
    assert "ServerError" in capsys.readouterr().err
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert checkpoint["next_page"] == 5 and checkpoint["complete"] is False
    assert checkpoint["bytes"] == out.stat().st_size
    with out.open("a") as f:  # a crash in the middle of writing page 5
        f.write("1000000001,half a ro")
    monkeypatch.setattr(sb.registry, "page", serve)
    assert crawl("-o", out, "--format", "csv", "--page-size", "200", "--resume") == 0
    with out.open(newline="") as f:
        codes = [row["kode_satusehat"] for row in csv.DictReader(f)]
    assert codes == all_codes(sb)
    assert f"{FACILITIES:,} facilities in" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line_and_resume_completes(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "interrupted.ndjson"
    sb.latency = 0.05
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "satusehat_async.cli", "msi", "crawl", "-o", str(out),
            "--page-size", "100", "--concurrency", "2"]  # fmt: skip
    try:
        process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        marker = checkpoint_path(out)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if marker.exists() and json.loads(marker.read_text())["next_page"] >= 4:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        sb.latency = 0.0
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0], err
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert not checkpoint["complete"] and checkpoint["bytes"] <= out.stat().st_size
    assert 4 <= checkpoint["next_page"] < 30
    assert crawl("-o", out, "--page-size", "100", "--resume") == 0
    codes = ndjson_codes(out)
    assert codes == all_codes(sb) and len(set(codes)) == FACILITIES
