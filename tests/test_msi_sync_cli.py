"""``satusehat msi sync DB`` end to end through ``main()``: text and JSON reports, exit codes."""

from __future__ import annotations

import importlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from satusehat_async.cli.main import main
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox, ThreadedSandbox

FACILITIES = 2500
cli_main = importlib.import_module("satusehat_async.cli.main")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=FACILITIES, seed=17) as sandbox:
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
    sb.reset_stats()


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["msi", "sync", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def codes(sb: Sandbox, jenis: str | None = None) -> set[str]:
    return {
        r["kode_satusehat"]
        for r in sb.registry
        if jenis is None or r["jenis_sarana"]["kode"] == jenis
    }


def test_text_report_of_a_first_and_a_second_sync(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "rs.db"
    code, out, err = run(capsys, db, "--jenis-sarana", "rumah-sakit", "--page-size", "200")
    assert code == 0, err
    hospitals = codes(sb, "104")
    lines = out.splitlines()
    assert lines[0] == (
        f"msi sync {db}: full pass, {len(hospitals):,} facilities in the mirror "
        "(filters: jenis_sarana=104)"
    )
    assert lines[1] == f"  added {len(hospitals):,}, changed 0, closed 0"
    assert lines[2].startswith("  added: ") and "more)" in lines[2]
    assert "crawled: full " in out and "catch-up from " in out
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT kode_satusehat FROM facility_current")}
    assert stored == hospitals

    target = sorted(hospitals)[0]
    sb.registry.close(target)
    code, out, err = run(capsys, db, "--jenis-sarana", "104")
    assert code == 0, err
    assert "incremental pass" in out and "added 0, changed 0, closed 1" in out
    assert f"closed: {target} (inactive)" in out


def test_json_report_for_programs(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "puskesmas.db"
    code, out, err = run(capsys, db, "--jenis-sarana", "102", "--format", "JSON")
    assert code == 0, err
    first = json.loads(out)
    assert first["mode"] == "full" and first["counts"]["added"] == len(codes(sb, "102"))
    assert set(first["added"]) == codes(sb, "102")

    new = sb.add_facilities(30)  # dated today: the incremental pass finds those of type 102
    code, out, err = run(capsys, db, "--jenis-sarana", "102", "--format", "json")
    assert code == 0, err
    second = json.loads(out)
    assert second["mode"] == "incremental"
    assert set(second["added"]) == set(new) & codes(sb, "102")
    assert second["changed"] == [] and second["closed"] == []
    assert second["counts"] == {"added": len(second["added"]), "changed": 0, "closed": 0}


def test_other_filters_are_a_usage_error_until_full(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "klinik.db"
    assert run(capsys, db, "--jenis-sarana", "103")[0] == 0
    sb.reset_stats()
    code, out, err = run(capsys, db, "--jenis-sarana", "104")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("satusehat: error: ")
    assert "mirrors other filters" in err and "pass --full to rebuild" in err
    assert sb.stats.requests == 0

    code, out, err = run(capsys, db, "--jenis-sarana", "104", "--full")
    assert code == 0, err
    assert "(rebuilt for new filters)" in out


def test_bad_options_are_usage_errors(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.db"
    for args, message in (
        (("--format", "csv"), "--format must be one of text, json"),
        (("--page-size", "0"), "--page-size must be between 1 and 2000"),
        (("--kode-provinsi", "3"), "--kode-provinsi must be a 2-digit code"),
        (("--updated-from", "2024-01-01"), "--updated-from and --updated-to are set by the"),
    ):
        code, _, err = run(capsys, db, *args)
        assert code == 2 and message in err and err.count("\n") == 1, (args, err)
    assert sb.stats.requests == 0 and not db.exists()


def test_a_file_that_is_not_a_mirror_fails_in_one_line(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("these are not facilities\n" * 200)
    code, out, err = run(capsys, db)
    assert code == 1 and out == ""
    assert err.startswith("satusehat: MirrorError: ") and err.count("\n") == 1
    assert db.read_text().startswith("these are not facilities")


def test_progress_on_a_terminal_without_rich_is_plain_lines(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich -> ImportError
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, tmp_path / "p.db", "--jenis-sarana", "101", "--page-size", "300")
    assert code == 0 and out.startswith("msi sync ")
    lines = err.splitlines()
    assert lines[0].startswith("msi sync: full pass, page 1/") and "facilities" in lines[0]
    assert any(line.startswith("msi sync: catch-up pass, page 1/") for line in lines)
    assert "Traceback" not in err


def test_progress_on_a_terminal_with_rich_leaves_the_report_alone(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, tmp_path / "r.db", "--jenis-sarana", "104", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["mode"] == "full" and "Traceback" not in err
