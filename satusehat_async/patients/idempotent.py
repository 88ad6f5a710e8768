"""The idempotent create: one logical write, one record, its id always returned.

A ``POST /Patient`` is not idempotent: re-sent after a timeout, a dropped connection or a
5xx whose write had in fact committed, it would register the patient twice. So the
identity of the write is fixed once, before any attempt — the patient's NIK, or for a
newborn its mother's NIK plus name, birth date, birth order and gender — and:

1. **search before create** (the MPI's own guidance): a record already there is returned
   with ``created=False`` and nothing is sent — except where the server itself refuses a
   second record for a NIK (``write_first``: the MPI, or a server declaring conditional
   create; see :mod:`satusehat_async.patients.capabilities`): the POST then goes first,
   and its answer — the new record, the MPI's duplicate envelope or a conditional
   create's match (``created=False``), or 412 for several matches
   (:class:`AmbiguousMatchError`) — is the whole create, in one request;
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

The loop itself is generic (:mod:`satusehat_async.idempotency`); the NIK and newborn
rules are the Patient's identity policy (:class:`~satusehat_async.patients.policy.PatientIdentity`).

Newborns need a birth order (``multipleBirthInteger`` 0 for a single birth, 1, 2, ...
for twins; see :mod:`satusehat_async.patients.newborns`). When a search finds **more
than one** record that matches, the create stops with :class:`AmbiguousMatchError`
instead of picking one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from satusehat_async.context import KeyedLocks
from satusehat_async.errors import (
    AmbiguousMatchError,
    APIError,
    CreateOutcomeUnknown,
    SatuSehatError,
)
from satusehat_async.http.retry import RetryBudget, RetryPolicy
from satusehat_async.idempotency import (
    Created,
    CreateMemory,
    Identity,
    ReconcileWindow,
    run_create,
)
from satusehat_async.patients.answers import CreateResult, decode_create_answer
from satusehat_async.patients.models import Patient
from satusehat_async.patients.newborns import newborn_matches
from satusehat_async.patients.plan import CreatePlan, plan_create
from satusehat_async.patients.policy import PatientIdentity
from satusehat_async.patients.strict import patient_from_json, to_patient

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

Sleep = Callable[[float], Awaitable[None]]
Post = Callable[[], Awaitable[Any]]  # -> a Response (status, headers, body)
Search = Callable[[str, str], Awaitable[list[Patient]]]
Report = Callable[[bool], None]  # the outcome of a write for the circuit breaker


def is_ambiguous(error: BaseException) -> bool:
    """Might the failed write have been applied? (timeouts, dropped answers, 5xx, 408, 429).

    The error's own :attr:`~satusehat_async.errors.SatuSehatError.may_have_committed`
    (kept under this name for existing imports).
    """
    return isinstance(error, SatuSehatError) and error.may_have_committed


async def create_idempotently(
    plan: CreatePlan,
    *,
    post: Post,
    search: Search,
    policy: RetryPolicy,
    sleep: Sleep,
    monotonic: Callable[[], float] = time.monotonic,
    budget: RetryBudget | None = None,
    window: ReconcileWindow | None = None,
    memory: CreateMemory | None = None,
    report: Report | None = None,
    write_first: bool = False,
) -> CreateResult[Patient]:
    """Run one Patient create: search first, POST, reconcile after every ambiguous failure.

    ``post()`` sends the POST once (a Response, or raises); ``search(system, value)``
    lists the Patients with that identifier. At most ``policy.max_attempts`` POSTs are
    sent, and every wait fits in ``budget`` (default: ``policy.start(monotonic)``). When
    all failed ambiguously and none left a record, the last error is raised (nothing was
    created as far as the last search could tell). When a reconciling search fails, or a
    newborn's window (``window``) is cut short by the budget,
    :class:`CreateOutcomeUnknown` is raised; when a search finds several matching
    records, :class:`AmbiguousMatchError`. ``memory`` (one per client) keeps the newborns
    created and the outcomes left unknown; ``report(ok)`` hears, for the circuit breaker,
    whether a write that failed was found after all (True) or not (False).
    ``write_first`` sends a NIK's POST without searching first (the server keeps the NIK
    unique); a newborn is always searched for first.
    """
    rules = PatientIdentity(window or ReconcileWindow())

    async def look(identity: Identity) -> list[Patient]:
        return await search(identity.system, identity.value)

    async def write() -> Created[Patient]:
        try:
            response = await post()
        except APIError as exc:
            if exc.status == 412 and plan.conditional:
                raise await _several_match(plan, rules, look, exc) from exc
            raise
        return decode_create_answer(
            response.status, response.body, response.headers, conditional=plan.conditional
        )

    outcome = await run_create(
        plan,
        rules,
        post=write,
        search=look,
        budget=budget or policy.start(monotonic),
        sleep=sleep,
        memory=memory,
        report=report,
        write_first=write_first,
    )
    return CreateResult(id=outcome.id, created=outcome.created, resource=outcome.resource)


async def _several_match(
    plan: CreatePlan,
    rules: PatientIdentity,
    look: Callable[[Identity], Awaitable[list[Patient]]],
    refusal: APIError,
) -> SatuSehatError:
    """A conditional create's 412 (several records match ``If-None-Exist``): the typed
    ambiguity error, naming the records a search lists (none is picked)."""
    try:
        found = await look(plan.identity)
    except SatuSehatError:
        found = []  # the server's 412 says enough; the ids are a courtesy
    ids = [p.id for p in found if p.id and rules.matches(p, plan.resource, plan.identity)]
    return rules.ambiguous(list(dict.fromkeys(ids)), plan.identity, None)
