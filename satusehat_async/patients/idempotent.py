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

**Newborns need a birth order.** Twins share their mother's NIK, their birth date and
often a placeholder name (``Bayi Ny. Siti``), so the birth order is what tells them apart:

- ``multipleBirthInteger`` 1, 2, ... — one of twins (or more), in birth order. It matches
  only a record with that same order: never a sibling's, and never a record without an
  order (SATUSEHAT stores ``0`` when none is given: such a record is not provably this
  baby, so it is not taken for it);
- ``multipleBirthBoolean: false`` — a single birth. It matches a record stored as a
  single birth, or stored without any order (``0`` or absent), which is what a server
  that does not keep the boolean makes of it; a record with an order ``N`` is one of
  twins, not this baby.

Anything else — no ``multipleBirth[x]``, ``multipleBirthInteger`` 0 or less (0 is what the
server fills in for "not given"), ``multipleBirthBoolean: true`` (a multiple birth, but
which baby?), or both elements at once — is refused with :class:`ValidationError` before
anything is sent. When a search finds **more than one** record that matches, the create
stops with :class:`AmbiguousMatchError` instead of picking one.

When the search that should reconcile an ambiguous failure fails itself, the create
raises :class:`CreateOutcomeUnknown` (carrying both errors): the record may or may not
exist, and repeating the create is safe, since it searches before it sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi

from satusehat_async.errors import APIError, SatuSehatError, TransportError, ValidationError
from satusehat_async.patients.answers import CreateResult, decode_create_answer
from satusehat_async.patients.datatypes import HumanName
from satusehat_async.patients.identifiers import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    identifier_token,
    is_masked,
    redact_niks,
    validate_nik,
)
from satusehat_async.patients.models import Patient
from satusehat_async.retry import RetryPolicy

__all__ = [
    "AmbiguousMatchError",
    "CreateOutcomeUnknown",
    "CreatePlan",
    "KeyedLocks",
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

# Decimals a caller put in a plain dict keep their digits (msgspec's default is a string).
_mapping_encoder = msgspec.json.Encoder(decimal_format="number")
_patient_decoder = msgspec.json.Decoder(Patient)
_any_decoder = msgspec.json.Decoder()
_AMBIGUOUS_STATUSES = frozenset({408, 429})
_MAX_LISTED = 10


class AmbiguousMatchError(SatuSehatError):
    """More than one existing record matches the patient to create: none is picked.

    For a newborn: several babies of that mother with the same birth date, name and birth
    order (or, for a single birth, several without a birth order). ``ids`` lists them.
    """

    def __init__(self, ids: Sequence[str], *, newborn: bool, after: SatuSehatError | None):
        self.ids = tuple(ids)
        what = (
            "this newborn (mother's NIK, birth date, name and birth order)"
            if newborn
            else "this NIK"
        )
        message = (
            f"{len(self.ids)} records ({', '.join(self.ids)}) match {what}: cannot tell "
            "which one is meant, so none is returned; resolve the duplicates"
        )
        if after is not None:
            message += (
                f" (this create's own write failed ambiguously, {type(after).__name__}, "
                "and may be one of them)"
            )
        super().__init__(message)


class CreateOutcomeUnknown(SatuSehatError):
    """A create whose write failed ambiguously, and whose check by search failed too.

    The record may or may not have been stored. Repeating the same create is safe: it
    searches before sending, so it returns the record if it exists and creates it if not.

    Attributes:
        last_error: the ambiguous failure of the last write (timeout, dropped answer, 5xx).
        cause: the error of the search that should have told whether it was stored
            (also the exception's ``__cause__``).
        attempts: the number of writes sent.
    """

    def __init__(self, *, last_error: SatuSehatError, cause: BaseException, attempts: int):
        self.last_error = last_error
        self.cause = cause
        self.attempts = attempts
        super().__init__(
            "the outcome of this Patient create is unknown: its write "
            f"(attempt {attempts}) failed ambiguously ({_describe(last_error)}) and the "
            f"search to check whether it was stored failed too ({_describe(cause)}); "
            "the record may or may not exist. Repeating the same create is safe: it "
            "searches before sending again"
        )


def _describe(error: BaseException) -> str:
    text = redact_niks(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- strict decoding of dicts: every key must be a FHIR element of the Patient ---------------

_fields_by_struct: dict[type, dict[str, mi.Type]] = {}
_patient_info: list[mi.StructType] = []


def _patient_type() -> mi.StructType:
    if not _patient_info:
        info = mi.type_info(Patient)
        assert isinstance(info, mi.StructType)
        _patient_info.append(info)
    return _patient_info[0]


def _fields(kind: mi.StructType) -> dict[str, mi.Type]:
    fields = _fields_by_struct.get(kind.cls)
    if fields is None:
        fields = {field.encode_name: field.type for field in kind.fields}
        _fields_by_struct[kind.cls] = fields
    return fields


def _suggestion(key: str, known: Mapping[str, mi.Type]) -> str:
    folded = key.replace("_", "").casefold()
    for name in known:
        if name.startswith("_") == key.startswith("_") and name.casefold() == folded:
            return f" (did you mean {name}?)"
        if name.startswith("_") and key.startswith("_") and name[1:].casefold() == folded:
            return f" (did you mean {name}?)"
    return ""


def _unknown_elements(value: Any, kind: mi.Type, path: str, found: list[str]) -> None:
    """Append to ``found`` the path of every key of ``value`` that ``kind`` does not declare."""
    if isinstance(kind, mi.UnionType):
        for option in kind.types:
            if (isinstance(value, dict) and isinstance(option, mi.StructType)) or (
                isinstance(value, list) and isinstance(option, mi.ListType)
            ):
                _unknown_elements(value, option, path, found)
                return
    elif isinstance(kind, mi.StructType) and isinstance(value, dict):
        known = _fields(kind)
        for key, item in value.items():
            if key == kind.tag_field:
                continue
            element = known.get(key)
            if element is None:
                found.append(f"{path}.{key}{_suggestion(str(key), known)}")
            else:
                _unknown_elements(item, element, f"{path}.{key}", found)
    elif isinstance(kind, mi.ListType) and isinstance(value, list):
        for index, item in enumerate(value):
            _unknown_elements(item, kind.item_type, f"{path}[{index}]", found)


def _check_plain(plain: Any) -> None:
    """Refuse what is not a Patient's JSON object, or carries keys a Patient does not have.

    msgspec ignores unknown keys when decoding a struct, so ``{"birth_date": ...}`` would
    be sent without a birth date; here it is refused, naming every such key.
    """
    if not isinstance(plain, dict):
        raise ValidationError(f"expected a FHIR Patient object, not {type(plain).__name__}")
    kind = plain.get("resourceType", "Patient")
    if kind != "Patient":
        raise ValidationError(f"expected resourceType 'Patient', got {kind!r}")
    found: list[str] = []
    _unknown_elements(plain, _patient_type(), "$", found)
    if found:
        listed = ", ".join(found[:_MAX_LISTED])
        if len(found) > _MAX_LISTED:
            listed += f" and {len(found) - _MAX_LISTED} more"
        raise ValidationError(
            redact_niks(
                f"unknown Patient element(s): {listed}; FHIR JSON names are camelCase "
                "(birthDate, multipleBirthInteger) and nothing was sent"
            )
        )


def to_patient(patient: Patient | Mapping[str, Any]) -> Patient:
    """A :class:`Patient` from a struct or a FHIR dict (:class:`ValidationError` if not one).

    A dict is decoded strictly: a key that is not an element of the Patient (or of the
    datatype it sits in) is refused, naming it, rather than silently dropped.
    """
    if isinstance(patient, Patient):
        return patient
    if not isinstance(patient, Mapping):
        raise ValidationError(f"expected a Patient or a FHIR dict, not {type(patient).__name__}")
    kind = patient.get("resourceType", "Patient")
    if kind != "Patient":
        raise ValidationError(f"expected resourceType 'Patient', got {kind!r}")
    try:
        raw = _mapping_encoder.encode(patient)
    except (msgspec.EncodeError, TypeError) as exc:
        raise ValidationError(f"not a valid FHIR Patient: {exc}") from exc
    return patient_from_json(raw)


def patient_from_json(data: bytes) -> Patient:
    """A :class:`Patient` from FHIR JSON, decoded strictly (:class:`ValidationError`).

    Unknown keys are refused as by :func:`to_patient`; decimals keep their digits.
    """
    try:
        plain = _any_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValidationError(f"not JSON: {exc}") from exc
    _check_plain(plain)
    try:
        return _patient_decoder.decode(data)
    except msgspec.DecodeError as exc:
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
        _check_birth_order(resource)
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


_ORDER_HELP = (
    "multipleBirthInteger 1, 2, ... (the birth order of twins or more) or "
    "multipleBirthBoolean false (a single birth)"
)


def _check_birth_order(patient: Patient) -> None:
    integer, boolean = patient.multiple_birth_integer, patient.multiple_birth_boolean
    if integer is not None and boolean is not None:
        raise ValidationError(
            "multipleBirth[x] is one element: give multipleBirthInteger or "
            "multipleBirthBoolean, not both"
        )
    if integer is not None and (isinstance(integer, bool) or integer < 1):
        raise ValidationError(
            f"multipleBirthInteger {integer!r} is no birth order ({_ORDER_HELP}); 0 is "
            "what SATUSEHAT stores when none is given"
        )
    if boolean is True:
        raise ValidationError(
            "multipleBirthBoolean true says one of twins (or more) but not which: give "
            "the birth order as multipleBirthInteger 1, 2, ..."
        )
    if integer is None and boolean is None:
        raise ValidationError(
            f"a newborn registered by its mother's NIK needs a birth order: {_ORDER_HELP}. "
            "Twins share the mother's NIK, the birth date and often a placeholder name "
            "like 'Bayi Ny. Siti'; without it they cannot be told apart"
        )


def _birth_order(patient: Patient) -> int | None:
    """What ``multipleBirth[x]`` says, as one number.

    The order N (1, 2, ...) of one of twins or more; ``0`` a single birth
    (``multipleBirthBoolean: false``); ``-1`` a multiple birth without an order
    (``multipleBirthBoolean: true``); ``None`` nothing (absent, or the ``0`` SATUSEHAT
    fills in when none was given).
    """
    integer = patient.multiple_birth_integer
    if integer is not None and not isinstance(integer, bool) and integer >= 1:
        return integer
    if patient.multiple_birth_boolean is not None:
        return -1 if patient.multiple_birth_boolean else 0
    return None


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


def _orders_match(wanted: int | None, found: int | None) -> bool:
    if wanted is None:  # says nothing (refused by plan_create): only the same nothing
        return found is None
    if wanted == 0:  # a single birth: stored as one, or stored without any order
        return found in (0, None)
    # One of twins (N), or of a multiple birth without order (-1, refused by plan_create):
    # only that very order. A record without one is not provably this baby.
    return wanted >= 1 and found == wanted


def newborn_matches(candidate: Patient, wanted: Patient) -> bool:
    """Whether ``candidate`` (one of a mother's babies) is the newborn ``wanted``.

    Same birth date; a name in common (text, or given+family in either order, compared
    without case and extra spaces; not compared when ``wanted`` has none); the same birth
    order (see the module documentation: an order N matches only N, a single birth
    matches a single birth or a record without an order); and, where both carry one, the
    same gender (SATUSEHAT's answers carry none).
    """
    if candidate.birth_date != wanted.birth_date:
        return False
    wanted_names = _name_keys(wanted.name)
    if wanted_names and not wanted_names & _name_keys(candidate.name):
        return False
    if not _orders_match(_birth_order(wanted), _birth_order(candidate)):
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


def _pick(
    plan: CreatePlan, candidates: list[Patient], after: SatuSehatError | None = None
) -> Patient | None:
    """The one candidate that is the patient to create; None; or AmbiguousMatchError."""
    matches: dict[str, Patient] = {}
    for candidate in candidates:
        if plan.matches(candidate) and candidate.id:
            matches.setdefault(candidate.id, candidate)
    if len(matches) > 1:
        raise AmbiguousMatchError(list(matches), newborn=plan.system == NIK_IBU_SYSTEM, after=after)
    return next(iter(matches.values()), None)


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
    raised (nothing was created as far as the last search could tell). When a reconciling
    search fails, :class:`CreateOutcomeUnknown` is raised; when a search finds several
    matching records, :class:`AmbiguousMatchError`.
    """
    existing = _pick(plan, await search(plan.system, plan.value))
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
        try:
            candidates = await search(plan.system, plan.value)
        except SatuSehatError as exc:
            # Whether the write was stored cannot be told now: say so, with both errors,
            # rather than raise the search's error as if the create had simply failed.
            raise CreateOutcomeUnknown(last_error=error, cause=exc, attempts=attempt) from exc
        found = _pick(plan, candidates, after=error)
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
