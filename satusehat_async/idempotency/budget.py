"""One create, one :class:`~satusehat_async.http.retry.RetryBudget`: what it means for waits.

Every wait of one logical create — the backoff or ``Retry-After`` between writes, the
reconciling searches' window, and the retries of each of its requests — fits in the
retry policy's ``max_time``, measured by one budget started when the create starts.
"""

from __future__ import annotations

import dataclasses
import itertools

from satusehat_async.http.retry import RetryBudget, RetryPolicy

__all__ = ["backoff", "clock_now", "request_policy"]

_MIN_MAX_TIME = 1e-3  # a RetryPolicy needs a positive max_time


def clock_now(budget: RetryBudget) -> float:
    """The budget's monotonic clock, now (the times kept in the memory of creates)."""
    return budget.started + budget.elapsed()


def request_policy(budget: RetryBudget, policy: RetryPolicy | None = None) -> RetryPolicy:
    """``policy`` (default the budget's) with ``max_time`` cut to what the budget has left:
    the retries of one request of the create."""
    policy, left = policy or budget.policy, budget.remaining()
    if left >= policy.max_time:
        return policy
    return dataclasses.replace(policy, max_time=max(left, _MIN_MAX_TIME))


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """The policy's backoff delay after failed attempt number ``attempt`` (1, 2, ...)."""
    return next(itertools.islice(policy.delays(), max(attempt, 1) - 1, None))
