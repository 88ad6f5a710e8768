"""Retry as data: a frozen policy, pure predicates, and ``backoff``'s delay schedules.

The request loop in :mod:`satusehat_async.transport` asks this module two questions —
*may this failure be retried?* and *how long to wait?* — and sleeps through an injected
``sleep`` so tests never wait for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import backoff

from satusehat_async.errors import (
    APIError,
    SatuSehatError,
    TransportError,
    ValidationError,
)
from satusehat_async.resilience import check_count, check_seconds

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "is_idempotent", "is_retryable"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_idempotent(method: str, override: bool | None = None) -> bool:
    """Whether a request may be re-sent after it may have reached the server."""
    return override if override is not None else method.upper() in IDEMPOTENT_METHODS


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    Exponential backoff with full jitter (``backoff.expo`` + ``backoff.full_jitter``),
    bounded by ``max_attempts`` and ``max_time`` seconds in total. ``Retry-After`` on
    429/503 replaces the computed delay (capped at ``max_retry_after``; when it would
    exceed the remaining time budget the error is raised instead of waiting).
    """

    max_attempts: int = 5
    max_time: float = 60.0
    base_delay: float = 0.25
    max_delay: float = 10.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    respect_retry_after: bool = True
    max_retry_after: float = 120.0
    jitter: Callable[[float], float] | None = field(default=backoff.full_jitter, compare=False)

    def __post_init__(self) -> None:
        # Every field is checked: a wrong value raises ValidationError here, never a
        # TypeError in the middle of a request's retries.
        check_count("max_attempts", self.max_attempts)
        check_seconds("max_time", self.max_time)
        check_seconds("base_delay", self.base_delay, positive=False)
        check_seconds("max_delay", self.max_delay, positive=False)
        check_seconds("max_retry_after", self.max_retry_after, positive=False)
        statuses = self.retry_statuses
        if isinstance(statuses, (str, bytes)) or not isinstance(statuses, Iterable):
            raise ValidationError("retry_statuses must be a set of HTTP status codes")
        statuses = frozenset(statuses)
        if not all(
            isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses
        ):
            raise ValidationError(f"retry_statuses must hold HTTP status codes, got {statuses}")
        object.__setattr__(self, "retry_statuses", statuses)  # frozen: a set becomes frozen
        if not isinstance(self.respect_retry_after, bool):
            raise ValidationError("respect_retry_after must be True or False")
        if self.jitter is not None and not callable(self.jitter):
            raise ValidationError("jitter must be a callable or None")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def delays(self) -> Iterator[float]:
        """The schedule of waits between attempts (jittered), one per retry."""
        gen = backoff.expo(base=2, factor=self.base_delay, max_value=self.max_delay)
        next(gen)  # backoff's generators are primed with a send(None)
        for value in gen:
            yield self.jitter(value) if self.jitter else value

    def wait_for(self, error: SatuSehatError, scheduled: float) -> float:
        """The wait before retrying after ``error``: Retry-After if given, else ``scheduled``."""
        if self.respect_retry_after and isinstance(error, APIError):
            retry_after = _retry_after(error)
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        return scheduled


def _retry_after(error: APIError) -> float | None:
    return error.retry_after if error.status in (429, 503) else None


def is_retryable(error: SatuSehatError, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """Pure predicate: may the request that failed with ``error`` be sent again?

    Reads (and writes declared idempotent) are retried on connection failures,
    timeouts and the policy's statuses. A non-idempotent write is retried only when it
    provably never reached the server (``TransportError.sent`` is False).
    """
    if isinstance(error, TransportError):
        return idempotent or not error.sent
    if isinstance(error, APIError):
        return idempotent and error.status in policy.retry_statuses
    return False
