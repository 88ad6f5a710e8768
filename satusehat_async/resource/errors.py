"""Errors of the generic resource API (they live in the library's error tree).

- :class:`IncompleteSearchError`: a search ended short of the ``total`` the server
  announced (SATUSEHAT's store answers at most 100 entries and no ``next`` link), raised
  with ``strict=True``.
- :class:`AmbiguousIdentifierError`: several records carry the identifier a create is
  known by; none is picked.
- :class:`UnverifiableCreateOutcome`: a create without an identifier failed ambiguously.
"""

from __future__ import annotations

from satusehat_async.errors.outcomes import (
    NARROWER,
    AmbiguousIdentifierError,
    IncompleteSearchError,
    UnverifiableCreateOutcome,
)

__all__ = [
    "NARROWER",
    "AmbiguousIdentifierError",
    "IncompleteSearchError",
    "UnverifiableCreateOutcome",
]
