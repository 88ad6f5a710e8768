"""Issue 14: ``satusehat --help`` loads no subcommand module; a subcommand loads its own.

In a fresh interpreter (a subprocess), because what is checked is ``sys.modules`` at
start-up. Global options before or after the subcommand keep working.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys

import pytest

from satusehat_async.cli.main import COMMANDS, build_parser, command_in

PROBE = """
import json, sys
sys.argv[0] = "satusehat"
from satusehat_async.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m.startswith(("satusehat_async", "aiohttp", "rich")))
print("\\nMODULES " + json.dumps(loaded), file=sys.stderr)
sys.exit(code or 0)
"""
HEAVY = ("satusehat_async.msi", "satusehat_async.client", "aiohttp", "rich")


def loaded(*argv: str) -> tuple[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    marker = result.stderr.rindex("MODULES ")
    return result.stdout, json.loads(result.stderr[marker + len("MODULES ") :])


def command_modules(modules: list[str]) -> set[str]:
    return {m.rsplit(".", 1)[1] for m in modules if m.startswith("satusehat_async.cli.")} & {
        module for module, _ in COMMANDS.values()
    }


def test_help_loads_no_subcommand_and_no_heavy_library() -> None:
    out, modules = loaded("--help")
    assert command_modules(modules) == set()
    assert not [m for m in modules if m.startswith(HEAVY)], modules
    for name, (module, _) in COMMANDS.items():
        if importlib.util.find_spec(f"satusehat_async.cli.{module}") is not None:
            assert name in out  # listed all the same


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["msi", "crawl", "--help"], "msi_cmd"),
        (["--env", "production", "token", "--help"], "token_cmd"),
        (["--base-url=http://x", "-vv", "patient", "--help"], "patient_cmd"),
        (["--masterdata", "http://x", "sandbox", "--help"], "sandbox_cmd"),  # abbreviated
    ],
)
def test_a_subcommand_loads_only_its_module(argv: list[str], module: str) -> None:
    out, modules = loaded(*argv)
    assert command_modules(modules) == {module}
    assert "usage: satusehat" in out


def test_the_listed_help_is_each_modules_own() -> None:
    parser = build_parser()  # every module, as before
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    own = {choice.dest: choice.help for choice in action._choices_actions}
    for name, (_, summary) in COMMANDS.items():
        if name in own:
            assert own[name] == summary, name


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["token"], "token"),
        (["--env", "sandbox", "msi", "crawl"], "msi"),
        (["--env=sandbox", "msi"], "msi"),
        (["-v", "--insecure", "--proxy", "http://p:3128", "demo"], "demo"),
        (["--fhir", "x", "fhir", "get"], "fhir"),  # --fhir abbreviates --fhir-url
        (["--", "bundle"], "bundle"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_subcommand_is_found_among_global_options(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_unknown_and_missing_subcommands_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from satusehat_async.cli.main import main

    for argv in (["nosuch"], ["--env", "sandbox"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "satusehat: error:" in err
