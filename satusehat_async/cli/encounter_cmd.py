"""``satusehat encounter get|search``: Encounters from a shell.

A thin layer over ``satusehat fhir get|search Encounter`` (the same code, the same output:
``get`` prints the Encounter as JSON, ``search`` one Encounter per line, every page).
"""

from __future__ import annotations

import argparse

from satusehat_async.cli.fhir_cmd import _get, _search

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``encounter`` command and its ``get`` and ``search``."""
    parser = subparsers.add_parser(
        "encounter",
        help="read and search Encounters (visits)",
        description="Encounters: the same as 'satusehat fhir get|search Encounter'.",
    )
    commands = parser.add_subparsers(dest="encounter_command", metavar="ACTION")
    commands.required = True
    get = commands.add_parser("get", help="read one Encounter by id")
    get.add_argument("id", help="the Encounter's id")
    get.set_defaults(func=_get, type="Encounter")
    search = commands.add_parser(
        "search",
        help="search Encounters (NDJSON out, every page)",
        description="Each TERM is key=value (subject=Patient/P1, date=ge2024-01-01; repeat "
        "a key for AND). Output: one Encounter per line.",
    )
    search.add_argument("terms", metavar="KEY=VALUE", nargs="*", help="search parameters")
    search.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when the server answers fewer results than its total",
    )
    search.set_defaults(func=_search, type="Encounter")
