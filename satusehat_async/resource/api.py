"""``client.fhir(Encounter)``: one API for every FHIR resource type, typed by its class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from satusehat_async.context import context_of
from satusehat_async.errors import ValidationError
from satusehat_async.http.options import RequestOptions
from satusehat_async.http.retry import RetryPolicy
from satusehat_async.idempotency import ReconcileWindow
from satusehat_async.resource.answers import CreateResult, decode_resource_answer
from satusehat_async.resource.create import CONTENT_TYPE, create_resource
from satusehat_async.resource.identity import IdentifierIdentity
from satusehat_async.resource.kinds import check_id, resource_class, resource_type_of
from satusehat_async.resource.local import check_organization, local_identifier
from satusehat_async.resource.pager import SearchResults
from satusehat_async.resource.patch import PATCH_CONTENT_TYPES, PatchOperation, validate_operations
from satusehat_async.resource.query import search_params
from satusehat_async.resource.strict import to_resource
from satusehat_async.resource.times import utc_resource

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext
    from satusehat_async.fhir import Identifier
    from satusehat_async.http.response import Response
    from satusehat_async.params import Params

__all__ = ["ResourceAPI"]

R = TypeVar("R", bound=msgspec.Struct)
_encoder = msgspec.json.Encoder(decimal_format="number")


class ResourceAPI(Generic[R]):
    """Read, search, create, update and patch one FHIR resource type (``client.fhir(Encounter)``).

    Args:
        context: the client's :class:`~satusehat_async.context.ResourceContext` (a client
            is accepted too).
        kind: the resource class (``satusehat_async.fhir.Encounter``, or any msgspec
            Struct tagged on ``resourceType``) or its name (``"Encounter"``).
        unique_identifiers: does the server keep the identifier a create is known by
            unique? None (default): local identifiers (``http://sys-ids.kemkes.go.id/...``,
            SATUSEHAT refuses their duplicates) are, others are not; not unique, an
            ambiguously failed write is looked for over ``window`` before it is re-sent.
        retry: bounds and backoff of :meth:`create` (default: the client's).
        window: see :class:`~satusehat_async.idempotency.ReconcileWindow`; also how long
            the record of a ``duplicate`` refusal is looked for (searches lag writes).
        sleep: replaces the client's sleep between a failed create and its reconciliation.
    """

    def __init__(
        self,
        context: ResourceContext | SatuSehatClient,
        kind: type[R] | str,
        *,
        unique_identifiers: bool | None = None,
        retry: RetryPolicy | None = None,
        window: ReconcileWindow | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry must be a RetryPolicy")
        if window is not None and not isinstance(window, ReconcileWindow):
            raise ValidationError("window must be a ReconcileWindow")
        self._context = context_of(context)
        self.cls: type[R] = resource_class(kind)
        """The resource class."""
        self.resource_type: str = resource_type_of(self.cls)
        """The FHIR type name (``"Encounter"``)."""
        self.policy: IdentifierIdentity[R] = IdentifierIdentity(
            self.resource_type, unique=unique_identifiers, window=window or ReconcileWindow()
        )
        self._retry, self._sleep = retry, sleep

    def __repr__(self) -> str:
        return f"ResourceAPI({self.resource_type}, {self.url!r})"

    @property
    def url(self) -> str:
        """The type's endpoint, ``{fhir_url}/{Type}``."""
        return f"{self._context.endpoints.fhir_url}/{self.resource_type}"

    @property
    def organization_id(self) -> str | None:
        """The client's organization (its local identifiers must name it)."""
        return self._context.organization_id

    def _decode(self, response: Response) -> R:
        return decode_resource_answer(
            self.cls, response.body, status=response.status, headers=response.headers
        )

    def _checked(self, resource: R | Mapping[str, Any]) -> R:
        # SATUSEHAT's time rules (UTC +00:00, nothing naive, nothing before 2014-06-03).
        checked: R = to_resource(self.cls, utc_resource(resource, self.resource_type))
        check_organization(checked, self.organization_id, self.resource_type)
        return checked

    def local_identifier(
        self, value: str, *, kind: str | None = None, use: str | None = None
    ) -> Identifier:
        """A local identifier of the client's organization for this type:
        ``http://sys-ids.kemkes.go.id/{kind}/{organization_id}`` (kind: the type in
        lowercase unless given). ValidationError when the client has no organization_id.
        """
        kind = kind or self.resource_type.lower()
        return local_identifier(kind, value, organization_id=self.organization_id, use=use)

    async def get(self, resource_id: str) -> R:
        """Read one resource (``GET {Type}/{id}``); :class:`NotFoundError` if there is none.

        A read withheld for consent (HTTP 200 with an OperationOutcome ``suppressed``)
        raises :class:`~satusehat_async.errors.ConsentError`.
        """
        url = f"{self.url}/{check_id(self.resource_type, resource_id)}"
        return self._decode(await self._context.send("GET", url))

    def search(
        self, params: Mapping[str, Any] | None = None, /, *, strict: bool = False, **keywords: Any
    ) -> SearchResults[R]:
        """Every resource matching the search, following ``next`` links (``async for``).

        Parameters are validated now (:func:`~satusehat_async.resource.query.search_params`):
        ``api.search(subject="Patient/P02478375538", date=["ge2024-07-01", "lt2024-08-01"])``.
        SATUSEHAT answers at most 100 matches with the true ``total`` and no ``next``
        link: the iterator's ``stats.incomplete`` then says so (and a WARNING is logged);
        ``strict=True`` raises :class:`IncompleteSearchError` instead of handing out the
        truncated last page. Narrow such searches (by encounter, by date range).
        """
        query: Params = search_params(params, **keywords)

        async def fetch(url: str, page_params: Params | None) -> Response:
            return await self._context.send("GET", url, params=page_params)

        return SearchResults(
            fetch,
            self.cls,
            url=self.url,
            base=self._context.endpoints.fhir_url,
            params=query,
            resource_type=self.resource_type,
            strict=strict,
        )

    async def create(self, resource: R | Mapping[str, Any]) -> CreateResult[R]:
        """Store a resource, exactly once, and return its id (``POST {Type}``).

        Idempotent for a resource with an identifier (a local one,
        ``http://sys-ids.kemkes.go.id/...``, preferred): searched for before sending and
        after any ambiguous failure before re-sending, sent with ``If-None-Exist``; a
        ``duplicate`` refusal returns the existing record. ``created`` is False where
        the record existed before this call.

        Raises:
            ValidationError: nothing was sent — a dict with keys that are not elements,
                a local identifier of another organization than the client's, a naive
                or pre-2014-06-03 time (others are sent as UTC ``+00:00``: :mod:`.times`).
            AmbiguousIdentifierError: several records carry the identifier.
            CreateOutcomeUnknown: a write failed ambiguously and its record could not be
                found (repeating the create is safe); for a resource without an
                identifier, :class:`UnverifiableCreateOutcome` (it is never re-sent).
        """
        checked = self._checked(resource)
        context = self._context
        return await create_resource(
            context,
            self.cls,
            checked,
            url=self.url,
            policy=self.policy,
            retry=self._retry or context.retry,
            sleep=self._sleep or context.sleep,
        )

    async def update(self, resource: R | Mapping[str, Any], *, resource_id: str | None = None) -> R:
        """Replace a stored resource (``PUT {Type}/{id}``, the id in the body); the result.

        A resource without an id, or with another id than ``resource_id`` (when given), is
        refused before sending (SATUSEHAT answers "id is required", or
        ``resource_mismatch`` when the path's id is not the body's).
        """
        checked = self._checked(resource)
        body_id = getattr(checked, "id", None)
        if body_id is None:
            raise ValidationError(
                f"update needs the {self.resource_type}'s id in the body (PUT "
                f"{self.resource_type}/{{id}}); nothing was sent"
            )
        if resource_id is not None and resource_id != body_id:
            raise ValidationError(
                f"{self.resource_type} id mismatch: update of {resource_id!r:.70} with a body "
                f"whose id is {body_id!r:.70}; nothing was sent"
            )
        url = f"{self.url}/{check_id(self.resource_type, body_id)}"
        response = await self._context.send(
            "PUT",
            url,
            content=_encoder.encode(checked),
            headers={"Content-Type": CONTENT_TYPE},
            options=RequestOptions(idempotent=True),
        )
        return self._decode(response) if response.body.strip() else checked

    async def patch(
        self,
        resource_id: str,
        operations: Iterable[PatchOperation | Mapping[str, Any]],
        *,
        content_type: str = "application/json-patch+json",
    ) -> R:
        """Apply JSON Patch ``replace`` operations (``PATCH {Type}/{id}``); the result.

        Operations are :func:`~satusehat_async.resource.patch.replace` results or plain dicts
        (anything but ``replace`` is refused before sending, as SATUSEHAT documents).
        ``content_type`` may be ``"application/json"`` (the documents' choice).
        """
        if content_type not in PATCH_CONTENT_TYPES:
            raise ValidationError(f"content_type must be one of {', '.join(PATCH_CONTENT_TYPES)}")
        checked = validate_operations(operations)
        url = f"{self.url}/{check_id(self.resource_type, resource_id)}"
        response = await self._context.send(
            "PATCH",
            url,
            content=_encoder.encode(checked),
            headers={"Content-Type": content_type},
            options=RequestOptions(idempotent=True),
        )
        return self._decode(response)
