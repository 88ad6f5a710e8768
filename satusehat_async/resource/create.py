"""The duplicate-safe create of any resource, on the generic engine.

A resource with an identifier is created through
:func:`~satusehat_async.idempotency.run_create` with an :class:`IdentifierIdentity`:
searched for by ``identifier=system|value`` before sending, sent with ``If-None-Exist``,
and after an ambiguous failure (timeout, dropped answer, 5xx) searched for again before
any re-send. SATUSEHAT refuses a second record with a local identifier (``duplicate``,
without the record's id): the record is then looked up (over the window, since searches
lag writes) and returned with ``created=False``.

A resource without an identifier is sent once; after an ambiguous failure it is never
sent again (:class:`UnverifiableCreateOutcome`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from satusehat_async.errors import APIError, SatuSehatError
from satusehat_async.http.options import RequestOptions
from satusehat_async.idempotency import (
    Created,
    CreatePlan,
    Identity,
    memory_key,
    pick,
    request_policy,
    run_create,
    watch_window,
    worth_reconciling,
    write_headers,
)
from satusehat_async.idempotency.budget import clock_now
from satusehat_async.resource.answers import CreateResult, decode_create, issue_codes
from satusehat_async.resource.errors import UnverifiableCreateOutcome
from satusehat_async.resource.identity import IdentifierIdentity, create_identifier
from satusehat_async.resource.pager import SearchResults

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response
    from satusehat_async.http.retry import RetryBudget, RetryPolicy
    from satusehat_async.params import Params

__all__ = ["Creation", "create_resource"]

R = TypeVar("R")
CONTENT_TYPE = "application/json"
_encoder = msgspec.json.Encoder(decimal_format="number")


@dataclass
class Creation(Generic[R]):
    """One logical create: where, of what, with which policy, budget and sleep."""

    context: ResourceContext
    cls: type[R]
    url: str
    policy: IdentifierIdentity[R]
    budget: RetryBudget
    sleep: Callable[[float], Awaitable[None]]

    async def _send(self, url: str, params: Params | None) -> Response:
        options = RequestOptions(retry=request_policy(self.budget))
        return await self.context.send("GET", url, params=params, options=options)

    async def search(self, identity: Identity) -> list[R]:
        """Every record with the identity's identifier (all pages)."""
        results = SearchResults(
            self._send,
            self.cls,
            url=self.url,
            base=self.context.endpoints.fhir_url,
            params={"identifier": identity.token},
            resource_type=self.policy.resource_type,
        )
        return await results.all()

    async def post(self, plan: CreatePlan[R]) -> Created[R]:
        """Send the write once; a ``duplicate`` refusal becomes the existing record."""
        # A failure is reported to the breaker only once it is known that the write did
        # not happen after all (the engine's report): a reconciled one is no failure.
        options = RequestOptions(
            idempotent=False, retry=request_policy(self.budget), count_failure=False
        )
        try:
            response = await self.context.send(
                "POST", self.url, content=plan.body, headers=plan.headers, options=options
            )
        except APIError as exc:
            if exc.status < 500 and "duplicate" in issue_codes(exc):
                return await self._existing(plan, exc)
            raise
        return decode_create(
            self.cls, response.status, response.body, response.headers, conditional=plan.conditional
        )

    async def _existing(self, plan: CreatePlan[R], refusal: APIError) -> Created[R]:
        """The record a ``duplicate`` refusal speaks of, looked for over the window."""
        choose = functools.partial(pick, self.policy, plan)
        found = choose(await self.search(plan.identity))
        if found is None:
            outcome = await watch_window(
                lambda: self.search(plan.identity),
                choose,
                failed_at=clock_now(self.budget),
                offsets=self.policy.window.offsets(self.budget.policy),
                budget=self.budget,
                sleep=self.sleep,
            )
            found = outcome.found
        if found is None:
            raise refusal  # the server says it exists; no search shows it
        return Created(id=self.policy.id_of(found) or "", created=False, resource=found)

    def report(self, ok: bool) -> None:
        """Tell the breaker whether a failed write was found after all."""
        self.context.record_outcome(self.url, ok=ok)


async def create_resource(
    context: ResourceContext,
    cls: type[R],
    resource: R,
    *,
    url: str,
    policy: IdentifierIdentity[R],
    retry: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
) -> CreateResult[R]:
    """Create ``resource`` (already checked) at ``url``: idempotent by its identifier."""
    body = _encoder.encode(resource)
    if create_identifier(resource) is None:
        return await _create_once(context, cls, url, body, policy.resource_type)
    identity = policy.identify(resource)
    plan = CreatePlan(resource, body, identity, write_headers(identity, CONTENT_TYPE))
    creation = Creation(context, cls, url, policy, retry.start(context.monotonic), sleep)
    async with context.locks.hold(memory_key(policy, plan)):
        outcome = await run_create(
            plan,
            policy,
            post=functools.partial(creation.post, plan),
            search=creation.search,
            budget=creation.budget,
            sleep=sleep,
            memory=context.creates,
            report=creation.report,
        )
    return CreateResult(id=outcome.id, created=outcome.created, resource=outcome.resource)


async def _create_once(
    context: ResourceContext, cls: type[R], url: str, body: bytes, resource_type: str
) -> CreateResult[R]:
    """POST a resource without an identifier once: never re-sent after an ambiguous failure."""
    options = RequestOptions(idempotent=False)
    headers = {"Content-Type": CONTENT_TYPE}
    try:
        response = await context.send("POST", url, content=body, headers=headers, options=options)
        created = decode_create(cls, response.status, response.body, response.headers)
    except SatuSehatError as exc:
        if worth_reconciling(exc):
            raise UnverifiableCreateOutcome(last_error=exc, resource_type=resource_type) from exc
        raise
    return CreateResult(id=created.id, created=created.created, resource=created.resource)
