"""Every Python snippet in README.md runs as written, in a project that is not this one.

Each ```python block is written to a fresh temporary directory outside the repository
and run there as a user would run it: the scripts against the local sandbox through the
``SATUSEHAT_*`` variables, the pytest example by a ``pytest`` run in a directory without
any pytest configuration (pytest-asyncio's default strict mode), the FastAPI example
under its test client with a stand-in for Redis. Together they must also pass
``mypy --strict``, since the README promises typed code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from satusehat_async.sandbox import Sandbox, ThreadedSandbox

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)


def kind(code: str) -> str:
    if re.search(r"^async def test_|^def test_", code, re.M):
        return "pytest"
    if "FastAPI(" in code:
        return "fastapi"
    return "script"


def snippet_id(code: str) -> str:
    return f"{kind(code)}:{SNIPPETS.index(code)}"


def environment(**extra: str) -> dict[str, str]:
    """A user's shell: no SATUSEHAT_*/proxy/pytest settings of ours, nothing from the repo."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SATUSEHAT_", "PYTEST_", "PYTHONPATH")) and "proxy" not in k.lower()
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=600, seed=2) as sandbox:
        yield sandbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty directory outside the repository: another project."""
    assert ROOT not in tmp_path.resolve().parents
    return tmp_path


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_readme_has_the_snippets_this_file_runs() -> None:
    kinds = [kind(code) for code in SNIPPETS]
    assert kinds.count("pytest") == 1 and kinds.count("fastapi") == 1
    assert kinds.count("script") >= 3  # quick start, facilities, local sandbox


@pytest.mark.parametrize("code", [c for c in SNIPPETS if kind(c) == "script"], ids=snippet_id)
def test_script_snippet_runs(code: str, sb: Sandbox, project: Path) -> None:
    (project / "snippet.py").write_text(code)
    result = run([sys.executable, "snippet.py"], project, environment(**sb.environ()))
    assert "Traceback" not in result.stderr


def test_pytest_snippet_passes_in_a_fresh_project(project: Path) -> None:
    (code,) = [c for c in SNIPPETS if kind(c) == "pytest"]
    (project / "test_hospitals.py").write_text(code)
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"],
        project,
        environment(),
    )
    assert "1 passed" in result.stdout, result.stdout
    assert "skipped" not in result.stdout


# Stands in for Redis (the snippet's store) so the example runs on a machine without one.
FASTAPI_DRIVER = """
import asyncio

import satusehat_async.auth
from satusehat_async import MemoryTokenStore, SatuSehatClient


class FakeRedisTokenStore(MemoryTokenStore):
    closed = False

    def __init__(self, url: str) -> None:
        super().__init__()
        assert url.startswith("redis://")

    async def aclose(self) -> None:
        FakeRedisTokenStore.closed = True


satusehat_async.auth.RedisTokenStore = FakeRedisTokenStore  # type: ignore[misc]

from fastapi.testclient import TestClient

import app


async def register() -> str:
    async with SatuSehatClient.from_env() as client:
        result = await client.patients.create(
            {
                "resourceType": "Patient",
                "identifier": [
                    {"system": "https://fhir.kemkes.go.id/id/nik", "value": "3171044107900005"}
                ],
                "name": [{"text": "Dewi Lestari"}],
                "gender": "female",
                "birthDate": "1990-07-01",
            }
        )
        return result.id


patient_id = asyncio.run(register())
with TestClient(app.app) as http:
    answer = http.get(f"/patients/{patient_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == patient_id
assert FakeRedisTokenStore.closed
print("ok")
"""


def test_fastapi_snippet_serves_a_patient(sb: Sandbox, project: Path) -> None:
    (code,) = [c for c in SNIPPETS if kind(c) == "fastapi"]
    (project / "app.py").write_text(code)
    (project / "driver.py").write_text(textwrap.dedent(FASTAPI_DRIVER))
    result = run([sys.executable, "driver.py"], project, environment(**sb.environ()))
    assert result.stdout.strip().endswith("ok")


def test_snippets_pass_mypy_strict(project: Path) -> None:
    files = []
    for number, code in enumerate(SNIPPETS):
        path = project / f"readme_snippet_{number}.py"
        path.write_text(code)
        files.append(str(path.name))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(project / ".mypy"), *files],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_unmarked_async_test_is_told_what_to_do(project: Path) -> None:
    (project / "test_unmarked.py").write_text(
        "async def test_hospitals(satusehat_client):\n    assert satusehat_client\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "add @pytest.mark.asyncio" in result.stdout, result.stdout
    assert "not natively supported" not in result.stdout
