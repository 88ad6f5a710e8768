"""The one retry engine: a frozen :class:`RetryPolicy`, its :class:`RetryBudget`, one predicate.

How long may a call take? ``RetryPolicy.start()`` answers it: the budget it returns
counts attempts against ``max_attempts``, time against ``max_time`` (on the injected
monotonic clock), draws the jittered backoff and caps a ``Retry-After`` against what is
left. Every loop that re-sends (the transport's, and any caller's own) asks it::

    budget = policy.start(monotonic)
    while True:
        outcome = await attempt()
        if ok(outcome) or not may_retry(outcome, idempotent=..., policy=policy):
            break
        wait = budget.next_wait(outcome)
        if wait is None:
            break              # out of attempts or time: give up with this error
        await sleep(wait)

Whether an error may be retried at all is the error's own fact
(:attr:`~satusehat_async.errors.SatuSehatError.retryable`); :func:`may_retry` adds the
request's idempotency and the policy's statuses — the only place that decides it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import backoff

from satusehat_async.errors import (
    DEFAULT_RETRY_STATUSES,
    APIError,
    SatuSehatError,
    TransportError,
    ValidationError,
)
from satusehat_async.http.resilience import check_count, check_seconds

__all__ = [
    "IDEMPOTENT_METHODS",
    "RetryBudget",
    "RetryPolicy",
    "is_idempotent",
    "is_retryable",
    "may_retry",
]

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
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
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

    def start(self, monotonic: Callable[[], float]) -> RetryBudget:
        """A fresh budget for one logical call, its clock started now."""
        return RetryBudget(self, monotonic)

    def retries(self, error: SatuSehatError) -> bool:
        """Is ``error`` of a kind this policy retries (ignoring idempotency)?

        HTTP answers are judged by :attr:`retry_statuses`; everything else by the
        error's own :attr:`~satusehat_async.errors.SatuSehatError.retryable`.
        """
        if isinstance(error, APIError):
            return error.status in self.retry_statuses
        return error.retryable

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


class RetryBudget:
    """The attempts and time one logical call has left under a :class:`RetryPolicy`.

    ``attempts`` counts the attempts that failed so far (each :meth:`next_wait` call is
    one). Not shared between calls: start one per logical call with
    :meth:`RetryPolicy.start`.
    """

    __slots__ = ("_delays", "_monotonic", "attempts", "policy", "started")

    def __init__(self, policy: RetryPolicy, monotonic: Callable[[], float]) -> None:
        self.policy = policy
        self._monotonic = monotonic
        self.started = monotonic()
        self.attempts = 0
        self._delays: Iterator[float] | None = None  # drawn lazily: most calls never retry

    def __repr__(self) -> str:
        return f"RetryBudget(attempts={self.attempts}, remaining={self.remaining():.2f}s)"

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self._monotonic() - self.started

    def remaining(self) -> float:
        """Seconds left of ``max_time`` (never negative)."""
        return max(0.0, self.policy.max_time - self.elapsed())

    def next_wait(self, error: SatuSehatError) -> float | None:
        """Count an attempt that failed with ``error``; the wait before the next one.

        None means give up: the attempts are spent, the time is up, or the wait (the
        backoff, or the server's ``Retry-After``) would not fit in the time left.
        Whether ``error`` may be retried at all is :func:`may_retry`'s question, asked
        first.
        """
        self.attempts += 1
        if self.attempts >= self.policy.max_attempts or self.remaining() <= 0:
            return None
        if self._delays is None:
            self._delays = self.policy.delays()
        wait = self.policy.wait_for(error, next(self._delays))
        return wait if wait <= self.remaining() else None


def may_retry(error: SatuSehatError, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """May the request that failed with ``error`` be sent again? The one place this is decided.

    The error must be of a kind ``policy`` retries (:meth:`RetryPolicy.retries`). Reads
    (and writes declared idempotent) may then be re-sent; any other write only when it
    provably never reached the server (a :class:`TransportError` with ``sent=False``).
    """
    if not policy.retries(error):
        return False
    return idempotent or (isinstance(error, TransportError) and not error.sent)


def is_retryable(error: SatuSehatError, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """The earlier name of :func:`may_retry` (kept for existing imports)."""
    return may_retry(error, idempotent=idempotent, policy=policy)
