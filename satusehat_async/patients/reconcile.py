"""The time side of an idempotent create: one budget, the newborn's window, a memory.

- :class:`Budget` — the retry policy's ``max_time``, measured on the transport's monotonic
  clock from the start of one logical create: every wait of that create (backoff,
  ``Retry-After``, the window below) and every request's own retries fit in it.
- :class:`ReconcileWindow` — how long a newborn's write that failed ambiguously may still
  appear in searches (the write can commit *after* its error answer, and the MPI's search
  lags writes by seconds), and when to look for it. A newborn is never sent again within
  that window: the server keeps no uniqueness for a mother's NIK, so a second write would
  be a second baby.
- :class:`CreateMemory` — per client, the newborns this process created (searches may not
  find them yet) and those whose outcome was left unknown (a repeat continues their window
  instead of writing again).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.patients.models import Patient
from satusehat_async.retry import RetryPolicy

__all__ = [
    "Budget",
    "CreateMemory",
    "Pending",
    "ReconcileWindow",
    "WindowOutcome",
    "watch_window",
]

Sleep = Callable[[float], Awaitable[None]]
Look = Callable[[], Awaitable[list[Patient]]]  # one search (raises when it fails)
Pick = Callable[[list[Patient]], Patient | None]  # the record among the results, or None
_MIN_MAX_TIME = 1e-3  # a RetryPolicy needs a positive max_time
_MAX_SEARCHES = 32
_SWEEP_EVERY = 256  # however small the first gap: a window is "several" searches


class Budget:
    """What is left of one logical call's time budget (``max_time`` seconds from now)."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic):
        self._clock = monotonic
        self._deadline = monotonic() + seconds

    def now(self) -> float:
        """The budget's clock."""
        return self._clock()

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._deadline - self._clock())

    def policy_for(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy`` with its ``max_time`` cut to what is left, for one request's retries."""
        left = self.remaining()
        if left >= policy.max_time:
            return policy
        return dataclasses.replace(policy, max_time=max(left, _MIN_MAX_TIME))


@dataclass(frozen=True)
class ReconcileWindow:
    """How a newborn's ambiguously failed write is looked for before it may be sent again.

    After a write fails ambiguously (a timeout, a dropped answer, a 5xx), its record is
    searched for at ``first``, ``first·(1+factor)``, ... seconds — each gap ``factor``
    times the one before — and a last time at ``span``: with the defaults and a 0.25 s
    ``first``, at 0.25, 0.75, 1.75, 3.75, 7.75 and 10 s. Found, it is this create's
    record. Not found by the search at ``span``, the write is taken as never stored and
    may be sent again. When the retry budget ends before ``span``, the create raises
    :class:`~satusehat_async.patients.CreateOutcomeUnknown` instead.

    Args:
        span: seconds after an ambiguous failure within which the write may still appear
            in searches (commit after the error answer plus search lag). Choose it above
            the longest lag you expect: a write that appears later than ``span`` can be
            stored twice.
        first: the first search this long after the failure; None: the retry policy's
            ``base_delay`` (so a policy made for tests makes the searches quick too).
        factor: growth of the gaps between searches (at least 1.5).
    """

    span: float = 10.0
    first: float | None = None
    factor: float = 2.0

    def __post_init__(self) -> None:
        for name in ("span", "first", "factor"):
            value = getattr(self, name)
            if value is None and name == "first":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValidationError(f"ReconcileWindow.{name} must be a positive number")
        if self.factor < 1.5:
            raise ValidationError("ReconcileWindow.factor must be at least 1.5")

    def offsets(self, policy: RetryPolicy) -> list[float]:
        """The seconds after a failure at which to search; the last is ``span``."""
        first = self.first if self.first is not None else policy.base_delay
        if first <= 0:
            first = self.span / 2 ** (_MAX_SEARCHES // 2)
        offsets: list[float] = []
        at, gap = first, first
        while at < self.span and len(offsets) < _MAX_SEARCHES - 1:
            offsets.append(at)
            gap *= self.factor
            at += gap
        offsets.append(self.span)
        return offsets


@dataclass(frozen=True)
class WindowOutcome:
    """What looking over a window found."""

    found: Patient | None
    complete: bool  # a successful search at or after the window's end found nothing
    error: SatuSehatError | None  # the last failed search, if any
    waited: float = 0.0  # seconds slept since the failure, as planned


async def watch_window(
    look: Look,
    pick: Pick,
    *,
    failed_at: float,
    offsets: list[float],
    budget: Budget,
    sleep: Sleep,
    searched_at: float | None = None,
) -> WindowOutcome:
    """Search (``look``) at ``failed_at + offset`` for each offset, within ``budget``.

    ``pick`` finds the record among a search's results (its errors are not caught: a
    search that fails is retried at the next offset, a search that finds too much is not).

    Records never vanish from searches, so the last successful search says everything:
    nothing found by one at or after the last offset means the window is complete.
    ``searched_at`` is when a search (that found nothing) ran just before: offsets before
    it are skipped. Sleeps are planned on the offsets as well as measured on the clock, so
    an injected sleep that does not advance the clock still ends the window.
    """
    waited = 0.0 if searched_at is None else max(0.0, searched_at - failed_at)
    if waited >= offsets[-1]:
        return WindowOutcome(None, True, None, waited)
    error: SatuSehatError | None = None
    complete = False
    for offset in offsets:
        elapsed = max(budget.now() - failed_at, waited)
        if offset <= elapsed and offset != offsets[-1]:
            continue
        pause = max(0.0, offset - elapsed)
        left = budget.remaining()
        cut = pause > left
        if cut:
            pause = left  # one last look at the end of the budget
        if pause > 0:
            await sleep(pause)
        waited = elapsed + pause
        try:
            results = await look()
        except SatuSehatError as exc:  # a later search may still tell
            error = exc
            complete = False
        else:
            found = pick(results)
            if found is not None:
                return WindowOutcome(found, False, None, waited)
            complete = not cut and offset == offsets[-1]
            error = None if complete else error
        if cut:
            break
    return WindowOutcome(None, complete, error, waited)


@dataclass
class Pending:
    """A newborn's write whose outcome a create left unknown."""

    patient: Patient
    failed_at: float
    until: float  # the end of its window: a repeat writes again only after it
    error: SatuSehatError


class CreateMemory:
    """Per client: newborns created lately, and writes whose outcome is unknown.

    Keyed by the create's lock key (one mother's NIK); each entry expires by the clock
    given with every call, so the memory stays as small as the creates of one window.
    """

    def __init__(self) -> None:
        self._created: dict[str, list[tuple[float, Patient]]] = {}
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

    def created(self, key: str, now: float) -> list[Patient]:
        """The records this process created for ``key`` that searches may not find yet."""
        self._prune(key, now)
        return [patient for _, patient in self._created.get(key, ())]

    def remember_created(self, key: str, patient: Patient, until: float, now: float) -> None:
        """Keep ``patient`` (with its id) as a candidate of later searches until ``until``."""
        self._sweep(now)
        self._created.setdefault(key, []).append((until, patient))

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
