"""The duplicate-safe create: one logical write, one record, its id always returned.

A ``POST`` is not idempotent: re-sent after a timeout, a dropped connection or a 5xx
whose write had in fact committed, it would store the record twice. So the identity of
the write is fixed once, before any attempt (:class:`~.policy.CreatePlan`, by the
resource type's :class:`~.policy.IdentityPolicy`), and :func:`run_create`:

1. **searches before writing**: a record already there is returned with
   ``created=False`` and nothing is sent — unless ``write_first`` (an identity the
   server keeps unique and answers a second write for with the existing record: the
   MPI's duplicate envelope, a conditional create's match), where the write goes first
   and the one request is the whole create;
2. sends the write once per attempt (never re-sent blindly by the transport);
3. after a failure that **may have committed** (the error's
   :attr:`~satusehat_async.errors.SatuSehatError.may_have_committed`, or a 2xx it could
   not read) **reconciles before re-sending**: searches again; since the first search
   found nothing, a record found now was created by this call (``created=True``).
   For an identity the server does not keep unique, it searches over a window
   (:class:`~.window.ReconcileWindow`) and never writes again while the first write may
   still appear; where the budget ends first it raises
   :class:`~satusehat_async.errors.CreateOutcomeUnknown`. Written first, no search came
   before: a record found after an ambiguous failure is reported ``created=True`` (the
   lost answer alone could have told whether it existed before this call).

Whether a write is sent again is :func:`~satusehat_async.http.retry.may_retry`'s answer
(reconciled, the write is known not to be stored: as safe as an idempotent request), and
how long to wait the budget's (:meth:`~satusehat_async.http.retry.RetryBudget.next_wait`):
one :class:`~satusehat_async.http.retry.RetryBudget` bounds every wait of a create.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from satusehat_async.errors import APIError, CreateOutcomeUnknown, SatuSehatError
from satusehat_async.http.retry import RetryBudget, RetryPolicy, may_retry
from satusehat_async.idempotency.budget import backoff, clock_now
from satusehat_async.idempotency.memory import CreateMemory, Pending
from satusehat_async.idempotency.policy import Created, CreatePlan, Identity, IdentityPolicy, pick
from satusehat_async.idempotency.window import ReconcileWindow, WindowOutcome, watch_window

__all__ = ["memory_key", "run_create", "worth_reconciling"]

logger = logging.getLogger("satusehat_async.idempotency")

R = TypeVar("R")
Sleep = Callable[[float], Awaitable[None]]
Post = Callable[[], Awaitable[Created[R]]]  # send the write once and read its answer
Search = Callable[[Identity], Awaitable[list[R]]]  # the records with this identifier
Report = Callable[[bool], None]  # the outcome of a failed write, for the circuit breaker


def worth_reconciling(error: SatuSehatError) -> bool:
    """After ``error``, might the write be stored (so search for it before anything else)?"""
    if error.may_have_committed:
        return True
    # A 2xx whose id we could not read: the write most likely happened; look for it.
    # (An explicit {"success": false} without an id is a refusal, not an ambiguity.)
    return (
        isinstance(error, APIError)
        and 200 <= error.status < 300
        and not (isinstance(error.body, Mapping) and error.body.get("success") is False)
    )


def memory_key(policy: IdentityPolicy[R], plan: CreatePlan[R]) -> str:
    """The key of a create in the per-client locks and memory (resource type + identity)."""
    return f"{policy.resource_type} {plan.lock_key}"


async def run_create(
    plan: CreatePlan[R],
    policy: IdentityPolicy[R],
    *,
    post: Post[R],
    search: Search[R],
    budget: RetryBudget,
    sleep: Sleep,
    window: ReconcileWindow | None = None,
    memory: CreateMemory | None = None,
    report: Report | None = None,
    write_first: bool = False,
) -> Created[R]:
    """Run one create: search first, write, reconcile after every ambiguous failure.

    ``post()`` sends the write once (its decoded answer, or raises); ``search(identity)``
    lists the records with the plan's identifier. At most ``budget.policy.max_attempts``
    writes are sent, and every wait fits in ``budget``. When all failed ambiguously and
    none left a record, the last error is raised. When a reconciling search fails, or
    the window (``window``, default the policy's) is cut short by the budget,
    :class:`CreateOutcomeUnknown` is raised; several matching records raise the policy's
    :meth:`~.policy.IdentityPolicy.ambiguous` error. ``memory`` (one per client) keeps
    the records created and the outcomes left unknown of identities the server does not
    keep unique; ``report(ok)`` hears, for the circuit breaker, whether a write that
    failed was found after all (True) or not (False). ``write_first`` skips the search
    before the first write; it is only honoured for a unique identity (the server must
    refuse a second record: the duplicate envelope, or a conditional create's match).
    """
    run = _CreateRun(plan, policy, post, search, budget, sleep, report)
    run.write_first = write_first and plan.identity.unique
    run.window = window or policy.window
    run.memory = None if plan.identity.unique else memory
    return await run.run()


class _CreateRun(Generic[R]):
    """The state of one logical create (see :func:`run_create`)."""

    window: ReconcileWindow
    memory: CreateMemory | None  # only identities the server does not keep unique
    write_first = False  # no search before the first write (a unique identity only)

    def __init__(
        self,
        plan: CreatePlan[R],
        policy: IdentityPolicy[R],
        post: Post[R],
        search: Search[R],
        budget: RetryBudget,
        sleep: Sleep,
        report: Report | None,
    ) -> None:
        self.plan, self.policy, self.budget = plan, policy, budget
        self.retry: RetryPolicy = budget.policy
        self._post, self._search, self._sleep, self._report = post, search, sleep, report
        self.unique = plan.identity.unique
        self.key = memory_key(policy, plan)
        self.attempt = 0

    async def run(self) -> Created[R]:
        if self.write_first:
            return await self._write()
        existing = await self._look()
        searched_at = clock_now(self.budget)
        if existing is None:
            existing = await self._settle_pending(searched_at)
        if existing is not None:
            return self._result(existing, created=False)
        return await self._write()

    async def _write(self) -> Created[R]:
        """Write until a record exists, reconciling after every ambiguous failure."""
        ambiguous = False  # did an earlier attempt of this call perhaps commit?
        while True:
            self.attempt += 1
            try:
                result = await self._post()
            except SatuSehatError as exc:
                if not worth_reconciling(exc):
                    self._failed(exc)
                    raise
                error: SatuSehatError = exc
            else:
                if ambiguous and not result.created:
                    # The "existing" record appeared after our search found none (or,
                    # written first, after our own ambiguous failure): an earlier
                    # attempt of this very call committed it.
                    result = dataclasses.replace(result, created=True)
                self._remember(result)
                return result
            ambiguous = True
            found = await self._after_failure(error)
            if found is not None:
                return self._result(found, created=True)

    async def _after_failure(self, error: SatuSehatError) -> R | None:
        """Reconcile one failed write: its record, or None to send again (or raise)."""
        failed_at = clock_now(self.budget)
        # Found missing, the write is as safe to re-send as an idempotent request; the
        # budget says how long to wait first (backoff or Retry-After), or None: never.
        resend = (
            self.budget.next_wait(error)
            if may_retry(error, idempotent=True, policy=self.retry)
            else None
        )
        logger.warning(
            "create %s (%s): attempt %d failed (%s); reconciling %s",
            self.policy.resource_type,
            self.plan.identity.system.rsplit("/", 1)[-1],
            self.attempt,
            type(error).__name__,
            self._plan_of_reconciling(resend),
        )
        if self.unique:
            outcome = await self._look_once(error, resend)
        else:
            outcome = await self._watch(error, failed_at)
        if outcome.found is not None:
            if self._report is not None:
                self._report(True)  # the host did the write: not a failure of it
            found: R = outcome.found
            return found
        self._failed(error)
        if not outcome.complete:
            raise self._unknown(error, outcome.error, failed_at)
        if resend is None:
            # Out of attempts or time; or a 2xx we could not read: the write succeeded
            # somewhere, and re-sending it could only make a second record.
            raise error
        # Re-send no sooner than the backoff (or Retry-After) says, within the budget.
        pause = resend - max(clock_now(self.budget) - failed_at, outcome.waited)
        if pause > self.budget.remaining():
            raise error
        if pause > 0:
            await self._sleep(pause)
        return None

    def _plan_of_reconciling(self, resend: float | None) -> str:
        if not self.unique:
            return f"over {self.window.span:.1f}s"
        return f"in {resend:.2f}s" if resend is not None else "once, then giving up"

    async def _candidates(self) -> list[R]:
        """Search once: the records found, and this process's fresh ones (not found yet)."""
        candidates = await self._search(self.plan.identity)
        if self.memory is not None:
            fresh = self.memory.created(self.key, clock_now(self.budget))
            candidates = [*candidates, *fresh]
        return candidates

    async def _look(self, after: SatuSehatError | None = None) -> R | None:
        """Search once; the one matching record, None, or the policy's ambiguity error."""
        return pick(self.policy, self.plan, await self._candidates(), after=after)

    async def _look_once(self, error: SatuSehatError, resend: float | None) -> WindowOutcome:
        """A unique identity's reconciliation: one search after the wait.

        When nothing will be sent again (out of attempts, or a long ``Retry-After`` that
        does not fit in the budget), the search comes after the backoff's delay (the
        server's ``Retry-After`` where it fits), within the budget.
        """
        left = self.budget.remaining()
        if resend is not None:
            pause = resend
        else:
            scheduled = backoff(self.retry, self.attempt)
            wait = self.retry.wait_for(error, scheduled)
            pause = wait if wait <= left else min(scheduled, left)
        if pause > 0:
            await self._sleep(pause)
        try:
            found = await self._look(error)
        except SatuSehatError as exc:
            # Whether the write was stored cannot be told now: say so, with both errors,
            # rather than raise the search's error as if the create had simply failed.
            return WindowOutcome(None, False, exc, pause)
        return WindowOutcome(found, True, None, pause)

    async def _watch(
        self, error: SatuSehatError, failed_at: float, searched_at: float | None = None
    ) -> WindowOutcome:
        """A non-unique identity's reconciliation: searches over the window."""
        return await watch_window(
            self._candidates,
            functools.partial(pick, self.policy, self.plan, after=error),
            failed_at=failed_at,
            offsets=self.window.offsets(self.retry),
            budget=self.budget,
            sleep=self._sleep,
            searched_at=searched_at,
        )

    async def _settle_pending(self, searched_at: float) -> R | None:
        """Finish the windows of this identity's writes that an earlier call left unknown."""
        if self.memory is None:
            return None
        policy, plan = self.policy, self.plan
        for entry in self.memory.pending(self.key, searched_at):
            candidate = policy.with_id(entry.resource, "pending")
            if not policy.matches(candidate, plan.resource, plan.identity):
                continue
            outcome = await self._watch(entry.error, entry.failed_at, searched_at)
            if outcome.found is not None:
                self.memory.forget_pending(self.key, entry)
                found: R = outcome.found
                return found
            if not outcome.complete:
                raise self._unknown(entry.error, outcome.error, entry.failed_at, entry)
            self.memory.forget_pending(self.key, entry)  # its window passed: not stored
        return None

    def _unknown(
        self,
        error: SatuSehatError,
        cause: SatuSehatError | None,
        failed_at: float,
        entry: Pending | None = None,
    ) -> CreateOutcomeUnknown:
        now = clock_now(self.budget)
        repeat_after: float | None = None
        if self.memory is not None:
            if entry is None:
                until = failed_at + self.window.span
                entry = Pending(self.plan.resource, failed_at, until, error)
                self.memory.remember_pending(self.key, entry, now)
            repeat_after = max(0.0, entry.until - now)
        unknown = CreateOutcomeUnknown(
            last_error=error,
            cause=cause,
            attempts=self.attempt,
            repeat_after=repeat_after,
            resource_type=self.policy.resource_type,
        )
        unknown.__cause__ = cause
        return unknown

    def _remember(self, result: Created[R]) -> None:
        """Keep a record just created: searches may not find it for a while."""
        if self.memory is None:
            return
        stored = result.resource
        if stored is None or self.policy.id_of(stored) != result.id:
            stored = self.policy.with_id(self.plan.resource, result.id)
        now = clock_now(self.budget)
        self.memory.remember_created(self.key, stored, now + self.window.span, now)

    def _result(self, record: R, *, created: bool) -> Created[R]:
        found = self.policy.id_of(record)
        assert found is not None  # pick() only returns records with an id
        return Created(id=found, created=created, resource=record)

    def _failed(self, error: SatuSehatError) -> None:
        """Tell the breaker about a write that failed and was not found after all."""
        if self._report is not None and error.host_unhealthy:
            self._report(False)
