"""``satusehat bundle post FILE.json``: send a Bundle transaction from a shell.

The Bundle (``type: transaction``) is sent with ``client.transaction``: idempotent by the
identifiers its created entries carry, so posting the same visit again stores nothing and
prints the same ids with ``"created": false``. Output: one JSON object whose ``entries``
line up with the Bundle's (``index``, ``resource_type``, ``id``, ``status``, ``created``,
``location``). A Bundle the library refuses before sending (not a transaction Bundle, an
unknown key, a naive time, a ``urn:uuid`` reference to no entry) exits 2 with one line; a
refusal by the server exits 1 with one line naming the entry it points at.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from satusehat_async.cli import main as cli
from satusehat_async.cli.fhir_cmd import _read
from satusehat_async.cli.main import fail
from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = ["register"]

_encoder = msgspec.json.Encoder(decimal_format="number")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bundle`` command and its ``post``."""
    parser = subparsers.add_parser(
        "bundle",
        help="send FHIR Bundle transactions",
        description="Bundle transactions (all or nothing on the server).",
    )
    commands = parser.add_subparsers(dest="bundle_command", metavar="ACTION")
    commands.required = True
    post = commands.add_parser(
        "post",
        help="send a transaction Bundle from a FHIR JSON file (idempotent by identifier)",
        description="Send the transaction Bundle in FILE ('-' reads stdin) and print what "
        "became of each entry. Repeating it is safe for entries with an identifier.",
    )
    post.add_argument("file", metavar="FILE.json", help="the Bundle ('-': stdin)")
    post.set_defaults(func=_post)


def _transaction(data: bytes, file: str) -> Any:
    from satusehat_async.fhir import Transaction

    try:
        bundle = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise fail(f"{file} is not JSON: {exc}") from None
    if not isinstance(bundle, dict):
        raise fail(f"{file} must hold one FHIR Bundle (a JSON object)")
    try:
        return Transaction.from_bundle(bundle)
    except ValidationError as exc:  # personal data never reaches the terminal
        raise fail(redact_niks(str(exc))) from None


async def _post(args: argparse.Namespace) -> int:
    tx = _transaction(_read(args.file), args.file)
    async with cli.client_from_args(args) as client:
        try:
            result = await client.transaction(tx)
        except ValidationError as exc:
            raise fail(redact_niks(str(exc))) from None
    entries = [
        {
            "index": e.index,
            "resource_type": e.resource_type,
            "id": e.id,
            "status": e.status,
            "created": e.created,
            "location": e.location,
        }
        for e in result.entries
    ]
    answer = {"created": result.created, "attempts": result.attempts, "entries": entries}
    sys.stdout.write(msgspec.json.format(_encoder.encode(answer), indent=2).decode() + "\n")
    return 0
