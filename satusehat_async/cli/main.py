"""Entry point of the ``satusehat`` command: global options, subcommands, exit codes.

Exit codes: 0 success, 1 a runtime failure (one line), 2 a usage error (one line),
130 interrupted. Tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence
from typing import Any

from satusehat_async import __version__
from satusehat_async.client import SatuSehatClient
from satusehat_async.errors import SatuSehatError

__all__ = ["CliUsageError", "build_parser", "client_from_args", "fail", "main"]

# Subcommand modules; each exposes register(subparsers). Missing ones are skipped so a
# partial install still runs.
_COMMAND_MODULES = ("token_cmd", "msi_cmd", "patient_cmd", "sandbox_cmd", "demo_cmd")


class CliUsageError(Exception):
    """Bad command-line input: exit 2 with one line, nothing sent."""


def fail(message: str) -> CliUsageError:
    """Build a usage error (``raise fail("...")``)."""
    return CliUsageError(message)


def client_from_args(args: argparse.Namespace, **kwargs: Any) -> SatuSehatClient:
    """A client from the ``SATUSEHAT_*`` variables, with the global URL options applied."""
    return SatuSehatClient.from_env(
        environment=getattr(args, "env", None),
        base_url=getattr(args, "base_url", None),
        auth_url=getattr(args, "auth_url", None),
        fhir_url=getattr(args, "fhir_url", None),
        masterdata_url=getattr(args, "masterdata_url", None),
        **kwargs,
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="satusehat",
        description="SATUSEHAT from the command line. Credentials come from "
        "SATUSEHAT_CLIENT_ID and SATUSEHAT_CLIENT_SECRET (never from arguments).",
    )
    parser.add_argument("--version", action="version", version=f"satusehat-async {__version__}")
    parser.add_argument(
        "--env", choices=["sandbox", "production"], help="SATUSEHAT environment (default sandbox)"
    )
    parser.add_argument("--base-url", help="base URL overriding the environment's")
    parser.add_argument("--auth-url", help="token endpoint URL")
    parser.add_argument("--fhir-url", help="FHIR base URL")
    parser.add_argument("--masterdata-url", help="master-data base URL")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log requests (-vv: debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"satusehat_async.cli.{name}")
        except ImportError as exc:
            if exc.name and exc.name.endswith(name):
                continue
            raise
        module.register(subparsers)
    return parser


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    func = args.func
    try:
        result = asyncio.run(func(args)) if inspect.iscoroutinefunction(func) else func(args)
        return int(result or 0)
    except CliUsageError as exc:
        print(f"satusehat: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("satusehat: interrupted", file=sys.stderr)
        return 130
    except SatuSehatError as exc:
        if args.verbose:
            raise
        print(f"satusehat: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.verbose:
            raise
        print(f"satusehat: {exc}", file=sys.stderr)
        return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
