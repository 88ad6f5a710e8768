"""What a create can end in besides a record (the classes live in the error tree)."""

from __future__ import annotations

from satusehat_async.errors.outcomes import AmbiguousMatchError, CreateOutcomeUnknown

__all__ = ["AmbiguousMatchError", "CreateOutcomeUnknown"]
