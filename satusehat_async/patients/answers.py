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

Only the envelopes are the MPI's own: Patients, search Bundles and FHIR create answers
are decoded by the generic :mod:`satusehat_async.resource.answers`, whose Bundle types
and :class:`CreateResult` these are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from satusehat_async.errors import BadRequestError
from satusehat_async.patients.models import Patient
from satusehat_async.resource import answers as _generic
from satusehat_async.resource.answers import (
    BundleEntry,
    BundleLink,
    CreateResult,
    SearchBundle,
    answer_error,
)
from satusehat_async.resource.kinds import fhir_id

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

_any_decoder = msgspec.json.Decoder()
# "Patient ID:", "patient_id", "resourceID", "id", "ihs_number" ... compared letters-only.
_ID_KEYS = ("patientid", "resourceid", "id", "ihsnumber")
_NOT_LETTERS = re.compile(r"[^a-z]")
_NO_ID = "the create answer carries no patient id"


def decode_patient(
    body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Patient:
    """A Patient from an answer's body (an :class:`APIError` for anything else)."""
    return _generic.decode_resource_answer(Patient, body, status=status, headers=headers)


def decode_search_bundle(
    body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> tuple[list[Patient], SearchBundle]:
    """The Patients of a search answer, and the Bundle (for its links and total).

    Entries of other types (an OperationOutcome with ``search.mode: outcome``) are skipped.
    """
    return _generic.decode_searchset(Patient, body, status=status, headers=headers)


def id_from_location(location: str | None) -> str | None:
    """The Patient id in a ``Location`` header (``.../Patient/{id}/_history/{vid}``)."""
    return _generic.id_from_location("Patient", location)


def _envelope_id(data: Any, *, success: bool) -> str | None:
    """The patient id in an envelope's ``data``; a bare string counts only on success."""
    if isinstance(data, str):
        return fhir_id(data) if success else None
    if not isinstance(data, Mapping):
        return None
    by_key = {_NOT_LETTERS.sub("", str(k).lower()): v for k, v in data.items()}
    for key in _ID_KEYS:
        found = fhir_id(by_key.get(key))
        if found:
            return found
    return None


def decode_create_answer(
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    conditional: bool = False,
) -> CreateResult[Patient]:
    """The result of a ``POST /Patient`` answered 2xx; an :class:`APIError` if it holds no id.

    ``conditional`` says the request carried ``If-None-Exist``: a ``200`` (rather than
    ``201``) then means the server found the record instead of creating it.
    """
    headers = headers or {}
    try:
        parsed = _any_decoder.decode(body) if body.strip() else None
    except msgspec.DecodeError as exc:
        raise answer_error(f"undecodable create answer: {exc}", status, None, headers) from exc
    except RecursionError:
        # JSON nested deeper than Python's stack (a 2 KB body can be): a library error.
        message = "undecodable create answer: JSON nested too deeply"
        raise answer_error(message, status, None, headers) from None
    if isinstance(parsed, Mapping) and "success" in parsed and "resourceType" not in parsed:
        return _envelope_answer(parsed, status, headers)
    # The Patient itself, or an empty body / OperationOutcome with the id in Location.
    answer = _generic.decode_create(Patient, status, body, headers, conditional=conditional)
    return CreateResult(id=answer.id, created=answer.created, resource=answer.resource)


def _envelope_answer(
    parsed: Mapping[str, Any], status: int, headers: Mapping[str, str]
) -> CreateResult[Patient]:
    """``{"success": ..., "data": ...}``: a new record, the duplicate answer, or a refusal."""
    success = parsed.get("success") is True
    data = parsed.get("data")
    envelope_id = _envelope_id(data, success=success)
    if envelope_id is None:
        message = parsed.get("message")
        text = message if isinstance(message, str) and message else None
        if not success:
            # A refusal ("NIK tidak ditemukan di Dukcapil"): its reason, as a 400 would.
            reason = text or (data if isinstance(data, str) and data else None)
            raise answer_error(reason or _NO_ID, status, parsed, headers, BadRequestError)
        raise answer_error(f"{_NO_ID}: {text}" if text else _NO_ID, status, parsed, headers)
    # success: false with a resource id is the duplicate answer: the record exists.
    return CreateResult(id=envelope_id, created=success)
