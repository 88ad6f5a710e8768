"""Pure decoding of the MPI's answers: every known create answer, Patients, search Bundles.

No I/O here: each function takes a status, headers and the raw body, so every shape the
API is known to answer with is tested without a server. Create answers come as

- the Patient itself (FHIR; ``201``, or ``200`` for a conditional create that matched);
- ``{"success": true, "data": {"Patient ID:": "P02029102701"}}`` (a new record);
- ``{"success": false, "data": {"resourceID": "P02029102427"}}`` with HTTP 200: a
  duplicate NIK — the record already exists, and this is its id;
- an empty body or an OperationOutcome with the id in ``Location``.

An id is taken only when it looks like a FHIR id (1 to 64 letters, digits, ``-`` and
``.``), and a bare string ``data`` only from a ``"success": true`` envelope: ``{"success":
false, "data": "NIK tidak ditemukan di Dukcapil"}`` is a refusal (:class:`BadRequestError`
with that message), never a patient whose id is a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from satusehat_async.errors import APIError, BadRequestError
from satusehat_async.patients.identifiers import redact_niks
from satusehat_async.patients.models import Patient

__all__ = [
    "BundleEntry",
    "BundleLink",
    "CreateResult",
    "SearchBundle",
    "decode_create_answer",
    "decode_patient",
    "decode_search_bundle",
    "id_from_location",
]

_patient_decoder = msgspec.json.Decoder(Patient)
_any_decoder = msgspec.json.Decoder()
# "Patient ID:", "patient_id", "resourceID", "id", "ihs_number" ... compared letters-only.
_ID_KEYS = ("patientid", "resourceid", "id", "ihsnumber")
_NOT_LETTERS = re.compile(r"[^a-z]")
_LOCATION_ID = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/|$|\?)")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NO_ID = "the create answer carries no patient id"


class CreateResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of :meth:`Patients.create <satusehat_async.patients.Patients.create>`.

    Attributes:
        id: the Patient's id (its IHS number on SATUSEHAT).
        created: False where the record existed before this call (the duplicate answer,
            a conditional-create match, or found by the search made before sending).
        resource: the Patient as the server sent it, when it sent one (search answers
            are masked: NIK ``################``, names like ``Sa** An**``).
    """

    id: str
    created: bool
    resource: Patient | None = None


class BundleLink(msgspec.Struct, kw_only=True, rename="camel"):
    """A Bundle link: ``relation`` (``self``, ``next`` ...) and its ``url``."""

    relation: str = ""
    url: str = ""


class BundleEntry(msgspec.Struct, kw_only=True, rename="camel"):
    """A search Bundle entry; ``resource`` is kept raw until its type is known."""

    full_url: str | None = None
    resource: msgspec.Raw = msgspec.Raw()


class SearchBundle(msgspec.Struct, kw_only=True, tag_field="resourceType", tag="Bundle"):
    """A ``searchset`` Bundle (no match: ``total: 0`` and ``entry: []``)."""

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


def _unexpected(
    message: str,
    status: int,
    body: Any,
    headers: Mapping[str, str],
    kind: type[APIError] = APIError,
) -> APIError:
    return kind(
        redact_niks(message), status=status, body=body, request_id=headers.get("X-Request-Id")
    )


def _fhir_id(value: Any) -> str | None:
    """``value`` if it is a usable FHIR id (and not a path segment like ``..``)."""
    if isinstance(value, str) and _FHIR_ID.fullmatch(value) and value not in (".", ".."):
        return value
    return None


def _too_deep(what: str, status: int, headers: Mapping[str, str]) -> APIError:
    # JSON nested deeper than Python's stack (a 2 KB body can be): a library error,
    # never a RecursionError.
    return _unexpected(f"undecodable {what}: JSON nested too deeply", status, None, headers)


def decode_patient(
    body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Patient:
    """A Patient from an answer's body (an :class:`APIError` for anything else)."""
    headers = headers or {}
    try:
        return _decode_patient(body, status, headers)
    except RecursionError:
        raise _too_deep("Patient answer", status, headers) from None


def _decode_patient(body: bytes, status: int, headers: Mapping[str, str]) -> Patient:
    try:
        head = _head_decoder.decode(body)
        if head.resourceType == "Patient":
            return _patient_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise _unexpected(f"undecodable Patient answer: {exc}", status, None, headers) from exc
    parsed = _any_decoder.decode(body) if body.strip() else None
    raise _unexpected(
        f"expected a Patient, got {head.resourceType or 'something else'}", status, parsed, headers
    )


def decode_search_bundle(
    body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> tuple[list[Patient], SearchBundle]:
    """The Patients of a search answer, and the Bundle (for its links and total).

    Entries of other types (an OperationOutcome with ``search.mode: outcome``) are skipped.
    """
    headers = headers or {}
    try:
        return _decode_search_bundle(body, status, headers)
    except RecursionError:
        raise _too_deep("search answer", status, headers) from None


def _decode_search_bundle(
    body: bytes, status: int, headers: Mapping[str, str]
) -> tuple[list[Patient], SearchBundle]:
    try:
        bundle = _bundle_decoder.decode(body)
        patients = [
            _patient_decoder.decode(entry.resource)
            for entry in bundle.entry or ()
            if entry.resource and _head_decoder.decode(entry.resource).resourceType == "Patient"
        ]
    except msgspec.DecodeError as exc:
        parsed: Any
        try:
            parsed = _any_decoder.decode(body)
        except msgspec.DecodeError:
            parsed = body.decode("utf-8", "replace")
        raise _unexpected(f"undecodable search answer: {exc}", status, parsed, headers) from exc
    return patients, bundle


def id_from_location(location: str | None) -> str | None:
    """The Patient id in a ``Location`` header (``.../Patient/{id}/_history/{vid}``)."""
    if not location:
        return None
    found = _LOCATION_ID.search(location)
    return found.group(1) if found else None


def _envelope_id(data: Any, *, success: bool) -> str | None:
    """The patient id in an envelope's ``data``; a bare string counts only on success."""
    if isinstance(data, str):
        return _fhir_id(data) if success else None
    if not isinstance(data, Mapping):
        return None
    by_key = {_NOT_LETTERS.sub("", str(k).lower()): v for k, v in data.items()}
    for key in _ID_KEYS:
        found = _fhir_id(by_key.get(key))
        if found:
            return found
    return None


def decode_create_answer(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    conditional: bool = False,
) -> CreateResult:
    """The result of a ``POST /Patient`` answered 2xx; an :class:`APIError` if it holds no id.

    ``conditional`` says the request carried ``If-None-Exist``: a ``200`` (rather than
    ``201``) then means the server found the record instead of creating it.
    """
    headers = headers or {}
    try:
        return _decode_create_answer(status, body, headers, conditional)
    except RecursionError:
        raise _too_deep("create answer", status, headers) from None


def _decode_create_answer(
    status: int, body: bytes, headers: Mapping[str, str], conditional: bool
) -> CreateResult:
    location = headers.get("Location") or headers.get("Content-Location")
    matched = conditional and status == 200
    try:
        parsed = _any_decoder.decode(body) if body.strip() else None
    except msgspec.DecodeError as exc:
        raise _unexpected(f"undecodable create answer: {exc}", status, None, headers) from exc
    if isinstance(parsed, Mapping) and parsed.get("resourceType") == "Patient":
        patient = decode_patient(body, status=status, headers=headers)
        patient_id = _fhir_id(patient.id) if patient.id else id_from_location(location)
        if not patient_id:
            raise _unexpected(f"{_NO_ID} (the Patient has none)", status, parsed, headers)
        return CreateResult(id=patient_id, created=not matched, resource=patient)
    if isinstance(parsed, Mapping) and "success" in parsed:
        success = parsed.get("success") is True
        data = parsed.get("data")
        envelope_id = _envelope_id(data, success=success)
        if envelope_id is None:
            message = parsed.get("message")
            text = message if isinstance(message, str) and message else None
            if not success:
                # A refusal ("NIK tidak ditemukan di Dukcapil"): its reason, as a 400 would.
                reason = text or (data if isinstance(data, str) and data else None)
                raise _unexpected(reason or _NO_ID, status, parsed, headers, BadRequestError)
            raise _unexpected(f"{_NO_ID}: {text}" if text else _NO_ID, status, parsed, headers)
        # success: false with a resource id is the duplicate answer: the record exists.
        return CreateResult(id=envelope_id, created=success)
    if parsed is None or (
        isinstance(parsed, Mapping) and parsed.get("resourceType") == "OperationOutcome"
    ):
        location_id = id_from_location(location)
        if location_id:
            return CreateResult(id=location_id, created=not matched)
    raise _unexpected(_NO_ID, status, parsed, headers)
