"""Entry point of the ``satusehat`` command: global options, subcommands, exit codes.

Exit codes: 0 success, 1 a runtime failure (one line), 2 a usage error (one line),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM). Tracebacks only with ``--verbose``.
Global options work before or after the subcommand (``satusehat patient get X --env
production``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import logging
import re
import signal
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from satusehat_async import __version__

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = [
    "COMMANDS",
    "CliUsageError",
    "Terminated",
    "build_parser",
    "client_from_args",
    "command_in",
    "fail",
    "main",
    "name_flags",
]

# The subcommands: name -> (module, one line for --help). Each module exposes
# register(subparsers). Only the chosen subcommand's module is imported (the others are
# listed in --help from this table); a module that is not installed is skipped, so a
# partial install still runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "token": ("token_cmd", "fetch an access token"),
    "msi": ("msi_cmd", "Master Sarana Index (health facilities)"),
    "patient": ("patient_cmd", "read, search, register and update patients (MPI)"),
    "fhir": ("fhir_cmd", "read, search and create any FHIR resource"),
    "bundle": ("bundle_cmd", "send FHIR Bundle transactions"),
    "encounter": ("encounter_cmd", "read and search Encounters (visits)"),
    "sandbox": (
        "sandbox_cmd",
        "serve a local sandbox: an embedded fake SATUSEHAT on 127.0.0.1 (not the Kemkes "
        "staging host; no credentials, no network)",
    ),
    "demo": (
        "demo_cmd",
        "run the main job on a local sandbox: an embedded fake SATUSEHAT (no "
        "credentials, no network; not the Kemkes staging host)",
    ),
    "onboard": (
        "onboard_cmd",
        "create sub-organizations and locations from a CSV file (idempotent)",
    ),
    "kfa": ("kfa_cmd", "the KFA catalogue (medicines and medical devices): products, export"),
}

# The client's own logger (construction-time warnings such as plain HTTP to a remote host).
_CONFIGURATION_LOGGERS = frozenset({"satusehat_async", "satusehat_async.client"})
_ENV_HELP = (
    "remote SATUSEHAT environment: sandbox (alias staging: the Kemkes staging host "
    "api-satusehat-stg.dto.kemkes.go.id) or production (default: SATUSEHAT_ENV, else sandbox)"
)


class CliUsageError(Exception):
    """Bad command-line input: exit 2 with one line, nothing sent."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (the full usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM (``docker stop``, ``kill``): unwinds like Ctrl-C, exits 143."""


def fail(message: str) -> CliUsageError:
    """Build a usage error (``raise fail("...")``)."""
    return CliUsageError(message)


def client_from_args(args: argparse.Namespace, **kwargs: Any) -> SatuSehatClient:
    """A client from the ``SATUSEHAT_*`` variables, with the global options applied."""
    from satusehat_async.client import SatuSehatClient

    proxy = getattr(args, "proxy", None)
    if proxy is not None:  # absent: the client honours HTTP(S)_PROXY / NO_PROXY itself
        kwargs.setdefault("proxy", proxy)
    if getattr(args, "insecure", False):  # the client logs a warning that is always shown
        kwargs.setdefault("verify_ssl", False)
    return SatuSehatClient.from_env(
        environment=getattr(args, "env", None),
        base_url=getattr(args, "base_url", None),
        auth_url=getattr(args, "auth_url", None),
        fhir_url=getattr(args, "fhir_url", None),
        masterdata_url=getattr(args, "masterdata_url", None),
        **kwargs,
    )


def _add_global_options(parser: argparse.ArgumentParser, *, repeated: bool) -> None:
    """The global options; ``repeated`` adds them to a subcommand, where they override."""
    # After the subcommand, an option absent from the command line must not overwrite
    # the value given before it: SUPPRESS leaves the namespace alone.
    unset: Any = argparse.SUPPRESS if repeated else None
    target: Any = parser.add_argument_group("global options") if repeated else parser
    taken = parser._option_string_actions  # a subcommand's own option wins

    def add(*names: str, **options: Any) -> None:
        if not any(name in taken for name in names):
            target.add_argument(*names, **options)

    add("--env", choices=["sandbox", "staging", "production"], default=unset, help=_ENV_HELP)
    add("--base-url", metavar="URL", default=unset, help="base URL overriding the environment's")
    add("--auth-url", metavar="URL", default=unset, help="token endpoint URL")
    add("--fhir-url", metavar="URL", default=unset, help="FHIR base URL")
    add("--masterdata-url", metavar="URL", default=unset, help="master-data base URL")
    add(
        "--proxy",
        metavar="URL",
        default=unset,
        help="HTTP(S) proxy for every request (default: HTTPS_PROXY, HTTP_PROXY and "
        "NO_PROXY from the environment)",
    )
    add(
        "--insecure",
        action="store_true",
        default=unset if repeated else False,
        help="switch TLS certificate verification off (never the default: anyone on the "
        "path could read credentials and health data)",
    )
    add(
        "-v",
        "--verbose",
        action="count",
        dest="verbose_after" if repeated else "verbose",
        default=unset if repeated else 0,
        help="show the library's log: -v warnings and retries, -vv debug; tracebacks",
    )


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for sub in action.choices.values():  # aliases map to the same parser
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub


def _flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Python parameter name -> the flag that feeds it, for this (sub)command."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        long = [s for s in action.option_strings if s.startswith("--")]
        if long and action.dest not in (argparse.SUPPRESS, "help"):
            flags[action.dest] = max(long, key=len)
    return flags


def _switches(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The parameter names of this (sub)command's on/off flags (``force`` of ``--force``)."""
    return frozenset(
        action.dest
        for action in parser._actions
        if isinstance(action, argparse._StoreTrueAction) and action.option_strings
    )


def _extend_subcommands(parser: argparse.ArgumentParser, skip: Collection[int] = ()) -> None:
    for sub in _subcommands(parser):
        if id(sub) in skip:
            continue
        _add_global_options(sub, repeated=True)
        sub.set_defaults(_flags=_flag_names(sub), _switches=_switches(sub))
        _extend_subcommands(sub)


def _installed(module: str) -> bool:
    """Is the subcommand module there (found, not imported)?"""
    return importlib.util.find_spec(f"satusehat_async.cli.{module}") is not None


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser: every available subcommand, or only the ``commands`` named built.

    A subcommand not in ``commands`` is listed in ``--help`` (from :data:`COMMANDS`)
    without importing its module; None (the default) builds them all.
    """
    parser = _Parser(
        prog="satusehat",
        description="SATUSEHAT from the command line. Credentials come from "
        "SATUSEHAT_CLIENT_ID and SATUSEHAT_CLIENT_SECRET (never from arguments). "
        "Global options may also follow the subcommand. Exit codes: 0 done, 1 failed, "
        "2 usage error, 130 interrupted, 143 terminated.",
    )
    parser.add_argument("--version", action="version", version=f"satusehat-async {__version__}")
    _add_global_options(parser, repeated=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    listed: set[int] = set()
    for name, (module, summary) in COMMANDS.items():
        if not _installed(module):
            continue
        if commands is None or name in commands:
            importlib.import_module(f"satusehat_async.cli.{module}").register(subparsers)
        else:
            listed.add(id(subparsers.add_parser(name, help=summary, add_help=False)))
    _extend_subcommands(parser, skip=listed)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is no global option or its
    value), or None."""
    options = _global_options()
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if not word.startswith("-") or word == "-":
            return word
        name = word.split("=", 1)[0]
        if name.startswith("--") and name not in options:  # argparse's abbreviations
            matches = [option for option in options if option.startswith(name)]
            name = matches[0] if len(matches) == 1 else name
        action = options.get(name)
        if action is not None and action.nargs != 0 and "=" not in word:
            next(words, None)  # the option's value
    return None


@functools.lru_cache(maxsize=1)
def _global_options() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser(add_help=True)
    parser.add_argument("--version", action="version", version=__version__)
    _add_global_options(parser, repeated=False)
    return dict(parser._option_string_actions)


def name_flags(message: str, flags: Mapping[str, str], switches: Collection[str] = ()) -> str:
    """Say ``--nik-ibu`` where a library message names the parameter ``nik_ibu``.

    Only identifier-like words are replaced (with an underscore, or written ``name=``),
    so prose such as "name must not be empty" is left alone. ``name=True`` of an on/off
    flag (one of ``switches``) is the flag alone: "use force=True" -> "use --force".
    """

    def flag(match: re.Match[str]) -> str:
        word, equals, value = match.group(1), match.group(2), match.group(3)
        known = flags.get(word)
        if not known or not ("_" in word or equals):
            return match.group(0)
        if value == "True" and word in switches:
            return known
        return f"{known}={value}" if value else known  # name=value keeps its value

    # not inside a URL's path or query (?a_b=1&c_d=2), nor part of a longer word
    return re.sub(r"(?<![\w.?&%-])([a-z][a-z0-9_]*)(?:(=)([^\s,;/)]*))?(?![\w-])", flag, message)


class _Console(logging.Filter):
    """Which log records reach the terminal.

    At default verbosity the library's runtime log stays out of the way: a command that
    fails says so in its one error line, and a warning logged on the way there ("token
    request failed; next attempt in 60s") would only repeat it, or promise a retry the
    exiting command never makes. Configuration warnings about the client itself (plain
    HTTP to a remote host) are shown; other packages' log records only with ``-v``.
    ``-v`` shows the library's log from INFO, ``-vv`` from DEBUG.
    """

    def __init__(self, verbose: int) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose:
            return True
        if not record.name.startswith("satusehat_async"):
            return False  # aiohttp's, asyncio's: noise for a user ("Error handling request")
        return record.levelno >= logging.ERROR or record.name in _CONFIGURATION_LOGGERS


class _OneLine(logging.Formatter):
    """``satusehat: warning: ...``, like the command's own lines."""

    def format(self, record: logging.LogRecord) -> str:
        return f"satusehat: {record.levelname.lower()}: {record.getMessage()}"


@contextlib.contextmanager
def _logging(verbose: int) -> Iterator[None]:
    """Log to stderr, filtered by :class:`_Console`; the library's level follows ``-v``."""
    library = logging.getLogger("satusehat_async")
    root = logging.getLogger()
    ours: logging.Handler | None = None
    if not root.handlers:  # an embedding application's logging config is left alone
        ours = logging.StreamHandler(sys.stderr)
        detailed = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        ours.setFormatter(detailed if verbose else _OneLine())
        ours.addFilter(_Console(verbose))
        root.addHandler(ours)
    previous = library.level
    if verbose:  # at 0 the library keeps whatever level its embedder chose
        library.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    try:
        yield
    finally:
        library.setLevel(previous)
        if ours is not None:
            root.removeHandler(ours)


def _interrupted(exc: KeyboardInterrupt) -> int:
    if isinstance(exc, Terminated):
        print("satusehat: terminated", file=sys.stderr)
        return 143
    print("satusehat: interrupted", file=sys.stderr)
    return 130


def _dispatch(args: argparse.Namespace) -> int:
    func = args.func
    flags: Mapping[str, str] = getattr(args, "_flags", {})
    switches: Collection[str] = getattr(args, "_switches", ())
    import asyncio  # here, not at start-up: `satusehat --help` needs no event loop
    import inspect

    from satusehat_async.errors import ConfigurationError, SatuSehatError, ValidationError

    try:
        result = asyncio.run(func(args)) if inspect.iscoroutinefunction(func) else func(args)
        return int(result or 0)
    except (CliUsageError, ValidationError) as exc:  # refused before anything was sent
        print(f"satusehat: error: {name_flags(str(exc), flags, switches)}", file=sys.stderr)
        return 2
    except SatuSehatError as exc:
        if args.verbose:
            raise
        message: object = exc
        if isinstance(exc, ConfigurationError):  # name a flag only if it was given
            given = {k: v for k, v in flags.items() if getattr(args, k, None) not in (None, False)}
            message = name_flags(str(exc), given)
        print(f"satusehat: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.verbose:
            raise
        print(f"satusehat: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        command = command_in(words)
        parser = build_parser([command] if command in COMMANDS else [])
        args = parser.parse_args(words)
        args.verbose += getattr(args, "verbose_after", 0)
        with _logging(args.verbose):
            return _dispatch(args)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def run() -> None:
    """Console-script entry point."""
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not the main thread
        signal.signal(signal.SIGTERM, _terminate)
    try:
        code = main()
    except KeyboardInterrupt as exc:  # arrived between main()'s handlers
        code = _interrupted(exc)
    sys.exit(code)
