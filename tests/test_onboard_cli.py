"""``satusehat onboard FILE.csv`` end to end against a sandbox in a thread (and, for the
killed run, the command in a subprocess)."""

from __future__ import annotations

import importlib
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from satusehat_async.cli.main import main
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import Sandbox, ThreadedSandbox

cli_main = importlib.import_module("satusehat_async.cli.main")
ORG = "10000004"
POST = "POST /fhir-r4/v1/{type}"
HEADER = (
    "kind,identifier,name,parent,organization,physical_type,type,phone,address_line,city,province"
)

# a hospital: 4 departments, a building with 2 levels, 6 rooms, 8 beds (21 rows)
ROWS = [
    "organization,RJ,Rawat Jalan Terpadu,,,,dept,021-555,Jl. Sehat 1,Jakarta,31",
    "organization,RJ-A,Poli Anak,RJ,,,,,,,",
    "organization,RJ-B,Poli Bedah,RJ,,,,,,,",
    "organization,RI,Rawat Inap,,,,,,,,",
    "location,G,Gedung G,,,bu,,,,,",
    "location,G-1,Lantai 1,G,,lvl,,,,,",
    "location,G-2,Lantai 2,G,,lvl,,,,,",
    *(f"location,G-1-R{n},Ruang {n},G-1,RJ-A,ro,,,,," for n in (1, 2, 3)),
    *(f"location,G-2-R{n},Ruang {n},G-2,RI,ro,,,,," for n in (1, 2, 3)),
    *(f"location,G-2-R{r}-B{b},Bed {b},G-2-R{r},RI,bd,,,,," for r in (1, 2) for b in (1, 2, 3, 4)),
]
ORGS = 4
LOCATIONS = len(ROWS) - ORGS


@pytest.fixture
def sb() -> Iterator[Sandbox]:  # a fresh store for every test
    with ThreadedSandbox(facilities=1, seed=6) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> Iterator[None]:
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)
    original = cli_main.client_from_args
    fast = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    monkeypatch.setattr(
        cli_main, "client_from_args", lambda args, **kw: original(args, retry=fast, **kw)
    )
    yield


def sheet(tmp_path: Path, rows: list[str], *, name: str = "org.csv", shuffle: int = 7) -> Path:
    rows = list(rows)
    random.Random(shuffle).shuffle(rows)  # children before parents: order is not needed
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["onboard", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def identifiers(sb: Sandbox, kind: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for resource_id in sb.resources.ids(kind):
        stored = sb.resources.get(kind, resource_id)
        assert stored is not None
        found.update(i["value"] for i in stored["identifier"])
    return found


def assert_every_row_once(sb: Sandbox, rows: list[str]) -> None:
    wanted = Counter(r.split(",")[1] for r in rows)
    kinds = {"organization": "Organization", "location": "Location"}
    got = Counter[str]()
    for kind in kinds.values():
        got.update(identifiers(sb, kind))
    assert got == wanted  # each row's record exactly once, none missing


def test_onboard_twice_the_second_run_creates_nothing(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = sheet(tmp_path, ROWS)
    code, out, err = run(capsys, str(file), "--progress", "plain")
    assert code == 0, err
    assert (
        out.strip() == f"onboard: {len(ROWS)} rows: {len(ROWS)} created, 0 already there, 0 refused"
    )
    assert f"onboard: {len(ROWS)}/{len(ROWS)} rows" in err  # the plain progress lines
    assert sb.resources.count("Organization") == ORGS
    assert sb.resources.count("Location") == LOCATIONS
    assert_every_row_once(sb, ROWS)
    posts = sb.stats.requests_by_path[POST]
    assert posts == len(ROWS)

    code, out, _ = run(capsys, str(file))
    assert code == 0
    assert (
        out.strip() == f"onboard: {len(ROWS)} rows: 0 created, {len(ROWS)} already there, 0 refused"
    )
    assert sb.stats.requests_by_path[POST] == posts  # nothing sent the second time
    assert_every_row_once(sb, ROWS)


def test_the_structure_is_as_the_sheet_says(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.csv"
    code, _, _ = run(capsys, str(sheet(tmp_path, ROWS)), "--report", str(report))
    assert code == 0
    lines = report.read_text().splitlines()
    assert lines[0] == "line,kind,identifier,id,outcome,reason" and len(lines) == len(ROWS) + 1
    ids = {line.split(",")[2]: line.split(",")[3] for line in lines[1:]}
    assert all(line.split(",")[4] == "created" for line in lines[1:])

    poli = sb.resources.get("Organization", ids["RJ-A"])
    assert poli is not None and poli["partOf"] == {"reference": f"Organization/{ids['RJ']}"}
    rj = sb.resources.get("Organization", ids["RJ"])
    assert rj is not None and rj["partOf"] == {"reference": f"Organization/{ORG}"}
    assert rj["telecom"] == [{"system": "phone", "use": "work", "value": "021-555"}]
    assert rj["address"][0]["extension"][0]["extension"] == [{"url": "province", "valueCode": "31"}]
    bed = sb.resources.get("Location", ids["G-2-R1-B3"])
    assert bed is not None and bed["partOf"] == {"reference": f"Location/{ids['G-2-R1']}"}
    assert bed["managingOrganization"] == {"reference": f"Organization/{ids['RI']}"}
    assert bed["physicalType"]["coding"][0]["code"] == "bd"
    building = sb.resources.get("Location", ids["G"])
    assert building is not None and "partOf" not in building
    assert building["managingOrganization"] == {"reference": f"Organization/{ORG}"}


def test_bad_rows_are_refused_with_their_line_numbers(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = ["organization,RJ,Rawat Jalan,,,,,,,,", "location,G,Gedung G,,,bu,,,,,"]
    bad = [
        "location,R1,,G,,ro,,,,,",  # line 4: no name
        "location,R2,Ruang 2,G,,kamar,,,,,",  # line 5: unknown physical type
        "klinik,K,Klinik,,,,,,,,",  # line 6: unknown kind
        "location,R3,Ruang 3,NOPE,,ro,,,,,",  # line 7: parent not in the file
        "location,R4,Ruang 4,R1,,ro,,,,,",  # line 8: parent refused
        "organization,RJ,Lagi,,,,,,,,",  # line 9: a duplicate identifier
        "organization,X,X,,,,rumah-sakit,,,,",  # line 10: unknown organization type
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, *good, *bad]) + "\n")
    code, out, err = run(capsys, str(path))
    assert code == 1
    assert out.strip() == "onboard: 9 rows: 2 created, 0 already there, 7 refused"
    refused = [line for line in err.splitlines() if " refused: " in line]
    assert [line.split(":")[1].strip() for line in refused] == [f"line {n}" for n in range(4, 11)]
    assert "name" in refused[0] and "physical type" in refused[1] and "kind" in refused[2]
    assert "'NOPE' is not in the file" in refused[3] and "(line 4) was refused" in refused[4]
    assert "already on line 2" in refused[5] and "organization type" in refused[6]
    assert "Traceback" not in err
    assert_every_row_once(sb, good)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("kind,name\norganization,X\n", "missing column(s): identifier"),
        ("kind,identifier,name,colour\norganization,X,X,red\n", "unknown column(s) 'colour'"),
    ],
)
def test_an_unusable_file_is_a_usage_error_and_nothing_is_sent(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(text)
    sb.reset_stats()
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1
    assert sb.stats.requests == 0


def test_a_missing_file_or_organization_id_is_a_usage_error(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err
    monkeypatch.delenv("SATUSEHAT_ORGANIZATION_ID")
    code, _, err = run(capsys, str(sheet(tmp_path, ROWS)))
    assert code == 2 and "SATUSEHAT_ORGANIZATION_ID" in err
    assert sb.stats.requests_by_path[POST] == 0


def test_dry_run_sends_nothing(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.reset_stats()
    code, out, _ = run(capsys, str(sheet(tmp_path, ROWS)), "--dry-run")
    assert code == 0 and "nothing was sent" in out
    assert f"({ORGS} organizations, {LOCATIONS} locations, 4 levels)" in out
    assert sb.stats.requests == 0


def test_semicolons_and_a_bom_as_excel_saves_them(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    text = "Kind;Identifier;Name;Parent;Physical Type\norganization;RJ;Rawat Jalan;;\n"
    text += "location;R1;Ruang 1;;ro\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    assert "2 created" in out


def test_a_run_failing_partway_is_finished_by_running_it_again(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = sheet(tmp_path, ROWS)
    # every Location create fails (503, retries exhausted) after the organizations went in
    sb.inject("503", count=10_000, method="POST", path_prefix="/fhir-r4/v1/Location")
    code, out, err = run(capsys, str(file))
    assert code == 1
    assert (
        out.strip()
        == f"onboard: {len(ROWS)} rows: {ORGS} created, 0 already there, {LOCATIONS} refused"
    )
    assert "ServerError" in err and "was not created" in err  # refused, and their children
    assert sb.resources.count("Location") == 0
    sb.faults.clear()

    code, out, _ = run(capsys, str(file))
    assert code == 0
    assert out.strip() == (
        f"onboard: {len(ROWS)} rows: {LOCATIONS} created, {ORGS} already there, 0 refused"
    )
    assert_every_row_once(sb, ROWS)


def test_a_run_killed_mid_way_and_resumed_creates_every_row_once(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = sheet(tmp_path, ROWS)
    sb.latency = 0.03  # slow enough to be killed half-way
    env = {**os.environ, **sb.environ()}
    command = [sys.executable, "-m", "satusehat_async.cli", "onboard", str(file)]
    process = subprocess.Popen(
        [*command, "--concurrency", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60  # a guard, not a measurement
        while len(sb.resources) < 6 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.kill()
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    done = len(sb.resources)
    assert 6 <= done < len(ROWS)  # killed part-way through

    sb.latency = 0.0
    code, out, _ = run(capsys, str(file))
    assert code == 0
    found = re.fullmatch(
        r"onboard: \d+ rows: (\d+) created, (\d+) already there, 0 refused", out.strip()
    )
    assert found is not None, out
    created, already = int(found.group(1)), int(found.group(2))
    assert created + already == len(ROWS) and already >= done
    assert_every_row_once(sb, ROWS)
    code, out, _ = run(capsys, str(file))
    assert "0 created" in out
    assert_every_row_once(sb, ROWS)
