"""Per client: the writes to non-unique identities this process made, and those left unknown.

Searches may not show a record for seconds after it was stored, and the server keeps no
uniqueness for some identifiers (a mother's NIK), so the client itself remembers, per
identity, the records it created lately (candidates of later searches) and the writes
whose outcome a create left unknown (a repeat continues their window instead of writing
again). One :class:`CreateMemory` lives on each client's
:class:`~satusehat_async.context.ResourceContext` (``context.creates``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from satusehat_async.errors import SatuSehatError

__all__ = ["CreateMemory", "Pending"]

_SWEEP_EVERY = 256  # a full sweep every so many writes


@dataclass
class Pending:
    """A write whose outcome a create left unknown."""

    resource: Any
    failed_at: float
    until: float  # the end of its window: a repeat writes again only after it
    error: SatuSehatError


class CreateMemory:
    """Per client: records created lately, and writes whose outcome is unknown.

    Keyed by resource type and identity (one mother's NIK); each entry expires by the clock
    given with every call, so the memory stays as small as the creates of one window.
    """

    def __init__(self) -> None:
        self._created: dict[str, list[tuple[float, Any]]] = {}
        self._pending: dict[str, list[Pending]] = {}
        self._writes = 0

    def __len__(self) -> int:
        return sum(map(len, self._created.values())) + sum(map(len, self._pending.values()))

    def _prune(self, key: str, now: float) -> None:
        created = [entry for entry in self._created.get(key, ()) if entry[0] > now]
        if created:
            self._created[key] = created
        else:
            self._created.pop(key, None)
        pending = [entry for entry in self._pending.get(key, ()) if entry.until > now]
        if pending:
            self._pending[key] = pending
        else:
            self._pending.pop(key, None)

    def _sweep(self, now: float) -> None:
        # Keys nobody asks about again expire too: a full sweep every so many writes.
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            for key in {*self._created, *self._pending}:
                self._prune(key, now)

    def created(self, key: str, now: float) -> list[Any]:
        """The records this process created for ``key`` that searches may not find yet."""
        self._prune(key, now)
        return [resource for _, resource in self._created.get(key, ())]

    def remember_created(self, key: str, resource: Any, until: float, now: float) -> None:
        """Keep ``resource`` (with its id) as a candidate of later searches until ``until``."""
        self._sweep(now)
        self._created.setdefault(key, []).append((until, resource))

    def pending(self, key: str, now: float) -> list[Pending]:
        """The unknown outcomes for ``key`` whose window has not ended."""
        self._prune(key, now)
        return list(self._pending.get(key, ()))

    def remember_pending(self, key: str, entry: Pending, now: float) -> None:
        """Remember a write whose outcome is unknown until its window ends."""
        self._sweep(now)
        self._pending.setdefault(key, []).append(entry)

    def forget_pending(self, key: str, entry: Pending) -> None:
        """The outcome of ``entry`` is known now (found, or its window ended unseen)."""
        entries = self._pending.get(key, [])
        if entry in entries:
            entries.remove(entry)
        if not entries:
            self._pending.pop(key, None)
