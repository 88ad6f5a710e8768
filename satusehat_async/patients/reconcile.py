"""The time side of a Patient create — now generic, in :mod:`satusehat_async.idempotency`.

Kept so earlier imports work: :class:`ReconcileWindow` (the newborns' window),
:class:`CreateMemory` and :class:`Pending` (per client, on ``context.creates``),
:class:`WindowOutcome` and :func:`watch_window`. The create's budget is the retry
engine's :class:`~satusehat_async.http.retry.RetryBudget` (``policy.start(monotonic)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from satusehat_async.http.retry import RetryBudget, RetryPolicy
from satusehat_async.idempotency import (
    CreateMemory,
    Pending,
    ReconcileWindow,
    WindowOutcome,
    request_policy,
    watch_window,
)
from satusehat_async.idempotency.budget import clock_now

__all__ = ["Budget", "CreateMemory", "Pending", "ReconcileWindow", "WindowOutcome", "watch_window"]


class Budget(RetryBudget):
    """The earlier create budget: ``seconds`` from now on ``monotonic`` (kept for imports).

    A :class:`~satusehat_async.http.retry.RetryBudget` of a policy with that ``max_time``;
    new code starts one with ``RetryPolicy.start(monotonic)``.
    """

    __slots__ = ()

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic):
        super().__init__(RetryPolicy(max_time=seconds), monotonic)

    def now(self) -> float:
        """The budget's clock."""
        return clock_now(self)

    def policy_for(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy`` with its ``max_time`` cut to what is left, for one request's retries."""
        return request_policy(self, policy)
