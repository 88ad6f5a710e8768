"""Moved to :mod:`satusehat_async.http.retry`; importable from here as before."""

from __future__ import annotations

from satusehat_async.http.retry import (
    IDEMPOTENT_METHODS,
    RetryBudget,
    RetryPolicy,
    is_idempotent,
    is_retryable,
    may_retry,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "RetryBudget",
    "RetryPolicy",
    "is_idempotent",
    "is_retryable",
    "may_retry",
]
