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
   waits, then **reconciles before re-sending**: searches by the identifier again; since
   the first search found nothing, a record found now was created by this call
   (``created=True``); only when none is found is the POST sent again, a bounded number
   of times with backoff.

Creates for one identifier (one NIK, or one mother's babies) are serialized by a lock per
identifier, so concurrent creates in one process — twins included — never mistake each
other's records. Across processes, a NIK is protected by the server's own dedupe
(conditional create, duplicate answer); newborns of one mother should be registered from
one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from satusehat_async.errors import APIError, SatuSehatError, TransportError, ValidationError
from satusehat_async.patients.answers import CreateResult, decode_create_answer
from satusehat_async.patients.datatypes import HumanName
from satusehat_async.patients.identifiers import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    identifier_token,
    is_masked,
    validate_nik,
)
from satusehat_async.patients.models import Patient
from satusehat_async.retry import RetryPolicy

__all__ = [
    "CreatePlan",
    "KeyedLocks",
    "create_idempotently",
    "is_ambiguous",
    "newborn_matches",
    "plan_create",
    "to_patient",
]

logger = logging.getLogger("satusehat_async.patients")

Sleep = Callable[[float], Awaitable[None]]
Post = Callable[[], Awaitable[Any]]  # -> transport Response (status, headers, body)
Search = Callable[[str, str], Awaitable[list[Patient]]]

# Decimals a caller put in a plain dict keep their digits (msgspec's default is a string).
_mapping_encoder = msgspec.json.Encoder(decimal_format="number")
_patient_decoder = msgspec.json.Decoder(Patient)
_AMBIGUOUS_STATUSES = frozenset({408, 429})


def to_patient(patient: Patient | Mapping[str, Any]) -> Patient:
    """A :class:`Patient` from a struct or a FHIR dict (:class:`ValidationError` if not one)."""
    if isinstance(patient, Patient):
        return patient
    if not isinstance(patient, Mapping):
        raise ValidationError(f"expected a Patient or a FHIR dict, not {type(patient).__name__}")
    kind = patient.get("resourceType", "Patient")
    if kind != "Patient":
        raise ValidationError(f"expected resourceType 'Patient', got {kind!r}")
    try:
        return _patient_decoder.decode(_mapping_encoder.encode(patient))
    except (msgspec.ValidationError, msgspec.EncodeError, TypeError) as exc:
        raise ValidationError(f"not a valid FHIR Patient: {exc}") from exc


@dataclass(frozen=True)
class CreatePlan:
    """Everything about one logical create, fixed before the first attempt."""

    patient: Patient
    body: bytes
    system: str  # the identifier system searched to reconcile (NIK or NIK-ibu)
    value: str  # its value
    headers: Mapping[str, str]

    @property
    def conditional(self) -> bool:
        """Whether the POST carries ``If-None-Exist``."""
        return "If-None-Exist" in self.headers

    @property
    def lock_key(self) -> str:
        """Creates sharing this key are serialized (one NIK; one mother's babies)."""
        return identifier_token(self.system, self.value)

    def matches(self, candidate: Patient) -> bool:
        """Is ``candidate`` (from a search by this plan's identifier) the patient to create?"""
        if not candidate.id:
            return False
        if self.system == NIK_SYSTEM:
            # The server matched the NIK; answers mask it, so compare only when readable.
            found = candidate.nik
            return found is None or is_masked(found) or found == self.value
        return newborn_matches(candidate, self.patient)


def plan_create(patient: Patient | Mapping[str, Any]) -> CreatePlan:
    """Validate a Patient to create and fix its identity (:class:`ValidationError` if unfit).

    The patient needs its own NIK, or (a newborn) its mother's NIK and a birth date.
    """
    resource = to_patient(patient)
    headers = {"Content-Type": "application/json"}
    systems = {i.system for i in resource.identifier or () if i.value}
    if NIK_SYSTEM in systems:
        system, value = NIK_SYSTEM, validate_nik(resource.nik)
        headers["If-None-Exist"] = "identifier=" + identifier_token(system, value)
    elif NIK_IBU_SYSTEM in systems:
        system, value = NIK_IBU_SYSTEM, validate_nik(resource.nik_ibu, what="NIK-ibu")
        if not resource.birth_date:
            raise ValidationError(
                "a newborn registered by its mother's NIK needs a birthDate: twins share "
                "the mother's NIK and are told apart by name, birth date and birth order"
            )
    else:
        raise ValidationError(
            f"a Patient to create needs a NIK ({NIK_SYSTEM}) or, for a newborn, "
            f"its mother's NIK ({NIK_IBU_SYSTEM})"
        )
    return CreatePlan(
        patient=resource,
        body=msgspec.json.encode(resource),
        system=system,
        value=value,
        headers=headers,
    )


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _name_keys(names: list[HumanName] | None) -> set[str]:
    keys: set[str] = set()
    for name in names or ():
        if name.text:
            keys.add(_normal(name.text))
        given = [g for g in name.given or () if g]
        family = [name.family] if name.family else []
        if given or family:
            keys.add(_normal(" ".join(given + family)))
            keys.add(_normal(" ".join(family + given)))
    keys.discard("")
    return keys


def _birth_order(patient: Patient) -> tuple[str, object] | None:
    if patient.multiple_birth_integer is not None:
        return ("integer", patient.multiple_birth_integer)
    if patient.multiple_birth_boolean is not None:
        return ("boolean", patient.multiple_birth_boolean)
    return None


def newborn_matches(candidate: Patient, wanted: Patient) -> bool:
    """Whether ``candidate`` (one of a mother's babies) is the newborn ``wanted``.

    Same birth date; a name in common (text, or given+family in either order, compared
    without case and extra spaces); and, where both carry them, the same birth order
    (``multipleBirthInteger``/``Boolean``) and gender. What the wanted patient leaves out
    is not compared (SATUSEHAT's answers carry no gender, and may add a birth order).
    """
    if candidate.birth_date != wanted.birth_date:
        return False
    wanted_names = _name_keys(wanted.name)
    if wanted_names and not wanted_names & _name_keys(candidate.name):
        return False
    ours, theirs = _birth_order(wanted), _birth_order(candidate)
    if ours is not None and theirs is not None and ours[0] == theirs[0] and ours != theirs:
        return False
    return not (wanted.gender and candidate.gender and wanted.gender != candidate.gender)


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


async def _find(plan: CreatePlan, search: Search) -> Patient | None:
    for candidate in await search(plan.system, plan.value):
        if plan.matches(candidate):
            return candidate
    return None


async def create_idempotently(
    plan: CreatePlan,
    *,
    post: Post,
    search: Search,
    policy: RetryPolicy,
    sleep: Sleep,
) -> CreateResult:
    """Run one create: search first, POST, reconcile after every ambiguous failure.

    ``post()`` sends the POST once (a transport Response, or raises); ``search(system,
    value)`` lists the Patients with that identifier. At most ``policy.max_attempts``
    POSTs are sent; when all failed ambiguously and none left a record, the last error is
    raised (nothing was created as far as the last search could tell).
    """
    existing = await _find(plan, search)
    if existing is not None:
        assert existing.id is not None
        return CreateResult(id=existing.id, created=False, resource=existing)
    delays: Iterator[float] = policy.delays()
    ambiguous = False  # did an earlier attempt of this call perhaps commit?
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await post()
            result = decode_create_answer(
                response.status, response.body, response.headers, conditional=plan.conditional
            )
        except SatuSehatError as exc:
            if not _worth_reconciling(exc):
                raise
            error: SatuSehatError = exc
        else:
            if ambiguous and not result.created:
                # The "existing" record appeared after our search found none: an earlier
                # attempt of this very call committed it.
                return CreateResult(id=result.id, created=True, resource=result.resource)
            return result
        ambiguous = True
        wait = policy.wait_for(error, next(delays))
        logger.warning(
            "create Patient (%s): attempt %d failed (%s); reconciling in %.2fs",
            plan.system.rsplit("/", 1)[-1],
            attempt,
            type(error).__name__,
            wait,
        )
        await sleep(wait)
        found = await _find(plan, search)
        if found is not None:
            assert found.id is not None
            return CreateResult(id=found.id, created=True, resource=found)
        if attempt >= policy.max_attempts or not is_ambiguous(error):
            # Out of attempts; or a 2xx we could not read: the write succeeded somewhere,
            # and re-sending it could only make a second record.
            raise error


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
