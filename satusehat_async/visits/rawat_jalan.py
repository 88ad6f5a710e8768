"""The outpatient minimum (rawat jalan) in one call: :func:`rawat_jalan`.

One Bundle transaction: the Encounter, a Condition per diagnosis (ICD-10), an Observation
per vital sign (LOINC, UCUM) and optional Procedures (ICD-9-CM), every one pointing at the
Encounter's ``urn:uuid:`` and the Encounter's ``diagnosis`` at the Conditions' (use ``DD``
Discharge diagnosis, rank 1, 2, ... in the order given, as the official rawat jalan
Bundle). Every entry carries a local identifier derived from the visit's, so the
transaction is idempotent: sending the same visit again stores nothing and returns the
same ids (``created=False``); see :func:`satusehat_async.resource.transaction`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.fhir import (
    CodeableConcept,
    Coding,
    Encounter,
    EncounterDiagnosis,
    Reference,
    Transaction,
)
from satusehat_async.resource.local import local_identifier, local_organization
from satusehat_async.resource.transaction import TransactionResult
from satusehat_async.visits.clinical import (
    VITAL_SIGNS,
    Number,
    VitalSigns,
    diagnosis_condition,
    procedure,
    vital_sign_observation,
)
from satusehat_async.visits.encounter import utc_time

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = ["RawatJalan", "rawat_jalan"]

_DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"


@dataclass(frozen=True)
class RawatJalan:
    """What :func:`rawat_jalan` stored.

    Attributes:
        transaction: the :class:`TransactionResult` (a result per entry, in this order:
            Encounter, Conditions, Observations, Procedures).
        encounter: the Encounter as sent, with its stored ``id`` and ``diagnosis`` pointing
            at ``Condition/{id}``: ready for :func:`~satusehat_async.visits.advance` and
            ``client.fhir(Encounter).update`` (when the visit existed already, the stored
            one may be further along: ``client.fhir(Encounter).get(encounter_id)``).
        encounter_id, condition_ids, observation_ids (by vital-sign name), procedure_ids.
    """

    transaction: TransactionResult
    encounter: Encounter
    encounter_id: str
    condition_ids: tuple[str, ...]
    observation_ids: dict[str, str]
    procedure_ids: tuple[str, ...]

    @property
    def created(self) -> bool:
        """True where this call stored the visit (False: it was stored already)."""
        return self.transaction.created


def _visit(encounter: Encounter) -> tuple[str, str, Reference]:
    """The visit's registration number, organization and subject (checked)."""
    if not isinstance(encounter, Encounter):
        raise ValidationError("encounter is an Encounter (visits.outpatient_encounter(...))")
    if encounter.id is not None:
        raise ValidationError(
            "rawat_jalan creates the visit: an Encounter with an id is stored already "
            "(move it with visits.advance and client.fhir(Encounter).update)"
        )
    for identifier in encounter.identifier or ():
        org = local_organization(identifier.system)
        if org is not None and identifier.value and "/encounter/" in str(identifier.system):
            if encounter.subject is None or encounter.subject.reference is None:
                raise ValidationError("the Encounter needs its subject (Patient/{ihs})")
            return identifier.value, org, encounter.subject
    raise ValidationError(
        "the Encounter needs its visit identifier (http://sys-ids.kemkes.go.id/encounter/"
        "{org}): it keys the visit, so re-sending it stores nothing twice"
    )


def _codes(items: Sequence[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValidationError(f"{name} is a list of (code, display)")
    seen: set[str] = set()
    for item in items:
        code = item[0] if isinstance(item, tuple) and item else None
        if code in seen:  # one Condition per diagnosis; the code keys its identifier
            raise ValidationError(f"{name}: {code!r:.20} is given twice")
        seen.add(str(code))
    return list(items)


def _attender(encounter: Encounter) -> Reference | None:
    for participant in encounter.participant or ():
        if participant.individual is not None:
            return Reference(reference=participant.individual.reference)
    return None


async def rawat_jalan(
    client: SatuSehatClient,
    *,
    encounter: Encounter,
    diagnoses: Sequence[tuple[str, str]],
    vital_signs: VitalSigns | Mapping[str, Number] | None = None,
    procedures: Sequence[tuple[str, str]] = (),
    observed_at: dt.datetime | None = None,
    **options: Any,
) -> RawatJalan:
    """Send an outpatient visit as one idempotent Bundle transaction.

    Args:
        client: an entered :class:`~satusehat_async.SatuSehatClient`.
        encounter: the new visit (:func:`~satusehat_async.visits.outpatient_encounter`),
            without an id.
        diagnoses: ``[(ICD-10 code, display), ...]``, the primary first (rank 1).
        vital_signs: :class:`VitalSigns` or ``{"heart_rate": 80, "systolic": 120, ...}``.
        procedures: ``[(ICD-9-CM code, display), ...]``.
        observed_at: when the signs were measured and procedures done (aware; default
            the Encounter's ``period.start``).
        options: passed to ``client.transaction`` (``retry=``, ``reconcile=``, ...).

    Identifiers: ``condition`` ``{visit}-{icd10}``, ``observation`` ``{visit}-{loinc}``,
    ``procedure`` ``{visit}-{icd9cm}``, all of the Encounter's organization.
    """
    visit, org, subject = _visit(encounter)
    codes = _codes(diagnoses, "diagnoses")
    if not codes:  # Encounter.diagnosis is required once it has Conditions (RuleNumber 10457)
        raise ValidationError("diagnoses: at least one (ICD-10 code, display)")
    signs = VitalSigns.of(vital_signs).measured()
    actions = _codes(procedures, "procedures")
    if observed_at is not None:
        when = utc_time(observed_at, "observed_at")
    elif encounter.period is not None and encounter.period.start:
        when = encounter.period.start
    else:
        raise ValidationError("the Encounter needs its period.start (or give observed_at)")
    urns = [f"urn:uuid:{uuid.uuid4()}" for _ in codes]
    wired = msgspec.structs.replace(
        encounter, diagnosis=_diagnoses(codes, [Reference(reference=u) for u in urns])
    )
    tx = Transaction()
    visit_ref = tx.add(wired)
    for urn, code in zip(urns, codes, strict=True):
        condition = diagnosis_condition(
            code,
            subject=subject,
            encounter=visit_ref,
            identifier=local_identifier("condition", f"{visit}-{code[0]}", organization_id=org),
        )
        tx.add(condition, full_url=urn)
    _add_measurements(tx, encounter, visit_ref, signs, actions, when)
    result = await client.transaction(tx, **options)
    return _stored(result, wired, codes, [name for name, _ in signs])


def _add_measurements(
    tx: Transaction,
    encounter: Encounter,
    visit_ref: Reference,
    signs: Sequence[tuple[str, Number]],
    actions: Sequence[tuple[str, str]],
    when: str,
) -> None:
    """Add the vital-sign Observations and the Procedures of the visit to ``tx``."""
    visit, org, subject = _visit(encounter)
    performer = _attender(encounter)
    for name, value in signs:
        identifier = local_identifier(
            "observation", f"{visit}-{VITAL_SIGNS[name][0]}", organization_id=org
        )
        tx.add(
            vital_sign_observation(
                name,
                value,
                subject=subject,
                encounter=visit_ref,
                effective=when,
                performer=performer,
                identifier=identifier,
            )
        )
    for code in actions:
        identifier = local_identifier("procedure", f"{visit}-{code[0]}", organization_id=org)
        tx.add(
            procedure(
                code,
                subject=subject,
                encounter=visit_ref,
                performed=when,
                performer=performer,
                identifier=identifier,
            )
        )


def _diagnoses(codes: Sequence[tuple[str, str]], refs: Sequence[Reference]) -> list[Any]:
    use = CodeableConcept(
        coding=[Coding(system=_DIAGNOSIS_ROLE, code="DD", display="Discharge diagnosis")]
    )
    return [
        EncounterDiagnosis(
            condition=Reference(reference=ref.reference, display=code[1]), use=use, rank=rank
        )
        for rank, (code, ref) in enumerate(zip(codes, refs, strict=True), start=1)
    ]


def _stored(
    result: TransactionResult, wired: Encounter, codes: Sequence[tuple[str, str]], signs: list[str]
) -> RawatJalan:
    ids = result.ids()
    encounter_id, rest = ids[0], ids[1:]
    condition_ids = tuple(rest[: len(codes)])
    observation_ids = dict(zip(signs, rest[len(codes) : len(codes) + len(signs)], strict=True))
    procedure_ids = tuple(rest[len(codes) + len(signs) :])
    stored = msgspec.structs.replace(
        wired,
        id=encounter_id,
        diagnosis=_diagnoses(codes, [Reference(reference=f"Condition/{i}") for i in condition_ids]),
    )
    return RawatJalan(
        transaction=result,
        encounter=stored,
        encounter_id=encounter_id,
        condition_ids=condition_ids,
        observation_ids=observation_ids,
        procedure_ids=procedure_ids,
    )
