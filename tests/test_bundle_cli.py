"""``satusehat bundle post`` and ``satusehat encounter get|search`` against the local sandbox.

A visit (an Encounter, 2 Conditions, 3 vital-sign Observations, local identifiers of the
sandbox's organization, UTC ``+00:00`` times, every encounter reference a ``urn:uuid``)
is posted as one transaction from a file; posted again it stores nothing and prints the
same ids. A Bundle refused before sending exits 2 with one line; a server refusal exits 1
with one line naming the entry.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from satusehat_async.cli.main import main
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import LocalSandbox, ThreadedSandbox

cli_main = importlib.import_module("satusehat_async.cli.main")

PATIENT = "Patient/P02478375538"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
VISIT_TYPES = ["Encounter", "Condition", "Condition", "Observation", "Observation", "Observation"]


@pytest.fixture(scope="module")
def sb() -> Iterator[LocalSandbox]:
    with ThreadedSandbox(facilities=10, seed=12) as sandbox:
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


def local(sb: LocalSandbox, kind: str, value: str) -> list[dict[str, str]]:
    return [{"system": f"http://sys-ids.kemkes.go.id/{kind}/{sb.organization_id}", "value": value}]


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def visit(sb: LocalSandbox, reg: str) -> dict[str, Any]:
    """The outpatient minimum as a hand-built transaction Bundle."""
    enc, conds = urn(), [urn(), urn()]
    start, end = "2026-11-30T01:00:00+00:00", "2026-11-30T02:00:00+00:00"
    encounter = {
        "resourceType": "Encounter",
        "identifier": local(sb, "encounter", reg),
        "status": "arrived",
        "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": PATIENT},
        "period": {"start": start},
        "statusHistory": [{"status": "arrived", "period": {"start": start}}],
        "diagnosis": [{"condition": {"reference": c}, "rank": n} for n, c in enumerate(conds, 1)],
        "serviceProvider": {"reference": f"Organization/{sb.organization_id}"},
    }
    entries = [{"fullUrl": enc, "resource": encounter, "request": _post("Encounter")}]
    for n, (url, icd) in enumerate(zip(conds, ["K35.8", "J06.9"], strict=True)):
        condition = {
            "resourceType": "Condition",
            "identifier": local(sb, "condition", f"{reg}-D{n}"),
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
        }
        entries.append({"fullUrl": url, "resource": condition, "request": _post("Condition")})
    for n, loinc in enumerate(["8867-4", "8480-6", "8310-5"]):
        observation = {
            "resourceType": "Observation",
            "identifier": local(sb, "observation", f"{reg}-V{n}"),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
            "effectiveDateTime": end,
        }
        entries.append({"fullUrl": urn(), "resource": observation, "request": _post("Observation")})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _post(kind: str) -> dict[str, str]:
    return {"method": "POST", "url": kind}


def write(tmp_path: Path, bundle: dict[str, Any], name: str) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return str(path)


def counts(sb: LocalSandbox) -> tuple[int, int, int]:
    count = sb.resources.count
    return count("Encounter"), count("Condition"), count("Observation")


def post(file: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["bundle", "post", file]) == 0
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    return answer


def test_a_visit_posted_twice_is_stored_once_with_the_same_ids(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = counts(sb)
    file = write(tmp_path, visit(sb, "BCLI-1"), "visit.json")
    first = post(file, capsys)
    entries = first["entries"]
    assert [e["resource_type"] for e in entries] == VISIT_TYPES
    assert [e["index"] for e in entries] == list(range(6))
    assert all(e["created"] is True for e in entries) and first["created"] is True
    assert all(e["status"].startswith("201") for e in entries)
    for e in entries:
        assert f"{e['resource_type']}/{e['id']}" in e["location"]
    after = counts(sb)
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (1, 2, 3)
    # every encounter reference names the stored Encounter
    encounter_id = entries[0]["id"]
    for e in entries[1:]:
        stored = sb.resources.get(e["resource_type"], e["id"])
        assert stored["encounter"]["reference"] == f"Encounter/{encounter_id}"

    again = post(file, capsys)
    assert [e["id"] for e in again["entries"]] == [e["id"] for e in entries]
    assert all(e["created"] is False for e in again["entries"]) and again["created"] is False
    assert counts(sb) == after


def test_encounter_get_and_search_read_the_posted_visit(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = post(write(tmp_path, visit(sb, "BCLI-2"), "v.json"), capsys)["entries"]
    encounter_id = entries[0]["id"]
    assert main(["encounter", "get", encounter_id]) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["id"] == encounter_id and read["class"]["code"] == "AMB"
    assert [d["condition"]["reference"] for d in read["diagnosis"]] == [
        f"Condition/{e['id']}" for e in entries[1:3]
    ]
    system = local(sb, "encounter", "BCLI-2")[0]["system"]
    assert main(["encounter", "search", f"identifier={system}|BCLI-2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [encounter_id]


def test_a_dangling_urn_uuid_is_refused_before_sending_exit_2(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = visit(sb, "BCLI-3")
    nowhere = urn()
    bundle["entry"][4]["resource"]["encounter"]["reference"] = nowhere
    before, stored = sb.stats.requests, counts(sb)
    assert main(["bundle", "post", write(tmp_path, bundle, "dangling.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and nowhere in err[0], err
    assert sb.stats.requests - before <= 1  # at most the token: no FHIR request was sent
    assert counts(sb) == stored


def test_other_refusals_before_sending_exit_2(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = visit(sb, "BCLI-4")
    other["entry"][1]["resource"]["identifier"][0]["system"] = (
        "http://sys-ids.kemkes.go.id/condition/99999999"
    )
    naive = visit(sb, "BCLI-5")
    naive["entry"][3]["resource"]["effectiveDateTime"] = "2026-11-30T02:00:00"
    searchset = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    before, stored = sb.stats.requests, counts(sb)
    for name, bundle in (("other", other), ("naive", naive), ("searchset", searchset)):
        assert main(["bundle", "post", write(tmp_path, bundle, f"{name}.json")]) == 2, name
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["bundle", "post", str(tmp_path / "junk.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4, err
    assert "99999999" in err[0] and "effectiveDateTime" in err[1] and "searchset" in err[2]
    assert sb.stats.requests - before <= 1
    assert counts(sb) == stored


def test_a_server_refusal_exits_1_naming_the_entry(
    sb: LocalSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = visit(sb, "BCLI-6")
    # an update of an Encounter the server does not hold: only the server can tell
    ghost = {**bundle["entry"][0]["resource"], "id": "no-such-encounter", "identifier": []}
    del ghost["diagnosis"]
    bundle["entry"].append(
        {"resource": ghost, "request": {"method": "PUT", "url": "Encounter/no-such-encounter"}}
    )
    stored = counts(sb)
    assert main(["bundle", "post", write(tmp_path, bundle, "ghost.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "TransactionError" in err[0] and "entry 6 (Encounter)" in err[0], err
    assert counts(sb) == stored  # all or nothing
