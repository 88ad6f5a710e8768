"""``satusehat patient get|search|create|patch``: the Master Patient Index from a shell.

Every command prints JSON on stdout: a Patient (``get``, ``patch``), a list of Patients
(``search``), or ``{"id", "created", "resource"}`` (``create``). Input the library refuses
before sending (a bad NIK, an unsupported search, a patch op other than replace) is a
usage error: exit 2 with one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from satusehat_async.cli import main as cli
from satusehat_async.cli.main import fail
from satusehat_async.errors import ValidationError
from satusehat_async.patients import (
    GENDERS,
    PATCH_CONTENT_TYPES,
    SEARCH_COMBINATIONS,
    Patient,
    Patients,
    patient_from_json,
    redact_niks,
    replace,
    search_params,
)
from satusehat_async.patients.patch import PatchOperation

__all__ = ["parse_replace", "register"]

_encoder = msgspec.json.Encoder(decimal_format="number")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``patient`` command and its ``get``, ``search``, ``create``, ``patch``."""
    parser = subparsers.add_parser(
        "patient",
        help="read, search, register and update patients (MPI)",
        description="The Master Patient Index. Output is JSON on stdout.",
    )
    commands = parser.add_subparsers(dest="patient_command", metavar="ACTION")
    commands.required = True
    _add_get(commands)
    _add_search(commands)
    _add_create(commands)
    _add_patch(commands)


def _add_get(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get = commands.add_parser("get", help="read one Patient by id (IHS number)")
    get.add_argument("id", help="the Patient id, e.g. P02280547535")
    get.set_defaults(func=_get)


def _add_search(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = commands.add_parser(
        "search",
        help="search Patients",
        description="Supported combinations: --nik; --nik --name; --nik --name --birthdate; "
        "--name --birthdate --gender; --nik-ibu (all of a mother's babies). Answers to a "
        "search by NIK are masked by the server.",
    )
    search.add_argument("--nik", help="the patient's 16-digit NIK")
    search.add_argument("--nik-ibu", dest="nik_ibu", help="the mother's NIK (newborns)")
    search.add_argument("--name", help="the patient's name")
    search.add_argument("--birthdate", help="birth date, YYYY-MM-DD")
    search.add_argument("--gender", choices=GENDERS, help="administrative gender")
    search.add_argument("--identifier", help="system|value (the NIK or NIK-ibu system)")
    search.set_defaults(func=_search)


def _add_create(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    create = commands.add_parser(
        "create",
        help="register a Patient from a FHIR JSON file (idempotent)",
        description="Register the Patient in FILE (FHIR JSON; '-' reads stdin). Safe to "
        "repeat: an existing patient (same NIK, or same mother/name/birth date/order) is "
        'returned with "created": false.',
    )
    create.add_argument("file", metavar="FILE.json", help="the Patient resource ('-': stdin)")
    create.set_defaults(func=_create)


def _add_patch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    patch = commands.add_parser(
        "patch",
        help="replace elements of a Patient (JSON Patch replace)",
        description="Each --replace /path=value replaces one element; the value is parsed "
        'as JSON when it is valid JSON (false, 2, {"text": "x"}), else taken as a string.',
    )
    patch.add_argument("id", help="the Patient id")
    patch.add_argument(
        "--replace",
        dest="replacements",
        action="append",
        required=True,
        metavar="/PATH=VALUE",
        help="a JSON Pointer and its new value (repeatable)",
    )
    patch.add_argument(
        "--content-type",
        choices=PATCH_CONTENT_TYPES,
        default=PATCH_CONTENT_TYPES[0],
        help="the request's media type (default: %(default)s)",
    )
    patch.set_defaults(func=_patch)


class _NonFinite(Exception):
    """Python's json reads NaN and Infinity, which JSON does not have."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def parse_replace(text: str) -> PatchOperation:
    """``/path=value`` as a replace operation; the value is JSON if it parses, else a string.

    ``NaN``, ``Infinity`` and ``-Infinity`` are refused (no JSON number can hold them);
    quoted (``/x="NaN"``) they are strings.
    """
    path, sep, raw = text.partition("=")
    if not sep or not path:
        raise fail(f"--replace takes /path=value, got {redact_niks(repr(text))}")
    value: Any
    try:
        # keep decimal digits (1.50); refuse what JSON has no number for
        value = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except _NonFinite as exc:
        raise fail(
            f"--replace {path}: {exc} is not a JSON number (JSON has no NaN or Infinity); "
            f'quote it for a string: {path}="{exc}"'
        ) from None
    except ValueError:
        value = raw
    try:
        return replace(path, value)
    except ValidationError as exc:
        raise fail(str(exc)) from None


def _print(data: Any) -> None:
    sys.stdout.write(msgspec.json.format(_encoder.encode(data), indent=2).decode() + "\n")


async def _run(args: argparse.Namespace, action: Callable[[Patients], Awaitable[Any]]) -> int:
    async with cli.client_from_args(args) as client:
        try:
            result = await action(client.patients)
        except ValidationError as exc:  # refused before sending: a usage error
            raise fail(str(exc)) from None
    _print(result)
    return 0


async def _get(args: argparse.Namespace) -> int:
    return await _run(args, lambda patients: patients.get(args.id))


async def _search(args: argparse.Namespace) -> int:
    query = {
        "nik": args.nik,
        "nik_ibu": args.nik_ibu,
        "name": args.name,
        "birthdate": args.birthdate,
        "gender": args.gender,
        "identifier": args.identifier,
    }
    given = {name for name, value in query.items() if value is not None}
    if "identifier" not in given and frozenset(given) not in SEARCH_COMBINATIONS:
        raise fail(
            f"unsupported search ({_flags(given) or 'no criteria'}); use one of: "
            + " | ".join(_flags(combination) for combination in SEARCH_COMBINATIONS)
        )
    try:
        search_params(**query)  # refuse a bad query before even connecting
    except ValidationError as exc:
        raise fail(str(exc)) from None
    return await _run(args, lambda patients: patients.search(**query))


_SEARCH_ORDER = ("nik", "nik_ibu", "name", "birthdate", "gender", "identifier")


def _flags(names: set[str] | frozenset[str]) -> str:
    return " ".join("--" + n.replace("_", "-") for n in _SEARCH_ORDER if n in names)


def _read_patient(file: str) -> Patient:
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise fail(redact_niks(f"cannot read {file}: {exc.strerror or exc}")) from None
    try:
        return patient_from_json(data)  # strict: unknown keys are named, not dropped
    except ValidationError as exc:
        raise fail(redact_niks(f"{file} is not a FHIR Patient: {exc}")) from None


async def _create(args: argparse.Namespace) -> int:
    patient = _read_patient(args.file)
    return await _run(args, lambda patients: patients.create(patient))


async def _patch(args: argparse.Namespace) -> int:
    operations = [parse_replace(text) for text in args.replacements]
    return await _run(
        args,
        lambda patients: patients.patch(args.id, operations, content_type=args.content_type),
    )
