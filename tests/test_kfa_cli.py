"""``satusehat kfa export`` and ``satusehat kfa product`` end to end: both formats, faults
and expired tokens, a killed run resumed, the overwrite rules, usage errors."""

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

from satusehat_async.cli.kfa_cmd import HELP
from satusehat_async.cli.main import COMMANDS, main
from satusehat_async.export import checkpoint_path
from satusehat_async.kfa import CSV_COLUMNS
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox.kfa_catalogue import catalogue_of
from satusehat_async.testing import Sandbox, ThreadedSandbox

PRODUCTS = 6000  # farmasi 3600, alkes 2400 (480 of them "/" devices)
cli_main = importlib.import_module("satusehat_async.cli.main")
ORIGINAL = cli_main.client_from_args
FAST = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
# 30 % faults: 12 attempts make a page that fails them all about 1 in 2 million.
SOAK = RetryPolicy(max_attempts=12, base_delay=0.001, max_delay=0.003)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=0, kfa_products=PRODUCTS, seed=7) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> None:
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)
    use_retry(monkeypatch, FAST)
    sb.faults.clear()
    sb.faults.rate = 0.0
    sb.reset_stats()


def use_retry(monkeypatch: pytest.MonkeyPatch, policy: RetryPolicy) -> None:
    monkeypatch.setattr(
        cli_main, "client_from_args", lambda args, **kw: ORIGINAL(args, retry=policy, **kw)
    )


def kfa(*args: str | Path) -> int:
    return main(["kfa", *map(str, args)])


def identity(record: dict[str, Any]) -> tuple[Any, ...]:
    """What tells products apart, from a raw record ("/" devices have no own code)."""
    template = (record.get("product_template") or {}).get("kfa_code")
    return (record["kfa_code"], record["name"], record.get("nie"), template)


def expected(sb: Sandbox, *types: str) -> list[tuple[Any, ...]]:
    catalogue = catalogue_of(sb)
    return [identity(r) for t in types or ("farmasi", "alkes") for r in catalogue.records(t)]


def ndjson_identities(path: Path) -> list[tuple[Any, ...]]:
    return [identity(json.loads(line)) for line in path.read_text().splitlines()]


def csv_identities(path: Path) -> list[tuple[Any, ...]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        cells = [(r["kfa_code"], r["name"], r["nie"] or None, r["template_code"]) for r in reader]
    return cells


def test_the_help_line_is_the_tables() -> None:
    assert COMMANDS["kfa"] == ("kfa_cmd", HELP)


def test_ndjson_export_through_faults_and_expired_tokens_has_every_product_once(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_retry(monkeypatch, SOAK)
    sb.faults.rate = 0.3
    catalogue = catalogue_of(sb)
    serve, served = catalogue.listed, iter(range(10**6))

    def expiring(numbers: Any) -> bytes:
        if next(served) % 15 == 14:
            sb.expire_tokens()  # every token so far expires: later requests get 401 expired
        return serve(numbers)

    monkeypatch.setattr(catalogue, "listed", expiring)
    out = tmp_path / "kfa.ndjson"
    assert kfa("export", "-o", out, "--page-size", "100", "--concurrency", "4") == 0
    got = ndjson_identities(out)
    assert got == expected(sb) and len(set(got)) == PRODUCTS
    assert sum(row[0] == "/" for row in got) == 480
    assert sum(sb.stats.faults_injected.values()) > 20 and sb.stats.token_requests >= 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"kfa export: {PRODUCTS:,} products in {out} (farmasi 3,600, alkes")
    checkpoint = json.loads(checkpoint_path(out).read_text())
    assert checkpoint["complete"] and checkpoint["facilities"] == PRODUCTS


def test_csv_export_of_one_type_with_plain_progress(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "alkes.csv"
    argv = ["--format", "CSV", "--product-type", "alkes", "--progress", "plain"]
    assert kfa("export", "-o", out, *argv) == 0
    assert csv_identities(out) == expected(sb, "alkes")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("kfa export: alkes page 1, 100/2,400 products")
    assert lines[-1].startswith("kfa export: 2,400 products in")
    assert sb.stats.requests_by_path["GET /kfa-v2/products/all"] == 24  # farmasi not asked


def test_a_second_export_is_refused_without_force(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kfa.ndjson"
    assert kfa("export", "-o", out, "--product-type", "farmasi", "--page-size", "1000") == 0
    before, requests = out.read_bytes(), sb.stats.requests
    capsys.readouterr()
    assert kfa("export", "-o", out, "--product-type", "farmasi", "--page-size", "1000") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists; use --resume" in err[0] and "--force" in err[0]
    assert kfa("export", "-o", out, "--resume", "--product-type", "alkes") == 2
    assert "belongs to another crawl" in capsys.readouterr().err
    assert out.read_bytes() == before and sb.stats.requests == requests  # nothing sent
    assert (
        kfa("export", "-o", out, "--resume", "--product-type", "farmasi", "--page-size", "1000")
        == 0
    )
    assert "already complete" in capsys.readouterr().err and sb.stats.requests == requests
    assert kfa("export", "-o", out, "--force", "--product-type", "alkes") == 0
    assert ndjson_identities(out) == expected(sb, "alkes")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--page-size", "1001"], "--page-size must be between 1 and 1000"),
        (["--page-size", "0"], "--page-size must be between 1 and 1000"),
        (["--format", "xml"], "--format must be one of ndjson, csv"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--resume"], "--resume and --force need --output FILE"),
        (["-o", "x.ndjson", "--resume", "--force"], "--resume and --force exclude each other"),
        (["--product-type", "obat"], "argument --product-type: invalid choice"),
        (["--keyword", " "], "--keyword must be printable text"),
        (["--from-date", "2024-02-30"], "--from-date must be a date"),
        (["--from-date", "2024-03-01", "--to-date", "2024-02-01"], "is after --to-date"),
        (["--template-code", "93000001"], "--template-code must start with 92 or 82"),
        (["--farmalkes-type", "Obat Keras"], "--farmalkes-type must be a type code"),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_send_nothing(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = kfa("export", *argv)
    except SystemExit as exc:  # argparse's own refusals (a choice, a type) exit from parsing
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sb.stats.requests == 0


def test_a_killed_export_resumes_to_every_product_once(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "killed.csv"
    sb.latency = 0.01
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "satusehat_async.cli", "kfa", "export", "-o", str(out),
            "--format", "csv", "--page-size", "50", "--concurrency", "2"]  # fmt: skip
    marker = checkpoint_path(out)
    try:
        process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if marker.exists() and json.loads(marker.read_text())["facilities"] >= 1000:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)  # no chance to clean up
        process.communicate(timeout=20)
    finally:
        sb.latency = 0.0
    assert process.returncode == -signal.SIGKILL
    checkpoint = json.loads(marker.read_text())
    assert not checkpoint["complete"] and checkpoint["bytes"] <= out.stat().st_size
    assert 1000 <= checkpoint["facilities"] < PRODUCTS
    assert kfa("export", "-o", out, "--format", "csv", "--page-size", "50", "--resume") == 0
    got = csv_identities(out)
    assert got == expected(sb) and len(set(got)) == PRODUCTS


def test_ctrl_c_exits_130_with_one_line(sb: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "interrupted.ndjson"
    sb.latency = 0.02
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "satusehat_async.cli", "kfa", "export", "-o", str(out),
            "--page-size", "100", "--concurrency", "2"]  # fmt: skip
    try:
        process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        marker = checkpoint_path(out)
        deadline = time.monotonic() + 30
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
    assert kfa("export", "-o", out, "--resume") == 0
    assert ndjson_identities(out) == expected(sb)


def test_product_prints_json_and_not_found_exits_1(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kfa("product", "93000004") == 0
    product = json.loads(capsys.readouterr().out)
    assert product["kfa_code"] == "93000004" and product["kode_lkpp"] == "45000004"
    assert kfa("product", product["nie"], "--identifier", "nie") == 0
    assert json.loads(capsys.readouterr().out)["kfa_code"] == "93000004"
    assert kfa("product", "93999999") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().splitlines() == [
        "satusehat: no KFA product with kfa code '93999999'"
    ]
    requests = sb.stats.requests
    assert kfa("product", "9300") == 2  # not a KFA code: refused before sending
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be a KFA code of 8 digits" in err[0]
    assert sb.stats.requests == requests
