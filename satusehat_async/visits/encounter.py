"""Encounter builders in SATUSEHAT's vocabulary, and the status transitions of a visit.

>>> visit = outpatient_encounter(                                   # doctest: +SKIP
...     patient=("P02478375538", "Budi Santoso"),
...     practitioner=("10009880728", "dr. Alexander"),
...     location=("b017aa54-f1df-4ec2-9d84-8823815d7228", "Poli Umum"),
...     visit_id="RJ-2026-0001", organization_id=client.organization_id,
...     start=datetime(2026, 1, 5, 8, 0, tzinfo=WIB))
>>> visit = advance(stored, "in-progress", at=...)                 # doctest: +SKIP
>>> await client.fhir(Encounter).update(visit)                      # doctest: +SKIP

The chain is ``arrived`` → ``in-progress`` → ``finished`` (SATUSEHAT's Encounter rules):
``arrived`` runs from arrival to the start of the assessment, ``in-progress`` from there
to discharge, and ``finished`` starts and ends at discharge; ``Encounter.period`` spans
arrival to discharge. Every earlier entry of ``statusHistory`` has its ``period.end``
filled before a PUT (RuleNumber 10122), so :func:`advance` closes it. Times are sent in
UTC ``+00:00`` (RuleNumber 10132); a naive datetime is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.fhir import (
    CodeableConcept,
    Coding,
    Encounter,
    EncounterLocation,
    EncounterParticipant,
    EncounterStatusHistory,
    Period,
    Reference,
)
from satusehat_async.resource.kinds import check_id
from satusehat_async.resource.local import local_identifier
from satusehat_async.resource.times import EARLIEST

__all__ = [
    "ACT_CODE",
    "EncounterKind",
    "advance",
    "emergency_encounter",
    "encounter",
    "inpatient_encounter",
    "outpatient_encounter",
    "utc_time",
]

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

EncounterKind = Literal["outpatient", "inpatient", "emergency"]
#: ``Encounter.class`` of each kind (rawat jalan, rawat inap, IGD).
CLASSES: dict[str, tuple[str, str]] = {
    "outpatient": ("AMB", "ambulatory"),
    "inpatient": ("IMP", "inpatient encounter"),
    "emergency": ("EMER", "emergency"),
}
#: The statuses of a visit, in the only order SATUSEHAT documents.
CHAIN = ("arrived", "in-progress", "finished")

Named = tuple[str, str]
"""``(id, display)`` of a Patient, Practitioner or Location."""


def utc_time(value: object, name: str) -> str:
    """An aware datetime as SATUSEHAT wants it (``YYYY-MM-DDThh:mm:ss+00:00``).

    Naive datetimes (their offset cannot be guessed), non-datetimes and times before
    2014-06-03 are refused before anything is sent.
    """
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{name} is a naive datetime (no UTC offset): give it one, e.g. "
            "tzinfo=timezone(timedelta(hours=7)) for WIB; nothing was sent"
        )
    utc = value.astimezone(dt.timezone.utc)
    if utc.date() < EARLIEST:
        raise ValidationError(
            f"{name} is before {EARLIEST.isoformat()}, the earliest visit time SATUSEHAT "
            "accepts (RuleNumber 10132); nothing was sent"
        )
    return f"{utc:%Y-%m-%dT%H:%M:%S}+00:00"


def _parse(text: str | None, name: str) -> dt.datetime:
    """A stored FHIR dateTime (the Encounter's own) as an aware datetime."""
    try:
        found = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name} is not a dateTime: {str(text)[:40]!r}") from None
    if found.tzinfo is None:
        raise ValidationError(f"{name} has no UTC offset: {str(text)[:40]!r}")
    return found


def _named(kind: str, value: object, name: str) -> Reference:
    if not isinstance(value, tuple) or len(value) != 2:
        raise ValidationError(f"{name} is ({kind} id, display)")
    ident, display = value
    if not isinstance(display, str) or not display.strip():
        raise ValidationError(f"{name}'s display is a non-empty string")
    return Reference(reference=f"{kind}/{check_id(kind, ident)}", display=display)


def encounter(
    kind: EncounterKind,
    *,
    patient: Named,
    practitioner: Named,
    location: Named,
    visit_id: str,
    organization_id: str | None,
    start: dt.datetime,
) -> Encounter:
    """A new Encounter (status ``arrived``) of ``kind``, as SATUSEHAT wants it at registration.

    Args:
        kind: ``outpatient`` (rawat jalan, class ``AMB``), ``inpatient`` (rawat inap,
            ``IMP``) or ``emergency`` (IGD, ``EMER``).
        patient: ``(IHS number, name)``: ``subject``.
        practitioner: ``(Practitioner id, name)``: the attender (participant ``ATND``).
        location: ``(Location id, display)``.
        visit_id: the facility's registration number: the identifier
            ``http://sys-ids.kemkes.go.id/encounter/{organization_id}`` (its duplicate key).
        organization_id: the client's organization (``client.organization_id``):
            ``serviceProvider`` and the identifier's system.
        start: the arrival, an aware datetime (sent in UTC).
    """
    if kind not in CLASSES:
        raise ValidationError(f"kind is one of {', '.join(CLASSES)}, not {kind!r:.20}")
    code, display = CLASSES[kind]
    identifier = local_identifier(
        "encounter", visit_id, organization_id=organization_id, use="official"
    )
    assert organization_id is not None  # local_identifier refused None
    arrived = utc_time(start, "start")
    attender = CodeableConcept(
        coding=[Coding(system=PARTICIPATION_TYPE, code="ATND", display="attender")]
    )
    return Encounter(
        identifier=[identifier],
        status="arrived",
        status_history=[EncounterStatusHistory(status="arrived", period=Period(start=arrived))],
        class_=Coding(system=ACT_CODE, code=code, display=display),
        subject=_named("Patient", patient, "patient"),
        participant=[
            EncounterParticipant(
                type=[attender], individual=_named("Practitioner", practitioner, "practitioner")
            )
        ],
        period=Period(start=arrived),
        location=[EncounterLocation(location=_named("Location", location, "location"))],
        service_provider=Reference(reference=f"Organization/{organization_id}"),
    )


def outpatient_encounter(
    *,
    patient: Named,
    practitioner: Named,
    location: Named,
    visit_id: str,
    organization_id: str | None,
    start: dt.datetime,
) -> Encounter:
    """A rawat jalan Encounter (class ``AMB``); see :func:`encounter`."""
    return encounter(
        "outpatient",
        patient=patient,
        practitioner=practitioner,
        location=location,
        visit_id=visit_id,
        organization_id=organization_id,
        start=start,
    )


def inpatient_encounter(
    *,
    patient: Named,
    practitioner: Named,
    location: Named,
    visit_id: str,
    organization_id: str | None,
    start: dt.datetime,
) -> Encounter:
    """A rawat inap Encounter (class ``IMP``); see :func:`encounter`."""
    return encounter(
        "inpatient",
        patient=patient,
        practitioner=practitioner,
        location=location,
        visit_id=visit_id,
        organization_id=organization_id,
        start=start,
    )


def emergency_encounter(
    *,
    patient: Named,
    practitioner: Named,
    location: Named,
    visit_id: str,
    organization_id: str | None,
    start: dt.datetime,
) -> Encounter:
    """An IGD Encounter (class ``EMER``); see :func:`encounter`."""
    return encounter(
        "emergency",
        patient=patient,
        practitioner=practitioner,
        location=location,
        visit_id=visit_id,
        organization_id=organization_id,
        start=start,
    )


def _current(visit: Encounter) -> tuple[int, EncounterStatusHistory]:
    """The position in :data:`CHAIN` of ``visit`` and its open statusHistory entry."""
    if visit.status not in CHAIN:
        raise ValidationError(
            f"Encounter.status is {visit.status!r:.20}: only {' -> '.join(CHAIN)} can advance"
        )
    history = visit.status_history or []
    last = history[-1] if history else None
    if last is None or last.status != visit.status or last.period is None:
        raise ValidationError(
            "Encounter.statusHistory does not end with the current status "
            f"({visit.status}): it is not consistent, nothing to advance from"
        )
    return CHAIN.index(visit.status), last


def advance(
    visit: Encounter, status: Literal["in-progress", "finished"], *, at: dt.datetime
) -> Encounter:
    """A copy of ``visit`` moved to ``status`` at ``at``, consistent for a PUT.

    The open ``statusHistory`` entry is closed at ``at`` and the new one added (``finished``
    starts and ends at ``at``); on ``finished`` ``period.end`` is ``at``. Refused (a
    :class:`ValidationError`): going backwards or staying, skipping ``in-progress`` (the
    documented chain is arrived → in-progress → finished), anything after ``finished``, a
    naive ``at``, and an ``at`` before the current status began. Send the result with
    ``client.fhir(Encounter).update(...)`` (it keeps ``visit``'s id).
    """
    if status not in CHAIN[1:]:
        raise ValidationError(f"status is 'in-progress' or 'finished', not {status!r:.20}")
    when = utc_time(at, "at")
    position, last = _current(visit)
    wanted = CHAIN.index(status)
    if wanted <= position:
        raise ValidationError(
            f"Encounter is {visit.status}: it cannot go back to {status} "
            f"(the chain is {' -> '.join(CHAIN)})"
        )
    if wanted > position + 1:
        raise ValidationError(
            f"Encounter is {visit.status}: it goes to {CHAIN[position + 1]} before {status} "
            f"(the chain is {' -> '.join(CHAIN)})"
        )
    assert last.period is not None
    began = _parse(last.period.start, "the current statusHistory entry's period.start")
    if _parse(when, "at") < began:
        raise ValidationError(
            f"at ({when}) is before the Encounter became {visit.status} ({last.period.start})"
        )
    closed = msgspec.structs.replace(last, period=msgspec.structs.replace(last.period, end=when))
    new = EncounterStatusHistory(
        status=status, period=Period(start=when, end=when if status == "finished" else None)
    )
    history = [*(visit.status_history or [])[:-1], closed, new]
    first = history[0].period
    period = visit.period or Period(start=first.start if first is not None else None)
    if status == "finished":
        period = msgspec.structs.replace(period, end=when)
    return msgspec.structs.replace(visit, status=status, status_history=history, period=period)
