"""``satusehat fhir get|search|create``: any FHIR R4 resource from a shell.

``get`` prints the resource as JSON; ``search`` prints one resource per line (NDJSON),
following every page, and says on stderr when SATUSEHAT cut the result short of its
``total``; ``create`` prints ``{"id", "created", "resource"}`` and is idempotent for a
resource with an identifier. Input the library refuses before sending (an unknown type, a
bad search value, a key that is not an element) is a usage error: exit 2 with one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from satusehat_async.cli import main as cli
from satusehat_async.cli.main import fail
from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = ["parse_search_terms", "register"]

_encoder = msgspec.json.Encoder(decimal_format="number")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``fhir`` command and its ``get``, ``search``, ``create``."""
    parser = subparsers.add_parser(
        "fhir",
        help="read, search and create any FHIR resource",
        description="Any FHIR R4 resource by its type name (Encounter, Observation, ...).",
    )
    commands = parser.add_subparsers(dest="fhir_command", metavar="ACTION")
    commands.required = True
    get = commands.add_parser("get", help="read one resource by type and id")
    get.add_argument("type", metavar="TYPE", help="the resource type, e.g. Encounter")
    get.add_argument("id", help="the resource id")
    get.set_defaults(func=_get)
    search = commands.add_parser(
        "search",
        help="search resources (NDJSON out, every page)",
        description="Each TERM is key=value (repeat a key for AND; date=ge2024-01-01). "
        "Output: one resource per line.",
    )
    search.add_argument("type", metavar="TYPE", help="the resource type, e.g. Encounter")
    search.add_argument("terms", metavar="KEY=VALUE", nargs="*", help="search parameters")
    search.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when the server answers fewer results than its total",
    )
    search.set_defaults(func=_search)
    create = commands.add_parser(
        "create",
        help="create a resource from a FHIR JSON file (idempotent by identifier)",
        description="Store the resource in FILE ('-' reads stdin); repeating it is safe "
        'when it carries an identifier ("created": false, the same id).',
    )
    create.add_argument("type", metavar="TYPE", help="the resource type, e.g. Encounter")
    create.add_argument("file", metavar="FILE.json", help="the resource ('-': stdin)")
    create.set_defaults(func=_create)


def parse_search_terms(terms: list[str]) -> dict[str, str | list[str]]:
    """``["subject=Patient/P1", "date=ge2024", "date=lt2025"]`` as search parameters
    (a repeated key becomes a list: FHIR's AND)."""
    params: dict[str, str | list[str]] = {}
    for term in terms:
        key, sep, value = term.partition("=")
        if not sep or not key:
            raise fail(f"a search term is key=value, got {redact_niks(repr(term))}")
        if key in params:
            before = params[key]
            params[key] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            params[key] = value
    return params


def _api(client: Any, type_name: str) -> Any:
    try:
        return client.fhir(type_name)
    except ValidationError as exc:
        raise fail(str(exc)) from None


def _line(resource: Any) -> str:
    return _encoder.encode(resource).decode()


async def _get(args: argparse.Namespace) -> int:
    async with cli.client_from_args(args) as client:
        api = _api(client, args.type)
        try:
            resource = await api.get(args.id)
        except ValidationError as exc:
            raise fail(str(exc)) from None
    sys.stdout.write(msgspec.json.format(_encoder.encode(resource), indent=2).decode() + "\n")
    return 0


async def _search(args: argparse.Namespace) -> int:
    params = parse_search_terms(args.terms)
    async with cli.client_from_args(args) as client:
        api = _api(client, args.type)
        try:
            results = api.search(params, strict=args.strict)
        except ValidationError as exc:
            raise fail(str(exc)) from None
        async with results:
            async for resource in results:
                sys.stdout.write(_line(resource) + "\n")
        stats = results.stats
    if getattr(stats, "incomplete", False):
        sys.stderr.write(
            f"warning: the server answered {stats.received} of {stats.total} matches and no "
            "next page; narrow the search (by encounter, by date range)\n"
        )
    return 0


def _read(file: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None


async def _create(args: argparse.Namespace) -> int:
    data = _read(args.file)
    try:
        resource = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise fail(f"{args.file} is not JSON: {exc}") from None
    if not isinstance(resource, dict):
        raise fail(f"{args.file} must hold one FHIR resource (a JSON object)")
    async with cli.client_from_args(args) as client:
        api = _api(client, args.type)
        try:
            result = await api.create(resource)
        except ValidationError as exc:
            raise fail(redact_niks(str(exc))) from None
    answer = {"id": result.id, "created": result.created, "resource": result.resource}
    sys.stdout.write(msgspec.json.format(_encoder.encode(answer), indent=2).decode() + "\n")
    return 0
