"""The create identity of any resource with an identifier: :class:`IdentifierIdentity`.

A create is known by one of the resource's identifiers, fixed before its first attempt:
the first with both a system and a value, preferring the facility's local ones
(``http://sys-ids.kemkes.go.id/...``, which SATUSEHAT keeps unique per organization:
a second create with one is refused ``duplicate``). It is searched for
(``identifier=system|value``) before the write and after every ambiguous failure, and
sent as ``If-None-Exist`` so standard FHIR servers dedupe too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.idempotency import Identity, ReconcileWindow
from satusehat_async.resource.errors import AmbiguousIdentifierError
from satusehat_async.resource.local import LOCAL_SYSTEM_PREFIX

__all__ = ["IdentifierIdentity", "create_identifier"]

R = TypeVar("R")


def _pairs(resource: Any) -> list[tuple[str, str]]:
    found = getattr(resource, "identifier", None)
    items = found if isinstance(found, (list, tuple)) else ([found] if found is not None else [])
    pairs = []
    for item in items:
        system, value = getattr(item, "system", None), getattr(item, "value", None)
        if isinstance(system, str) and system and isinstance(value, str) and value:
            pairs.append((system, value))
    return pairs


def create_identifier(resource: Any) -> tuple[str, str] | None:
    """The ``(system, value)`` a create of ``resource`` is known by, or None (it has none).

    The first identifier with a system and a value, a local one
    (``http://sys-ids.kemkes.go.id/...``) before any other.
    """
    pairs = _pairs(resource)
    local = [pair for pair in pairs if pair[0].startswith(LOCAL_SYSTEM_PREFIX)]
    chosen = local or pairs
    return chosen[0] if chosen else None


@dataclass(frozen=True)
class IdentifierIdentity(Generic[R]):
    """The :class:`~satusehat_async.idempotency.IdentityPolicy` of creates by identifier.

    Args:
        resource_type: the FHIR type (``"Encounter"``).
        unique: does the server keep the identifier unique? None (default): a local
            identifier is (SATUSEHAT refuses a second record with one, ``duplicate``), any
            other is not known to be (a NIK, another system's number). Not unique, an
            ambiguously failed write is looked for over ``window`` before it may be sent
            again (searches lag writes), instead of one search.
        window: the reconciliation window of identifiers not kept unique, and how long a
            ``duplicate`` refusal's record is looked for.
    """

    resource_type: str
    unique: bool | None = None
    window: ReconcileWindow = field(default_factory=ReconcileWindow)

    def identify(self, resource: R) -> Identity:
        """The identity of a create (ValidationError when the resource has no identifier)."""
        chosen = create_identifier(resource)
        if chosen is None:
            raise ValidationError(f"this {self.resource_type} carries no identifier system|value")
        system, value = chosen
        unique = self.unique if self.unique is not None else system.startswith(LOCAL_SYSTEM_PREFIX)
        # If-None-Exist either way: the identifier names this one record (standard servers
        # then answer the existing one; SATUSEHAT is not known to honour it).
        return Identity(system, value, unique=unique, conditional=True)

    def matches(self, candidate: R, wanted: R, identity: Identity) -> bool:
        """Does ``candidate`` carry the identifier? (A server that ignored the search
        parameter would list other records: they never match.)"""
        if not getattr(candidate, "id", None):
            return False
        return (identity.system, identity.value) in _pairs(candidate)

    def id_of(self, resource: R) -> str | None:
        """The record's id."""
        found = getattr(resource, "id", None)
        return found if isinstance(found, str) else None

    def with_id(self, resource: R, resource_id: str) -> R:
        """``resource`` with ``id`` set."""
        assert isinstance(resource, msgspec.Struct)
        replaced: R = msgspec.structs.replace(resource, id=resource_id)
        return replaced

    def ambiguous(
        self, ids: Sequence[str], identity: Identity, after: SatuSehatError | None
    ) -> SatuSehatError:
        """:class:`AmbiguousIdentifierError` naming the records."""
        return AmbiguousIdentifierError(
            ids, resource_type=self.resource_type, token=identity.token, after=after
        )
