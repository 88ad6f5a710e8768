"""The idempotent create: one logical write, one record, its id always returned.

A ``POST /Patient`` is not idempotent: re-sent after a timeout, a dropped connection or a
5xx whose write had in fact committed, it would register the patient twice. So the
identity of the write is fixed once, before any attempt — the patient's NIK, or for a
newborn its mother's NIK plus name, birth date, birth order and gender — and:

1. **search before create** (the MPI's own guidance): a record already there is returned
   with ``created=False`` and nothing is sent;
2. the POST goes out with ``idempotent=False`` (the transport never re-sends it blindly)
   and, for a NIK, ``If-None-Exist: identifier=<nik system>|<nik>`` so standard FHIR
   servers dedupe too (never for the mother's NIK, which twins share);
3. after an **ambiguous failure** (a timeout, a dropped connection, a 5xx, 408, 429) it
   **reconciles before re-sending**: searches by the identifier again; since the first
   search found nothing, a record found now was created by this call (``created=True``).

A write can commit *after* its error answer, and the MPI's search lags writes by
seconds. For a NIK that is harmless: the server keeps a NIK unique, so a re-sent write
that comes too early is answered "duplicate" with the record's id. The mother's NIK of a
newborn is not unique, so a newborn is **never sent again while its write may still
appear**: it is searched for over a window (see :class:`ReconcileWindow`: several
searches spread over seconds) and sent again only when the whole window has passed
without it. Where the retry budget ends first, the create raises
:class:`CreateOutcomeUnknown`.

Every wait of one create — backoff, ``Retry-After``, the window, and the retries of its
requests — fits in one budget, the retry policy's ``max_time``, on the transport's clock.

Creates for one identifier (one NIK, or one mother's babies) are serialized by a lock per
identifier, and a client remembers the newborns it created (searches may not show them
yet) and the writes whose outcome it left unknown (a repeat continues their window
rather than writing again), so concurrent and repeated creates in one process — twins
included — never mistake each other's records nor store one twice. Across processes, a
NIK is protected by the server's own dedupe; newborns of one mother should be registered
from one process, or a repeat after an unknown outcome left until its window has passed
(:attr:`CreateOutcomeUnknown.repeat_after`).

Newborns need a birth order (``multipleBirthInteger`` 0 for a single birth, 1, 2, ...
for twins; see :mod:`satusehat_async.patients.newborns`). When a search finds **more
than one** record that matches, the create stops with :class:`AmbiguousMatchError`
instead of picking one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from satusehat_async.errors import APIError, SatuSehatError, TransportError
from satusehat_async.patients.answers import CreateResult, decode_create_answer
from satusehat_async.patients.identifiers import NIK_IBU_SYSTEM
from satusehat_async.patients.models import Patient
from satusehat_async.patients.newborns import newborn_matches
from satusehat_async.patients.outcomes import AmbiguousMatchError, CreateOutcomeUnknown
from satusehat_async.patients.plan import CreatePlan, pick, plan_create
from satusehat_async.patients.reconcile import (
    Budget,
    CreateMemory,
    Pending,
    ReconcileWindow,
    WindowOutcome,
    watch_window,
)
from satusehat_async.patients.strict import patient_from_json, to_patient
from satusehat_async.retry import RetryPolicy

__all__ = [
    "AmbiguousMatchError",
    "CreateOutcomeUnknown",
    "CreatePlan",
    "KeyedLocks",
    "ReconcileWindow",
    "create_idempotently",
    "is_ambiguous",
    "newborn_matches",
    "patient_from_json",
    "plan_create",
    "to_patient",
]

logger = logging.getLogger("satusehat_async.patients")

Sleep = Callable[[float], Awaitable[None]]
Post = Callable[[], Awaitable[Any]]  # -> transport Response (status, headers, body)
Search = Callable[[str, str], Awaitable[list[Patient]]]
Report = Callable[[bool], None]  # the outcome of a write for the circuit breaker

_AMBIGUOUS_STATUSES = frozenset({408, 429})


def is_ambiguous(error: BaseException) -> bool:
    """Might the failed write have been applied? (timeouts, dropped answers, 5xx, 408, 429)."""
    if isinstance(error, TransportError):
        return error.sent
    if isinstance(error, APIError):
        return error.status >= 500 or error.status in _AMBIGUOUS_STATUSES
    return False


class KeyedLocks:
    """One :class:`asyncio.Lock` per key, dropped again when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for ``key`` for the duration of the block."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


async def create_idempotently(
    plan: CreatePlan,
    *,
    post: Post,
    search: Search,
    policy: RetryPolicy,
    sleep: Sleep,
    monotonic: Callable[[], float] = time.monotonic,
    budget: Budget | None = None,
    window: ReconcileWindow | None = None,
    memory: CreateMemory | None = None,
    report: Report | None = None,
) -> CreateResult:
    """Run one create: search first, POST, reconcile after every ambiguous failure.

    ``post()`` sends the POST once (a transport Response, or raises); ``search(system,
    value)`` lists the Patients with that identifier. At most ``policy.max_attempts``
    POSTs are sent, and every wait fits in ``budget`` (default: ``policy.max_time`` from
    now on ``monotonic``). When all failed ambiguously and none left a record, the last
    error is raised (nothing was created as far as the last search could tell). When a
    reconciling search fails, or a newborn's window (``window``) is cut short by the
    budget, :class:`CreateOutcomeUnknown` is raised; when a search finds several matching
    records, :class:`AmbiguousMatchError`. ``memory`` (one per client) keeps the newborns
    created and the outcomes left unknown; ``report(ok)`` hears, for the circuit breaker,
    whether a write that failed was found after all (True) or not (False).
    """
    run = _CreateRun(
        plan,
        post=post,
        search=search,
        policy=policy,
        sleep=sleep,
        budget=budget or Budget(policy.max_time, monotonic),
        window=window or ReconcileWindow(),
        memory=memory,
        report=report,
    )
    return await run.run()


class _CreateRun:
    """The state of one logical create (see :func:`create_idempotently`)."""

    def __init__(
        self,
        plan: CreatePlan,
        *,
        post: Post,
        search: Search,
        policy: RetryPolicy,
        sleep: Sleep,
        budget: Budget,
        window: ReconcileWindow,
        memory: CreateMemory | None,
        report: Report | None,
    ) -> None:
        self.plan, self.policy, self.budget, self.window = plan, policy, budget, window
        self._post, self._search, self._sleep, self._report = post, search, sleep, report
        self.newborn = plan.system == NIK_IBU_SYSTEM
        # A NIK is kept unique by the server; only newborns need the memory.
        self.memory = memory if self.newborn else None
        self.attempt = 0

    async def run(self) -> CreateResult:
        existing = await self._look()
        searched_at = self.budget.now()
        if existing is None:
            existing = await self._settle_pending(searched_at)
        if existing is not None:
            assert existing.id is not None
            return CreateResult(id=existing.id, created=False, resource=existing)
        delays: Iterator[float] = self.policy.delays()
        ambiguous = False  # did an earlier attempt of this call perhaps commit?
        while True:
            self.attempt += 1
            try:
                response = await self._post()
                result = decode_create_answer(
                    response.status,
                    response.body,
                    response.headers,
                    conditional=self.plan.conditional,
                )
            except SatuSehatError as exc:
                if not _worth_reconciling(exc):
                    self._failed(exc)
                    raise
                error: SatuSehatError = exc
            else:
                if ambiguous and not result.created:
                    # The "existing" record appeared after our search found none: an
                    # earlier attempt of this very call committed it.
                    result = CreateResult(id=result.id, created=True, resource=result.resource)
                self._remember(result)
                return result
            ambiguous = True
            found = await self._after_failure(error, next(delays))
            if found is not None:
                assert found.id is not None
                return CreateResult(id=found.id, created=True, resource=found)

    async def _after_failure(self, error: SatuSehatError, scheduled: float) -> Patient | None:
        """Reconcile one failed write: its record, or None to send again (or raise).

        ``scheduled`` is the backoff's next delay; ``Retry-After`` may lengthen it.
        """
        wait = self.policy.wait_for(error, scheduled)
        failed_at = self.budget.now()
        logger.warning(
            "create Patient (%s): attempt %d failed (%s); reconciling %s",
            self.plan.system.rsplit("/", 1)[-1],
            self.attempt,
            type(error).__name__,
            f"over {self.window.span:.1f}s" if self.newborn else f"in {wait:.2f}s",
        )
        if self.newborn:
            outcome = await watch_window(
                self._candidates,
                functools.partial(pick, self.plan, after=error),
                failed_at=failed_at,
                offsets=self.window.offsets(self.policy),
                budget=self.budget,
                sleep=self._sleep,
            )
        else:
            outcome = await self._look_once(error, wait, scheduled)
        if outcome.found is not None:
            if self._report is not None:
                self._report(True)  # the host did the write: not a failure of it
            return outcome.found
        self._failed(error)
        if not outcome.complete:
            raise self._unknown(error, outcome.error, failed_at)
        if self.attempt >= self.policy.max_attempts or not is_ambiguous(error):
            # Out of attempts; or a 2xx we could not read: the write succeeded somewhere,
            # and re-sending it could only make a second record.
            raise error
        # Re-send no sooner than the backoff (or Retry-After) says, within the budget.
        pause = wait - max(self.budget.now() - failed_at, outcome.waited)
        if pause > self.budget.remaining():
            raise error
        if pause > 0:
            await self._sleep(pause)
        return None

    async def _candidates(self) -> list[Patient]:
        """Search once: the records found, and this process's fresh ones (not found yet)."""
        plan = self.plan
        candidates = await self._search(plan.system, plan.value)
        if self.memory is not None:
            candidates = [*candidates, *self.memory.created(plan.lock_key, self.budget.now())]
        return candidates

    async def _look(self, after: SatuSehatError | None = None) -> Patient | None:
        """Search once; the one matching record, None, or AmbiguousMatchError."""
        return pick(self.plan, await self._candidates(), after=after)

    async def _look_once(
        self, error: SatuSehatError, wait: float, scheduled: float
    ) -> WindowOutcome:
        """A NIK's reconciliation: one search after the wait.

        When the wait (a long ``Retry-After``) does not fit in the budget, nothing will be
        sent again: the search comes after the backoff's delay, within the budget.
        """
        left = self.budget.remaining()
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

    async def _settle_pending(self, searched_at: float) -> Patient | None:
        """Finish the windows of this newborn's writes that an earlier call left unknown."""
        if self.memory is None:
            return None
        key = self.plan.lock_key
        for entry in self.memory.pending(key, searched_at):
            if not self.plan.matches(msgspec.structs.replace(entry.patient, id="pending")):
                continue
            outcome = await watch_window(
                self._candidates,
                functools.partial(pick, self.plan, after=entry.error),
                failed_at=entry.failed_at,
                offsets=self.window.offsets(self.policy),
                budget=self.budget,
                sleep=self._sleep,
                searched_at=searched_at,
            )
            if outcome.found is not None:
                self.memory.forget_pending(key, entry)
                return outcome.found
            if not outcome.complete:
                raise self._unknown(entry.error, outcome.error, entry.failed_at, entry)
            self.memory.forget_pending(key, entry)  # its window passed: it was not stored
        return None

    def _unknown(
        self,
        error: SatuSehatError,
        cause: SatuSehatError | None,
        failed_at: float,
        entry: Pending | None = None,
    ) -> CreateOutcomeUnknown:
        now = self.budget.now()
        repeat_after: float | None = None
        if self.memory is not None:
            until = failed_at + self.window.span
            if entry is None:
                entry = Pending(self.plan.patient, failed_at, until, error)
                self.memory.remember_pending(self.plan.lock_key, entry, now)
            repeat_after = max(0.0, entry.until - now)
        unknown = CreateOutcomeUnknown(
            last_error=error, cause=cause, attempts=self.attempt, repeat_after=repeat_after
        )
        unknown.__cause__ = cause
        return unknown

    def _remember(self, result: CreateResult) -> None:
        """Keep a newborn just created: searches may not find it for a while."""
        if self.memory is None:
            return
        stored = result.resource
        if stored is None or stored.id != result.id:
            stored = msgspec.structs.replace(self.plan.patient, id=result.id)
        now = self.budget.now()
        self.memory.remember_created(self.plan.lock_key, stored, now + self.window.span, now)

    def _failed(self, error: SatuSehatError) -> None:
        """Tell the breaker about a write that failed and was not found after all."""
        if self._report is not None and _host_failure(error):
            self._report(False)


def _host_failure(error: SatuSehatError) -> bool:
    # what the circuit breaker counts as the host failing (not a refusal of our input)
    if isinstance(error, TransportError):
        return True
    return isinstance(error, APIError) and (error.status >= 500 or error.status in (408, 429))


def _worth_reconciling(error: SatuSehatError) -> bool:
    if is_ambiguous(error):
        return True
    # A 2xx whose id we could not read: the write most likely happened; look for it.
    # (An explicit {"success": false} without an id is a refusal, not an ambiguity.)
    return (
        isinstance(error, APIError)
        and 200 <= error.status < 300
        and not (isinstance(error.body, Mapping) and error.body.get("success") is False)
    )
