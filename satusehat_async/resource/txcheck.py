"""A transaction's checks before sending, and the rewriting of its references.

Refused before anything is sent: an empty transaction, a local identifier of another
organization than the client's (RuleNumber 10117), and a reference to a ``urn:uuid:``
that is no entry of the Bundle (a hand-built Bundle's usual fault). Entries found stored
are dropped from the Bundle sent, and references to them rewritten to ``{Type}/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.resource.local import check_organization
from satusehat_async.resource.transaction import Transaction

__all__ = ["check_transaction", "rewrite_references"]

_encoder = msgspec.json.Encoder(decimal_format="number")
_plain = msgspec.json.Decoder(float_hook=Decimal)  # decimals keep their digits


def _references(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:"):
                found.add(item)
            else:
                _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


def rewrite_references(value: Any, targets: Mapping[str, str]) -> Any:
    """``value`` (plain JSON) with every ``reference`` in ``targets`` replaced."""
    if isinstance(value, dict):
        return {
            k: targets.get(v, v)
            if k == "reference" and isinstance(v, str)
            else rewrite_references(v, targets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewrite_references(item, targets) for item in value]
    return value


def check_transaction(tx: Transaction, organization_id: str | None) -> list[Any]:
    """Refuse before sending: another organization's local identifier, a reference to a
    ``urn:uuid:`` that is not in the Bundle, an empty Bundle. The entries as plain JSON."""
    if not len(tx):
        raise ValidationError("a transaction needs at least one entry; nothing was sent")
    urns = {e.full_url for e in tx.entries if e.full_url}
    plains = []
    for entry in tx.entries:
        where = f"entry {entry.index} ({entry.resource_type})"
        try:
            check_organization(entry.resource, organization_id, entry.resource_type)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        plain = _plain.decode(_encoder.encode(entry.resource))
        found: set[str] = set()
        _references(plain, found)
        for missing in sorted(found - urns):
            raise ValidationError(
                f"{where} refers to {missing}, which is no entry of this transaction "
                "(use the Reference tx.add() returned); nothing was sent"
            )
        plains.append(plain)
    return plains
