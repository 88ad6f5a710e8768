"""``satusehat fhir get|search|create`` end to end against the local sandbox."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from satusehat_async.cli.fhir_cmd import parse_search_terms
from satusehat_async.cli.main import main
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import LocalSandbox, ThreadedSandbox

cli_main = importlib.import_module("satusehat_async.cli.main")


@pytest.fixture(scope="module")
def sb() -> Iterator[LocalSandbox]:
    with ThreadedSandbox(facilities=10, seed=11) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, sb: LocalSandbox) -> None:
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)
    original = cli_main.client_from_args
    fast = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    monkeypatch.setattr(
        cli_main, "client_from_args", lambda args, **kw: original(args, retry=fast, **kw)
    )
    sb.faults.clear()


def encounter(sb: LocalSandbox, visit: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [
            {
                "system": f"http://sys-ids.kemkes.go.id/encounter/{sb.organization_id}",
                "value": visit,
            }
        ],
        "status": "arrived",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "subject": {"reference": "Patient/P02478375538", "display": "Pasien Uji"},
        "period": {"start": "2026-11-30T01:00:00+00:00"},
    }


def write(tmp_path: Path, resource: dict[str, Any], name: str) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(resource))
    return str(path)


def test_create_twice_then_get(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, encounter(sb, "CLI-0001"), "e.json")
    assert main(["fhir", "create", "Encounter", file]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["created"] is True and first["resource"]["status"] == "arrived"
    assert main(["fhir", "create", "Encounter", file]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["created"] is False and again["id"] == first["id"]
    assert sb.resources.count("Encounter") == 1
    assert main(["fhir", "get", "Encounter", first["id"]]) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["id"] == first["id"] and read["class"]["code"] == "AMB"


def test_search_prints_every_page_as_ndjson(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(7):
        file = write(tmp_path, encounter(sb, f"CLI-PAGE-{i}"), f"e{i}.json")
        assert main(["fhir", "create", "Encounter", file]) == 0
    capsys.readouterr()
    code = main(["fhir", "search", "Encounter", "subject=Patient/P02478375538", "_count=3"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    ids = [json.loads(line)["id"] for line in out]
    assert len(ids) == len(set(ids)) == sb.resources.count("Encounter")


def test_a_result_cut_short_of_its_total_is_said_and_strict_fails(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.resources.search_style = "satusehat"
    try:
        for i in range(101 - sb.resources.count("Encounter")):
            file = write(tmp_path, encounter(sb, f"CLI-MANY-{i}"), f"m{i}.json")
            assert main(["fhir", "create", "Encounter", file]) == 0
        capsys.readouterr()
        assert main(["fhir", "search", "Encounter", "status=arrived"]) == 0
        captured = capsys.readouterr()
        assert len(captured.out.splitlines()) == 100
        assert "100 of 101" in captured.err
        assert main(["fhir", "search", "Encounter", "status=arrived", "--strict"]) == 1
    finally:
        sb.resources.search_style = "standard"


def test_refusals_before_sending_exit_2(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sb.stats.requests
    assert main(["fhir", "get", "Encounterz", "x"]) == 2
    assert main(["fhir", "search", "Encounter", "nonsense"]) == 2
    bad = encounter(sb, "CLI-BAD")
    bad["clas"] = bad.pop("class")
    assert main(["fhir", "create", "Encounter", write(tmp_path, bad, "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "clas" in err and len(err.strip().splitlines()) == 3
    assert sb.stats.requests - before <= 3  # at most the token: no FHIR request was sent


def test_parse_search_terms_repeats_keys_as_and() -> None:
    assert parse_search_terms(["date=ge2024", "date=lt2025", "subject=Patient/P1"]) == {
        "date": ["ge2024", "lt2025"],
        "subject": "Patient/P1",
    }
