"""Issue 14: the 13 MSI filters are declared once and every surface is derived from them.

Each surface (FacilityQuery.build and .params, MSI.pages/facilities/export, the ``msi
crawl`` flags, the FastAPI example's query parameters) is checked to hold exactly the
vocabulary's filters, and a filter spec added in a test shows up on the derived ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from satusehat_async.cli import msi_cmd
from satusehat_async.cli.main import build_parser, main
from satusehat_async.errors import ValidationError
from satusehat_async.msi import MSI, FacilityQuery
from satusehat_async.msi.filters import FacilityFilters, FilterSpec, text
from satusehat_async.msi.query import FILTERS
from satusehat_async.testing import Sandbox

# The official names (DESIGN.md), in order.
OFFICIAL = [
    "jenis_sarana",
    "kode_provinsi",
    "kode_kabkota",
    "kode_kecamatan",
    "kode_satusehat",
    "kode_sarana",
    "nama",
    "status_aktif",
    "status_sarana",
    "sumber_identifier",
    "identifier_kode_sarana",
    "lower_bound_updated_at",
    "upper_bound_updated_at",
]
FULL: dict[str, Any] = {
    "jenis_sarana": [104, 103],
    "kode_provinsi": "32",
    "kode_kabkota": 3271,
    "kode_kecamatan": "327101",
    "kode_satusehat": "1000156689",
    "kode_sarana": "1230458",
    "nama": "Bogor",
    "status_aktif": False,
    "status_sarana": "valid",
    "sumber_identifier": "sisdmk_sarana",
    "identifier_kode_sarana": "R3508055",
    "lower_bound_updated_at": dt.date(2023, 8, 1),
    "upper_bound_updated_at": "2023-08-15",
}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"


def test_one_vocabulary_in_the_official_order() -> None:
    names = [spec.name for spec in FILTERS]
    assert names == OFFICIAL
    assert list(FacilityFilters.__annotations__) == OFFICIAL
    assert [f.name for f in dataclasses.fields(FacilityQuery)] == OFFICIAL


def test_build_and_params_cover_every_filter() -> None:
    params = FacilityQuery.build(**FULL).params(page=1, page_size=10)
    assert set(params) - {"limit", "page"} == set(OFFICIAL)


def test_unknown_filter_is_a_type_error_like_any_unknown_keyword() -> None:
    with pytest.raises(TypeError, match="kode_provinsix"):
        FacilityQuery.build(kode_provinsix="32")  # type: ignore[call-arg]


def test_crawl_flags_are_the_vocabulary() -> None:
    parser = build_parser()
    crawl = parser._subparsers._group_actions[0].choices["msi"]  # type: ignore[union-attr]
    crawl = crawl._subparsers._group_actions[0].choices["crawl"]
    group = next(g for g in crawl._action_groups if g.title.startswith("filters"))
    assert [a.dest for a in group._group_actions] == OFFICIAL
    flags = {a.dest: a.option_strings[0] for a in group._group_actions}
    assert flags["lower_bound_updated_at"] == "--updated-from"
    assert flags["kode_provinsi"] == "--kode-provinsi"


def test_a_new_spec_appears_in_the_cli_and_the_fastapi_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = FilterSpec(text, "a filter added in a test", metavar="X", name="kode_baru")
    monkeypatch.setattr(msi_cmd, "FILTERS", (*FILTERS, extra))
    parser = argparse.ArgumentParser()
    msi_cmd.add_filter_arguments(parser, exclude=("nama",))
    args = parser.parse_args(["--kode-baru", "x", "--kode-provinsi", "32"])
    assert args.kode_baru == "x" and not hasattr(args, "nama")
    assert "a filter added in a test" in parser.format_help()

    example = load_example()
    monkeypatch.setattr(example, "FILTERS", (*FILTERS, extra))
    dependency = example._facility_query_dependency()
    assert list(inspect.signature(dependency).parameters) == [*OFFICIAL, "kode_baru"]


def load_example() -> ModuleType:
    pytest.importorskip("fastapi")
    spec = importlib.util.spec_from_file_location("fastapi_filters_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fastapi_example_takes_every_filter() -> None:
    example = load_example()
    parameters = inspect.signature(example.facility_query).parameters
    assert list(parameters) == OFFICIAL
    openapi = example.create_app().openapi()
    names = [p["name"] for p in openapi["paths"]["/facilities"]["get"]["parameters"]]
    assert sorted(names) == sorted([*OFFICIAL, "page", "page_size"])


def test_msi_signatures_take_the_filters_as_typed_keywords() -> None:
    for method in (MSI.pages, MSI.facilities, MSI.export, MSI.sync):
        kinds = {p.kind for p in inspect.signature(method).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD in kinds, method
        assert "Unpack[FacilityFilters]" in str(inspect.signature(method)), method


async def test_every_filter_reaches_the_request_through_facilities() -> None:
    async with Sandbox(facilities=30, seed=2) as sb, sb.client() as client:
        crawl = client.msi.facilities(page_size=5, **FULL)
        assert crawl.pages.query == FacilityQuery.build(**FULL)
        with pytest.raises(ValidationError, match="either query or filters"):
            client.msi.facilities(query=FacilityQuery.build(), nama="x")
        with pytest.raises(ValidationError, match="kode_kabkota 3371 is not in"):
            client.msi.pages(kode_provinsi="32", kode_kabkota="3371")
        assert sb.stats.requests == 0


def test_cli_conversions_come_from_the_specs(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    msi_cmd.add_filter_arguments(parser)
    args = parser.parse_args(["--jenis-sarana", "klinik", "--jenis-sarana", "104",
                              "--status-aktif", "ya", "--updated-from", "2024-01-02"])  # fmt: skip
    query = msi_cmd.query_from_args(args)
    assert query.jenis_sarana == (103, 104) and query.status_aktif is True
    assert query.lower_bound_updated_at == "2024-01-02"
    bad = parser.parse_args(["--status-aktif", "maybe"])
    with pytest.raises(ValidationError, match=r"^--status-aktif must be true or false"):
        msi_cmd.query_from_args(bad)
    # through the entry point: exit 2, one line, no traceback
    assert main(["msi", "crawl", "--status-aktif", "maybe"]) == 2
    assert capsys.readouterr().err.strip() == (
        "satusehat: error: --status-aktif must be true or false, got 'maybe'"
    )


def test_typing_extensions_is_not_needed_at_run_time() -> None:
    code = (
        "import sys\n"
        "sys.modules['typing_extensions'] = None  # not installed\n"
        "from satusehat_async.msi import FacilityQuery, MSI\n"
        "from satusehat_async.cli import msi_cmd\n"
        "print(FacilityQuery.build(jenis_sarana=104).params(page=1, page_size=1))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "'jenis_sarana': [104]" in result.stdout
