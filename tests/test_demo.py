"""`satusehat demo`: the main job on the embedded sandbox, run through the real CLI."""

from __future__ import annotations

import pytest

from satusehat_async.cli.main import main


def test_demo_runs_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "demo",
            "--facilities",
            "1500",
            "--page-size",
            "100",
            "--latency-ms",
            "5",
            "--fault-rate",
            "0.2",
            "--token-ttl",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "1,500 facilities (every one, each once) from 15 pages" in out
    assert "by province (38):" in out
    assert "11 Aceh" in out and "96 Papua Barat Daya" in out
    assert "created=False: no duplicate" in out
    assert "reconciled by search, not re-sent" in out
    assert "the sandbox holds exactly 4 patients" in out
    assert "language='id'" in out
    # the visit: one transaction through a 504 after commit, finished, sent again
    assert "sent through a 504 after commit" in out and "(created=True: reconciled" in out
    assert "status history arrived -> in-progress -> finished" in out
    assert "sent again       -> created=False, same ids=True" in out
    assert "exactly 1 Encounter, 2 Conditions and 3 Observations" in out


def test_demo_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--page-size", "5000"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "satusehat: error: --page-size must be between 1 and 2000"
