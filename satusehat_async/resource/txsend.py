"""Sending a Bundle transaction exactly once per entry: :func:`send_transaction`.

One Bundle is one write, and not an idempotent one. What is guaranteed:

- **Before sending**, every created entry with an identifier (a local one,
  ``http://sys-ids.kemkes.go.id/...``, preferred) is searched for
  (``identifier=system|value``). One that exists is not created again: it is left out of
  the Bundle, references to its ``urn:uuid:`` are rewritten to ``{Type}/{id}``, and its
  result is that record with ``created=False`` (status ``"200 OK"``). Re-submitting the
  same visit therefore stores nothing and returns the same ids.
- **After an ambiguous failure** (timeout, dropped answer, 5xx), before any re-send, the
  entries sent are searched for again (identifiers SATUSEHAT keeps unique: once, after
  the backoff; others: over the :class:`~satusehat_async.idempotency.ReconcileWindow`):
  all found: the Bundle was stored, returned with ``created=True`` (taken to be this
  call's: the same entries sent by another client at that moment cannot be told apart);
  none found: it is sent again within the one retry budget; some found: someone else
  stored those (all or nothing), returned with ``created=False``, and the rest is sent.
- A ``duplicate`` refusal (someone stored an entry since the search, or a search lagged)
  stored nothing: the entries are looked for over the window and the rest is sent again.
- A transaction with a created entry that carries **no identifier** is sent once and never
  again after an ambiguous failure: :class:`UnverifiableTransactionOutcome`.
- Every wait and request of one call fits in one :class:`~satusehat_async.http.retry.RetryBudget`;
  when it ends with the outcome unknown: :class:`CreateOutcomeUnknown` (a repeat is safe:
  it searches first). One client's concurrent calls for the same identifiers are serialized.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import msgspec

from satusehat_async.context import context_of
from satusehat_async.errors import (
    APIError,
    CreateOutcomeUnknown,
    SatuSehatError,
    UnverifiableTransactionOutcome,
    ValidationError,
)
from satusehat_async.http.options import RequestOptions
from satusehat_async.http.retry import RetryPolicy, may_retry
from satusehat_async.idempotency import (
    CreatePlan,
    Identity,
    ReconcileWindow,
    pick,
    request_policy,
    watch_window,
    worth_reconciling,
)
from satusehat_async.idempotency.budget import backoff, clock_now
from satusehat_async.resource.answers import issue_codes
from satusehat_async.resource.identity import IdentifierIdentity
from satusehat_async.resource.pager import SearchResults
from satusehat_async.resource.transaction import (
    Transaction,
    TransactionEntry,
    TransactionEntryResult,
    TransactionResult,
    decode_transaction_response,
    entry_error,
)
from satusehat_async.resource.txcheck import check_transaction, rewrite_references

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response
    from satusehat_async.http.retry import RetryBudget
    from satusehat_async.params import Params

__all__ = ["send_transaction", "transaction"]

Sleep = Callable[[float], Awaitable[None]]
_encoder, _EXISTING = msgspec.json.Encoder(decimal_format="number"), "200 OK"


class _Run:
    """The state of one :func:`send_transaction` call."""

    def __init__(
        self,
        context: ResourceContext,
        tx: Transaction,
        plains: list[Any],
        budget: RetryBudget,
        sleep: Sleep,
        window: ReconcileWindow,
        unique: bool | None,
    ) -> None:
        self.context, self.tx, self.plains = context, tx, plains
        self.budget, self.sleep, self.window = budget, sleep, window
        self.retry: RetryPolicy = budget.policy
        self.policies: dict[int, IdentifierIdentity[Any]] = {}
        self.identities: dict[int, Identity] = {}
        for e in tx.entries:
            if e.method == "POST" and e.identifier is not None:
                policy = IdentifierIdentity[Any](e.resource_type, unique=unique, window=window)
                self.policies[e.index] = policy
                self.identities[e.index] = policy.identify(e.resource)
        self.unidentified = [
            e.index for e in tx.entries if e.method == "POST" and e.index not in self.identities
        ]
        self.results: dict[int, TransactionEntryResult] = {}
        self.attempts, self.raw = 0, cast("dict[str, Any] | None", None)
        self.ambiguous = False  # may an earlier attempt of this call have committed?
        self.url = context.endpoints.fhir_url

    def lock_keys(self) -> list[str]:
        entries = self.tx.entries
        return sorted({f"{entries[i].resource_type} {d.token}" for i, d in self.identities.items()})

    def pending(self) -> list[TransactionEntry]:
        return [e for e in self.tx.entries if e.index not in self.results]

    def _searchable(self) -> list[int]:
        return [e.index for e in self.pending() if e.index in self.identities]

    async def _fetch(self, url: str, params: Params | None) -> Response:
        options = RequestOptions(retry=request_policy(self.budget))
        return await self.context.send("GET", url, params=params, options=options)

    async def _search_one(self, index: int) -> str | None:
        entry, identity = self.tx.entries[index], self.identities[index]
        results = SearchResults(
            self._fetch,
            type(entry.resource),
            url=f"{self.url}/{entry.resource_type}",
            base=self.url,
            params={"identifier": identity.token},
            resource_type=entry.resource_type,
        )
        plan = CreatePlan(entry.resource, b"", identity, {})
        found = pick(self.policies[index], plan, await results.all())
        return getattr(found, "id", None) if found is not None else None

    async def search(self, indexes: list[int]) -> dict[int, str]:
        """The stored id of each entry a search finds; the searches run concurrently."""
        tasks = [asyncio.ensure_future(self._search_one(index)) for index in indexes]
        try:
            records = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return {i: r for i, r in zip(indexes, records, strict=True) if r is not None}

    def settle(self, found: Mapping[int, str], *, created: bool) -> None:
        for index, record in found.items():
            entry = self.tx.entries[index]
            status = "201 Created" if created else _EXISTING
            self.results[index] = TransactionEntryResult(
                index, entry.resource_type, record, status, created
            )

    def body(self, pending: list[TransactionEntry]) -> bytes:
        targets = {
            e.full_url: f"{e.resource_type}/{self.results[e.index].id}"
            for e in self.tx.entries
            if e.full_url and e.index in self.results
        }
        entries = []
        for e in pending:
            request: dict[str, str] = {"method": e.method, "url": e.url}
            if e.if_none_exist:
                request["ifNoneExist"] = e.if_none_exist
            item: dict[str, Any] = {"resource": rewrite_references(self.plains[e.index], targets)}
            if e.full_url:
                item["fullUrl"] = e.full_url
            item["request"] = request
            entries.append(item)
        return _encoder.encode({"resourceType": "Bundle", "type": "transaction", "entry": entries})

    async def post(self, pending: list[TransactionEntry]) -> None:
        """Send the Bundle of ``pending`` once; its results settle those entries."""
        self.attempts += 1
        options = RequestOptions(
            idempotent=False, retry=request_policy(self.budget), count_failure=False
        )
        headers = {"Content-Type": "application/json"}
        response = await self.context.send(
            "POST", self.url, content=self.body(pending), headers=headers, options=options
        )
        results, raw = decode_transaction_response(
            pending, response.status, response.body, response.headers
        )
        self.raw = raw
        for result in results:
            if self.ambiguous and not result.created and result.index in self.identities:
                # found by the server (If-None-Exist) after our search found none: an
                # earlier attempt of this very call stored it
                result = TransactionEntryResult(**{**result.__dict__, "created": True})
            self.results[result.index] = result

    def result(self) -> TransactionResult:
        entries = tuple(self.results[e.index] for e in self.tx.entries)
        return TransactionResult(entries, attempts=self.attempts, raw=self.raw)

    async def run(self) -> TransactionResult:
        self.settle(await self.search(self._searchable()), created=False)
        while True:
            pending = self.pending()
            if not pending:
                return self.result()
            try:
                await self.post(pending)
            except SatuSehatError as exc:
                await self._failed(exc, pending)  # raises, or settles entries: send the rest
            else:
                return self.result()

    async def _failed(self, error: SatuSehatError, sent: list[TransactionEntry]) -> None:
        """One failed Bundle: raise, or settle what is stored so the rest can be sent."""
        if isinstance(error, APIError) and error.status < 500 and "duplicate" in issue_codes(error):
            if not self._searchable():
                raise entry_error(error, sent) from error
            await self._after_duplicate(error, sent)
            return
        if not worth_reconciling(error):
            if error.host_unhealthy:
                self.context.record_outcome(self.url, ok=False)
            raise entry_error(error, sent) if isinstance(error, APIError) else error
        if self.unidentified:
            raise UnverifiableTransactionOutcome(
                last_error=error, unidentified=self.unidentified
            ) from error
        self.ambiguous = True
        await self._after_ambiguous(error)

    async def _after_ambiguous(self, error: SatuSehatError) -> None:
        failed_at = clock_now(self.budget)
        resend = (
            self.budget.next_wait(error)
            if may_retry(error, idempotent=True, policy=self.retry)
            else None
        )
        wanted = self._searchable()
        unique = all(self.identities[i].unique for i in wanted)
        found, complete, cause, waited = await self._look(error, wanted, resend, failed_at, unique)
        if wanted and len(found) == len(wanted):
            self.context.record_outcome(self.url, ok=True)  # the host did the write
            self.settle(found, created=True)  # all or nothing: all there, so ours
            return
        if error.host_unhealthy:
            self.context.record_outcome(self.url, ok=False)
        if not complete:
            unknown = CreateOutcomeUnknown(
                last_error=error, cause=cause, attempts=self.attempts, resource_type="Bundle"
            )
            raise unknown from cause
        # Partly there: not our write (it is all or nothing), someone else's.
        self.settle(found, created=False)
        if resend is None:
            # Out of attempts or time: not found, but a search may lag a stored write.
            unknown = CreateOutcomeUnknown(
                last_error=error, attempts=self.attempts, resource_type="Bundle"
            )
            raise unknown from error
        pause = resend - max(clock_now(self.budget) - failed_at, waited)
        if pause > self.budget.remaining():
            raise error
        if pause > 0:
            await self.sleep(pause)

    async def _look(
        self,
        error: SatuSehatError,
        wanted: list[int],
        resend: float | None,
        failed_at: float,
        unique: bool,
    ) -> tuple[dict[int, str], bool, SatuSehatError | None, float]:
        """Search the entries sent after an ambiguous failure: (found, complete, error, waited).

        Unique identifiers: once, after the wait before the re-send (a re-send too early is
        refused ``duplicate``, which is looked for over the window). Others: over the window.
        """
        searched_at = None
        if unique:
            pause = (
                resend
                if resend is not None
                else min(backoff(self.retry, self.attempts), self.budget.remaining())
            )
            if pause > 0:
                await self.sleep(pause)
            try:
                found = await self.search(wanted)
            except SatuSehatError as exc:
                return {}, False, exc, pause
            if len(found) in (0, len(wanted)):
                return found, True, None, pause
            searched_at = failed_at + pause  # partly visible: the rest may lag; watch on
        return await self._watch(wanted, failed_at, len(wanted), searched_at)

    async def _watch(
        self, wanted: list[int], failed_at: float, enough: int, searched_at: float | None = None
    ) -> tuple[dict[int, str], bool, SatuSehatError | None, float]:
        """Search over the window until ``enough`` of ``wanted`` are found (all: one
        write's entries appear together, give or take the search lag)."""
        latest: dict[int, str] = {}

        async def look() -> list[dict[int, str]]:
            latest.update(await self.search([i for i in wanted if i not in latest]))
            return [dict(latest)]

        outcome = await watch_window(
            look,
            lambda results: results[0] if len(results[0]) >= enough else None,
            failed_at=failed_at,
            offsets=self.window.offsets(self.retry),
            budget=self.budget,
            sleep=self.sleep,
            searched_at=searched_at,
        )
        found = outcome.found if outcome.found is not None else latest
        return found, outcome.complete or outcome.found is not None, outcome.error, outcome.waited

    async def _after_duplicate(self, refusal: APIError, sent: list[TransactionEntry]) -> None:
        """A ``duplicate`` refusal stored nothing; find the entries it speaks of (searches
        lag writes: over the window), settle them, and let the rest be sent."""
        wanted = self._searchable()
        failed_at = clock_now(self.budget)
        found, _, _, _ = await self._watch(wanted, failed_at, len(wanted))
        if not found:
            raise entry_error(refusal, sent) from refusal  # no search shows it
        self.settle(found, created=self.ambiguous and len(found) == len(wanted))


async def send_transaction(
    context: ResourceContext,
    tx: Transaction,
    *,
    retry: RetryPolicy,
    sleep: Sleep,
    window: ReconcileWindow | None = None,
    unique_identifiers: bool | None = None,
) -> TransactionResult:
    """Send ``tx`` to the FHIR base (``POST {fhir_url}``) as described in the module.

    ``unique_identifiers``: as :class:`~satusehat_async.resource.ResourceAPI`'s (None: local
    identifiers are kept unique by the server, others are not).
    """
    plains = check_transaction(tx, context.organization_id)
    run = _Run(
        context,
        tx,
        plains,
        retry.start(context.monotonic),
        sleep,
        window or ReconcileWindow(),
        unique_identifiers,
    )
    async with contextlib.AsyncExitStack() as stack:
        for key in run.lock_keys():  # sorted: two visits sharing entries cannot deadlock
            await stack.enter_async_context(context.locks.hold(key))
        return await run.run()


async def transaction(
    client: ResourceContext | SatuSehatClient,
    tx: Transaction | Mapping[str, Any],
    *,
    retry: RetryPolicy | None = None,
    sleep: Sleep | None = None,
    window: ReconcileWindow | None = None,
    unique_identifiers: bool | None = None,
) -> TransactionResult:
    """Send a :class:`Transaction` or a transaction Bundle (model or dict) with ``client`` (a
    client or its context) once per entry, as the module says; results line up with entries.

    Raises:
        ValidationError: nothing was sent — a dict key that is no element, a naive or
            pre-2014-06-03 time, another organization's local identifier, a reference to
            a ``urn:uuid:`` that is no entry, an update without an id.
        TransactionError: the server refused the Bundle (nothing stored), naming the
            caller's entry where its OperationOutcome points at one.
        UnverifiableTransactionOutcome: it failed ambiguously and has created entries
            without an identifier: not sent again.
        CreateOutcomeUnknown: it failed ambiguously and the searches that should tell
            whether it was stored failed, or the budget ended first (repeating is safe).
    """
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValidationError("retry must be a RetryPolicy")
    context = context_of(client)
    if not isinstance(tx, Transaction):
        tx = Transaction.from_bundle(tx)
    return await send_transaction(
        context,
        tx,
        retry=retry or context.retry,
        sleep=sleep or context.sleep,
        window=window,
        unique_identifiers=unique_identifiers,
    )
