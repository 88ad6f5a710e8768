"""Pure decoding of FHIR answers for any resource type: reads, searchsets, creates.

No I/O: each function takes the status, headers and raw body. A read or a write answer
must be the resource asked for (anything else is an :class:`APIError`); a searchset's
entries are decoded one by one into the resource class (so a search of Encounters loads
the Encounter module only), skipping ``search.mode`` ``include`` and ``outcome`` entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from satusehat_async.errors import APIError
from satusehat_async.idempotency import Created
from satusehat_async.redact import redact_niks
from satusehat_async.resource.kinds import fhir_id, resource_type_of

__all__ = [
    "BundleEntry",
    "BundleLink",
    "BundleSearch",
    "CreateResult",
    "SearchBundle",
    "answer_error",
    "decode_create",
    "decode_resource_answer",
    "decode_searchset",
    "id_from_location",
    "issue_codes",
]

R = TypeVar("R")
_any_decoder = msgspec.json.Decoder()


@dataclass(frozen=True)
class CreateResult(Created[R], Generic[R]):
    """What :meth:`ResourceAPI.create <satusehat_async.resource.ResourceAPI.create>` ended in.

    Attributes:
        id: the stored record's id.
        created: False where the record existed before this call (found by the search
            made before sending, a conditional-create match, or the server's
            ``duplicate`` refusal of its identifier).
        resource: the record as the server sent it or a search found it (None when the
            answer carried no body).
    """


class BundleLink(msgspec.Struct, kw_only=True):
    """A Bundle link: ``relation`` (``self``, ``next`` ...) and its ``url``."""

    relation: str = ""
    url: str = ""


class BundleSearch(msgspec.Struct, kw_only=True):
    """A search Bundle entry's ``search``: its ``mode`` (``match``, ``include``, ``outcome``)."""

    mode: str | None = None


class BundleEntry(msgspec.Struct, kw_only=True, rename="camel"):
    """A search Bundle entry; ``resource`` is kept raw until its type is known."""

    full_url: str | None = None
    resource: msgspec.Raw = msgspec.Raw()
    search: BundleSearch | None = None


class SearchBundle(msgspec.Struct, kw_only=True, tag_field="resourceType", tag="Bundle"):
    """The parts of a ``searchset`` Bundle the pager reads (entries kept raw; no match:
    ``total: 0`` and no ``entry``)."""

    type: str | None = None
    total: int | None = None
    link: list[BundleLink] | None = None
    entry: list[BundleEntry] | None = None

    def next_url(self) -> str | None:
        """The ``next`` page's URL, if the server paged the answer."""
        for link in self.link or ():
            if link.relation == "next" and link.url:
                return link.url
        return None


class _Head(msgspec.Struct):
    resourceType: str = ""  # the wire name


_head_decoder = msgspec.json.Decoder(_Head)
_bundle_decoder = msgspec.json.Decoder(SearchBundle)


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    return decoder


def answer_error(
    message: str,
    status: int,
    body: Any,
    headers: Mapping[str, str],
    kind: type[APIError] = APIError,
) -> APIError:
    """The error for an answer that is not what was asked (NIKs in ``message`` masked)."""
    return kind(
        redact_niks(message), status=status, body=body, request_id=headers.get("X-Request-Id")
    )


def _parsed(body: bytes) -> Any:
    try:
        return _any_decoder.decode(body) if body.strip() else None
    except (msgspec.DecodeError, RecursionError):
        return body.decode("utf-8", "replace")


def decode_resource_answer(
    cls: type[R], body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> R:
    """The resource of class ``cls`` an answer carries (an :class:`APIError` otherwise)."""
    headers = headers or {}
    wanted = resource_type_of(cls)
    try:
        head = _head_decoder.decode(body)
        if head.resourceType == wanted:
            decoded: R = _decoder(cls).decode(body)
            return decoded
    except msgspec.DecodeError as exc:
        raise answer_error(
            f"undecodable {wanted} answer: {exc}", status, _parsed(body), headers
        ) from exc
    except RecursionError:
        raise answer_error(
            f"undecodable {wanted} answer: nested too deeply", status, None, headers
        ) from None
    got = head.resourceType or "something else"
    raise answer_error(f"expected a {wanted}, got {got}", status, _parsed(body), headers)


def decode_searchset(
    cls: type[R], body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> tuple[list[R], SearchBundle]:
    """The matches of class ``cls`` in a search answer, and the Bundle (links, total)."""
    headers = headers or {}
    wanted = resource_type_of(cls)
    try:
        bundle = _bundle_decoder.decode(body)
        found: list[R] = []
        for entry in bundle.entry or ():
            if entry.search is not None and entry.search.mode not in (None, "match"):
                continue  # _include'd resources and OperationOutcomes are not matches
            if entry.resource and _head_decoder.decode(entry.resource).resourceType == wanted:
                found.append(_decoder(cls).decode(entry.resource))
    except msgspec.DecodeError as exc:
        message = f"undecodable search answer ({wanted} search): {exc}"
        raise answer_error(message, status, _parsed(body), headers) from exc
    except RecursionError:
        message = f"undecodable search answer ({wanted} search): nested too deeply"
        raise answer_error(message, status, None, headers) from None
    return found, bundle


def id_from_location(resource_type: str, location: str | None) -> str | None:
    """The id in a ``Location`` header (``.../{Type}/{id}/_history/{vid}``)."""
    if not location:
        return None
    pattern = rf"(?:^|/){re.escape(resource_type)}/([A-Za-z0-9\-.]{{1,64}})(?:/|$|\?)"
    found = re.search(pattern, location)
    return found.group(1) if found else None


def decode_create(
    cls: type[R],
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    conditional: bool = False,
) -> Created[R]:
    """The result of a ``POST /{Type}`` answered 2xx; an :class:`APIError` if it holds no id.

    ``conditional``: the request carried ``If-None-Exist``, so a ``200`` (not ``201``)
    means the server found the record instead of creating it. An answer without a body
    (``Prefer: return=minimal``) or an OperationOutcome is read by its ``Location``.
    """
    headers = headers or {}
    wanted = resource_type_of(cls)
    created = not (conditional and status == 200)
    location = id_from_location(wanted, headers.get("Location") or headers.get("Content-Location"))
    parsed = _parsed(body)
    if isinstance(parsed, Mapping) and parsed.get("resourceType") == wanted:
        resource = decode_resource_answer(cls, body, status=status, headers=headers)
        found = fhir_id(getattr(resource, "id", None) or location)
        if found:
            return Created(id=found, created=created, resource=resource)
    elif location and (parsed is None or _is_outcome(parsed)):
        return Created(id=location, created=created, resource=None)
    # in prose: "carries no patient id", "no medication request id"
    noun = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", wanted).lower()
    raise answer_error(f"the create answer carries no {noun} id", status, parsed, headers)


def _is_outcome(parsed: Any) -> bool:
    return isinstance(parsed, Mapping) and parsed.get("resourceType") == "OperationOutcome"


def issue_codes(error: APIError) -> set[str]:
    """The ``issue[].code`` values of the OperationOutcome an error answer carried."""
    outcome = error.operation_outcome or {}
    issues = outcome.get("issue")
    if not isinstance(issues, list):
        return set()
    return {str(i.get("code")) for i in issues if isinstance(i, Mapping) and i.get("code")}
