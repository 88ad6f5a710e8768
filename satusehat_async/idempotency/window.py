"""The window of a write to an identifier the server does not keep unique.

A write can commit *after* its error answer, and searches lag writes by seconds. Where
the server keeps the identifier unique (a NIK) a re-sent write that comes too early is
answered "duplicate"; where it does not (a mother's NIK, shared by twins) a second write
would be a second record. So such a write, after an ambiguous failure, is searched for
over a :class:`ReconcileWindow` (:func:`watch_window`) and sent again only when the whole
window has passed without it.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.http.retry import RetryBudget, RetryPolicy
from satusehat_async.idempotency.budget import clock_now

__all__ = ["ReconcileWindow", "WindowOutcome", "watch_window"]

Sleep = Callable[[float], Awaitable[None]]
Look = Callable[[], Awaitable[list[Any]]]  # one search (raises when it fails)
Pick = Callable[[list[Any]], Any]  # the record among the results, or None
_MAX_SEARCHES = 32


@dataclass(frozen=True)
class ReconcileWindow:
    """How an ambiguously failed write is looked for before it may be sent again.

    For an identifier the server does not keep unique (a newborn's mother's NIK). After a
    write fails ambiguously (a timeout, a dropped answer, a 5xx), its record is
    searched for at ``first``, ``first·(1+factor)``, ... seconds — each gap ``factor``
    times the one before — and a last time at ``span``: with the defaults and a 0.25 s
    ``first``, at 0.25, 0.75, 1.75, 3.75, 7.75 and 10 s. Found, it is this create's
    record. Not found by the search at ``span``, the write is taken as never stored and
    may be sent again. When the retry budget ends before ``span``, the create raises
    :class:`~satusehat_async.errors.CreateOutcomeUnknown` instead.

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

    found: Any  # the record, or None
    complete: bool  # a successful search at or after the window's end found nothing
    error: SatuSehatError | None  # the last failed search, if any
    waited: float = 0.0  # seconds slept since the failure, as planned


async def watch_window(
    look: Look,
    pick: Pick,
    *,
    failed_at: float,
    offsets: list[float],
    budget: RetryBudget,
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
        elapsed = max(clock_now(budget) - failed_at, waited)
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
