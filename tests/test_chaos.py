"""The chaos soak's short version (benchmarks/chaos_soak.py runs the long one).

Each soak checks its invariants itself; these tests fail when one breaks: a facility
missing or yielded twice, a patient stored twice or lost, a task left running.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest


def _load_soak() -> object:
    # benchmarks/ is not a package: load the soak module from its file.
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "chaos_soak.py"
    spec = importlib.util.spec_from_file_location("chaos_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chaos_soak"] = module
    spec.loader.exec_module(module)
    return module


chaos_soak: Any = _load_soak()


async def test_crawls_under_faults_expiring_tokens_and_cancellations() -> None:
    report = await chaos_soak.soak_crawls(facilities=6_000, crawls=6, page_size=200, latency=0.02)
    assert report.ok, report.line()
    assert report.runs == 4 and report.cancelled == 2
    assert report.items == 4 * 6_000
    assert report.token_requests > 1  # tokens really expired under the crawls


async def test_patient_creates_under_ambiguous_faults_and_search_lag() -> None:
    report = await chaos_soak.soak_patients(adults=30, families=10, max_lag=1.0)
    assert report.ok, report.line()
    assert report.items == 30 + 3 * 10


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_crawl_killed_and_resumed(fmt: str) -> None:
    report = chaos_soak.soak_kills(facilities=6_000, kills=3, fmt=fmt)
    assert report.ok, report.line()
    assert report.kills >= 1
    assert report.items == 6_000
