"""Bundle transactions: :class:`Transaction` (built entry by entry) and :class:`TransactionResult`.

>>> from satusehat_async.fhir import Condition, Encounter, Transaction
>>> tx = Transaction()
>>> visit = tx.add(Encounter(status="arrived"))             # doctest: +SKIP
>>> tx.add(Condition(encounter=visit))                      # doctest: +SKIP
>>> result = await transaction(client, tx)                  # doctest: +SKIP

Each :meth:`Transaction.add` gives its entry a ``urn:uuid:`` fullUrl and returns the
:class:`~satusehat_async.fhir.Reference` other entries point at it with
(``Condition.encounter``, ``Encounter.diagnosis[].condition``, ``Observation.encounter``);
``request`` is ``POST {Type}`` (``PUT {Type}/{id}`` for a resource with an id, or
:meth:`Transaction.update`), with ``ifNoneExist`` from the entry's identifier. Resources
are checked as they are added: dicts strictly (unknown keys refused), and the time rules
(:mod:`.times`) applied. Sending (:mod:`.txsend`) is idempotent by those identifiers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.errors import APIError, TransactionError, ValidationError
from satusehat_async.resource.answers import answer_error, id_from_location
from satusehat_async.resource.identity import create_identifier
from satusehat_async.resource.kinds import check_id, fhir_id, resource_class, resource_type_of
from satusehat_async.resource.strict import to_resource
from satusehat_async.resource.times import utc_resource

if TYPE_CHECKING:
    from satusehat_async.fhir import Bundle, Reference

__all__ = ["Transaction", "TransactionEntry", "TransactionEntryResult", "TransactionResult"]

_encoder = msgspec.json.Encoder(decimal_format="number")
_URN = "urn:uuid:"
_ENTRY_EXPRESSION = re.compile(r"^Bundle\.entry\[(\d+)\]")


@dataclass
class TransactionEntry:
    """One entry of a :class:`Transaction`, as added.

    Attributes:
        index: its position in the transaction (the results line up with it).
        resource: the resource as it will be sent (a model: checked, times in UTC).
        resource_type: its FHIR type.
        method: ``POST`` or ``PUT``.
        url: ``{Type}`` or ``{Type}/{id}``.
        full_url: ``urn:uuid:{uuid4}`` for a POST (None for a PUT, which others reach by
            ``{Type}/{id}``).
        identifier: the ``(system, value)`` it is known by (a POST), or None.
        source: the object the caller added (model or dict).
    """

    index: int
    resource: Any
    resource_type: str
    method: str
    url: str
    full_url: str | None
    identifier: tuple[str, str] | None
    source: Any = None

    @property
    def reference(self) -> str:
        """What other entries write to point at this one."""
        return self.full_url or self.url

    @property
    def if_none_exist(self) -> str | None:
        """``identifier=system|value`` for a POST with an identifier."""
        if self.method != "POST" or self.identifier is None:
            return None
        return f"identifier={self.identifier[0]}|{self.identifier[1]}"


def _checked(resource: Any) -> tuple[Any, str]:
    """A resource model (dicts decoded strictly) with the time rules applied, and its type."""
    if isinstance(resource, msgspec.Struct):
        cls: type[Any] = type(resource)
    elif isinstance(resource, Mapping):
        kind = resource.get("resourceType")
        if not isinstance(kind, str):
            raise ValidationError("a transaction entry's dict needs its resourceType")
        cls = resource_class(kind)
    else:
        raise ValidationError(f"expected a FHIR resource or dict, not {type(resource).__name__}")
    resource_type = resource_type_of(cls)
    if resource_type == "Bundle":
        raise ValidationError("a transaction entry cannot be a Bundle")
    return to_resource(cls, utc_resource(resource, resource_type)), resource_type


class Transaction:
    """A FHIR Bundle transaction, built entry by entry (all or nothing on the server).

    ``ref = tx.add(resource)`` returns the Reference to use in other entries;
    ``tx.bundle()`` is the Bundle; ``satusehat_async.resource.transaction(client, tx)`` sends it.
    """

    def __init__(self) -> None:
        self._entries: list[TransactionEntry] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{e.method} {e.resource_type}" for e in self._entries[:6])
        more = ", ..." if len(self._entries) > 6 else ""
        return f"Transaction({len(self._entries)} entries: {kinds}{more})"

    @property
    def entries(self) -> tuple[TransactionEntry, ...]:
        """The entries, in the order added."""
        return tuple(self._entries)

    def add(self, resource: Any, *, full_url: str | None = None) -> Reference:
        """Add a resource (model or dict); the Reference other entries point at it with.

        Without an id it is created (``POST {Type}``, a new ``urn:uuid:`` fullUrl unless
        ``full_url`` is given); with one it replaces the stored resource (``PUT``).
        """
        checked, resource_type = _checked(resource)
        if getattr(checked, "id", None) is not None:
            return self._put(checked, resource_type, resource)
        if full_url is None:
            full_url = f"{_URN}{uuid.uuid4()}"
        elif not isinstance(full_url, str) or not full_url.startswith(_URN):
            raise ValidationError("a created entry's fullUrl is urn:uuid:{uuid}")
        if any(e.full_url == full_url for e in self._entries):
            raise ValidationError(f"fullUrl {full_url} is in this transaction already")
        entry = TransactionEntry(
            len(self._entries),
            checked,
            resource_type,
            "POST",
            resource_type,
            full_url,
            create_identifier(checked),
            resource,
        )
        self._entries.append(entry)
        return _reference(entry.reference)

    def update(self, resource: Any) -> Reference:
        """Add a replacement of a stored resource (``PUT {Type}/{id}``, the id in the body).

        A resource without an id is refused (SATUSEHAT answers "id is required").
        """
        checked, resource_type = _checked(resource)
        if getattr(checked, "id", None) is None:
            raise ValidationError(
                f"update needs the {resource_type}'s id in the body (PUT {resource_type}/{{id}})"
            )
        return self._put(checked, resource_type, resource)

    def _put(self, checked: Any, resource_type: str, source: Any) -> Reference:
        url = f"{resource_type}/{check_id(resource_type, checked.id)}"
        if any(e.url == url for e in self._entries):
            raise ValidationError(f"{url} is updated twice in this transaction")
        entry = TransactionEntry(
            len(self._entries), checked, resource_type, "PUT", url, None, None, source
        )
        self._entries.append(entry)
        return _reference(url)

    def bundle(self) -> Bundle:
        """The Bundle (``type: transaction``) of every entry, as added."""
        from satusehat_async.fhir import Bundle, BundleEntry, BundleEntryRequest

        entries = [
            BundleEntry(
                full_url=e.full_url,
                resource=e.resource,
                request=BundleEntryRequest(
                    method=e.method, url=e.url, if_none_exist=e.if_none_exist
                ),
            )
            for e in self._entries
        ]
        return Bundle(type="transaction", entry=entries)

    @classmethod
    def from_bundle(cls, bundle: Bundle | Mapping[str, Any]) -> Transaction:
        """A transaction of a Bundle's entries (model or dict); fullUrls are kept."""
        plain = msgspec.json.decode(_encoder.encode(bundle))
        if not isinstance(plain, dict) or plain.get("resourceType") != "Bundle":
            raise ValidationError("expected a FHIR Bundle")
        if plain.get("type") != "transaction":
            raise ValidationError(f"expected a transaction Bundle, not type {plain.get('type')!r}")
        tx = cls()
        for index, entry in enumerate(plain.get("entry") or ()):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                raise ValidationError(f"Bundle.entry[{index}] has no resource")
            method = (entry.get("request") or {}).get("method", "POST")
            if method == "PUT":
                tx.update(entry["resource"])
            elif method == "POST":
                tx.add(entry["resource"], full_url=entry.get("fullUrl"))
            else:
                raise ValidationError(f"Bundle.entry[{index}].request.method {method!r:.10}")
        return tx


def _reference(target: str) -> Reference:
    from satusehat_async.fhir import Reference

    return Reference(reference=target)


@dataclass(frozen=True)
class TransactionEntryResult:
    """What became of one entry (in the order added).

    Attributes:
        index: the entry's index in the transaction.
        resource_type: its type.
        id: the stored record's id.
        status: the server's ``response.status`` (``"201 Created"``, ``"201"``, ``"200 OK"``);
            ``"200 OK (existing)"`` for an entry found stored before it was sent.
        created: True where this call stored the record (see :mod:`.txsend`).
        location: ``.../{Type}/{id}/_history/{vid}`` as the server gave it (or None).
        outcome: the entry's OperationOutcome where the server gave one.
    """

    index: int
    resource_type: str
    id: str
    status: str
    created: bool
    location: str | None = None
    outcome: dict[str, Any] | None = None


@dataclass(frozen=True)
class TransactionResult:
    """What :func:`~satusehat_async.resource.transaction` returns: a result per entry.

    ``attempts`` is the number of Bundles sent (0 when every entry existed already).
    """

    entries: tuple[TransactionEntryResult, ...]
    attempts: int = 1
    raw: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def created(self) -> bool:
        """True where this call stored every entry."""
        return all(e.created for e in self.entries)

    def ids(self) -> list[str]:
        """The stored ids, in the order added."""
        return [e.id for e in self.entries]


def _status_code(status: str) -> int | None:
    head = status.strip().split(" ", 1)[0]
    return int(head) if head.isdigit() else None


def decode_transaction_response(
    sent: Sequence[TransactionEntry], status: int, body: bytes, headers: Mapping[str, str]
) -> tuple[list[TransactionEntryResult], dict[str, Any]]:
    """Per-entry results of a ``transaction-response`` to the entries ``sent`` (in order).

    Reads SATUSEHAT's form (only ``response``, with ``resourceType``/``resourceID`` and an
    absolute ``.../_history/{vid}`` location) and the standard one (``Patient/{id}/...``
    locations, ``"201"``, maybe the ``resource``). An :class:`APIError` when it is not one.
    """
    try:
        plain = msgspec.json.decode(body) if body.strip() else None
    except msgspec.DecodeError:
        plain = None
    entries = plain.get("entry") if isinstance(plain, dict) else None
    if not isinstance(plain, dict) or plain.get("resourceType") != "Bundle":
        raise answer_error("the transaction answer is not a Bundle", status, plain, headers)
    entries = entries if isinstance(entries, list) else []
    if len(entries) != len(sent):
        raise answer_error(
            f"the transaction answer has {len(entries)} entries for {len(sent)} sent",
            status,
            plain,
            headers,
        )
    results = [
        _entry_result(e, answer, status, plain, headers)
        for e, answer in zip(sent, entries, strict=True)
    ]
    return results, plain


def _entry_result(
    entry: TransactionEntry, answer: Any, status: int, plain: Any, headers: Mapping[str, str]
) -> TransactionEntryResult:
    answer = answer if isinstance(answer, dict) else {}
    response = answer.get("response") if isinstance(answer.get("response"), dict) else {}
    resource = answer.get("resource") if isinstance(answer.get("resource"), dict) else {}
    kind = response.get("resourceType") or resource.get("resourceType") or entry.resource_type
    location = response.get("location") if isinstance(response.get("location"), str) else None
    found = (
        fhir_id(response.get("resourceID"))
        or fhir_id(resource.get("id"))
        or id_from_location(str(kind), location)
    )
    if found is None or kind != entry.resource_type:
        raise answer_error(
            f"the transaction answer's entry {entry.index} names no {entry.resource_type} id",
            status,
            plain,
            headers,
        )
    text = str(response.get("status") or "")
    code = _status_code(text)
    outcome = response.get("outcome")
    return TransactionEntryResult(
        index=entry.index,
        resource_type=entry.resource_type,
        id=found,
        status=text,
        created=code == 201 if code is not None else entry.method == "POST",
        location=location,
        outcome=outcome if isinstance(outcome, dict) else None,
    )


def entry_error(error: APIError, sent: Sequence[TransactionEntry]) -> TransactionError:
    """``error`` (a refusal of the Bundle) naming the caller's entry its expression points at."""
    outcome = error.operation_outcome or {}
    for issue in outcome.get("issue") or ():
        expressions = issue.get("expression") if isinstance(issue, dict) else None
        for expression in expressions if isinstance(expressions, list) else ():
            found = _ENTRY_EXPRESSION.match(str(expression))
            if found and int(found.group(1)) < len(sent):
                entry = sent[int(found.group(1))]
                mapped = f"Bundle.entry[{entry.index}]{str(expression)[found.end() :]}"
                return TransactionError(
                    error,
                    entry_index=entry.index,
                    resource_type=entry.resource_type,
                    entry=entry.source,
                    expression=mapped,
                )
    return TransactionError(error)
