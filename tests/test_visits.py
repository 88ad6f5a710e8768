"""Issue 12: visits — Encounter builders and transitions, rawat jalan in one transaction.

Against the local sandbox (its references, duplicate rule, PUT rules and time rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from satusehat_async import SatuSehatClient
from satusehat_async.errors import ValidationError
from satusehat_async.fhir import Encounter
from satusehat_async.sandbox import LocalSandbox
from satusehat_async.visits import (
    VitalSigns,
    advance,
    emergency_encounter,
    inpatient_encounter,
    outpatient_encounter,
    rawat_jalan,
)

WIB = dt.timezone(dt.timedelta(hours=7))
ARRIVAL = dt.datetime(2025, 3, 10, 8, 0, tzinfo=WIB)  # 01:00 UTC
PATIENT = ("P02478375538", "Budi Santoso")
DOCTOR = ("10009880728", "dr. Alexander")
ROOM = ("b017aa54-f1df-4ec2-9d84-8823815d7228", "Poli Umum")
LOCAL = "http://sys-ids.kemkes.go.id"


def visit(org: str, reg: str = "RJ-0001", start: dt.datetime = ARRIVAL) -> Encounter:
    return outpatient_encounter(
        patient=PATIENT,
        practitioner=DOCTOR,
        location=ROOM,
        visit_id=reg,
        organization_id=org,
        start=start,
    )


@pytest.fixture
async def sb() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=10) as sandbox:
        yield sandbox


@pytest.fixture
async def client(sb: LocalSandbox) -> AsyncIterator[SatuSehatClient]:
    async with sb.client() as c:
        yield c


async def send(client: SatuSehatClient, org: str, reg: str = "RJ-0001") -> Any:
    return await rawat_jalan(
        client,
        encounter=visit(org, reg),
        diagnoses=[("K35.8", "Acute appendicitis, other and unspecified"), ("J06.9", "ARI")],
        vital_signs={"heart_rate": 80, "systolic": 120, "temperature": 36.6},
    )


def test_encounter_builders_speak_satusehat() -> None:
    built = visit("10000004")
    plain = msgspec.json.decode(msgspec.json.encode(built))
    assert plain["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    }
    assert plain["status"] == "arrived"
    assert plain["statusHistory"] == [
        {"status": "arrived", "period": {"start": "2025-03-10T01:00:00+00:00"}}
    ]
    assert plain["period"] == {"start": "2025-03-10T01:00:00+00:00"}
    assert plain["identifier"] == [
        {"use": "official", "system": f"{LOCAL}/encounter/10000004", "value": "RJ-0001"}
    ]
    assert plain["serviceProvider"] == {"reference": "Organization/10000004"}
    assert plain["subject"] == {"reference": "Patient/P02478375538", "display": "Budi Santoso"}
    (participant,) = plain["participant"]
    assert participant["type"][0]["coding"][0]["code"] == "ATND"
    assert participant["individual"]["reference"] == "Practitioner/10009880728"
    assert plain["location"][0]["location"]["reference"] == f"Location/{ROOM[0]}"
    for build, code in ((inpatient_encounter, "IMP"), (emergency_encounter, "EMER")):
        other = build(
            patient=PATIENT,
            practitioner=DOCTOR,
            location=ROOM,
            visit_id="X-1",
            organization_id="10000004",
            start=ARRIVAL,
        )
        assert other.class_ is not None and other.class_.code == code


def test_builders_refuse_naive_and_too_old_times_and_missing_org() -> None:
    with pytest.raises(ValidationError, match="naive"):
        visit("10000004", start=dt.datetime(2025, 3, 10, 8, 0))
    with pytest.raises(ValidationError, match="2014-06-03"):
        visit("10000004", start=dt.datetime(2014, 6, 2, 8, 0, tzinfo=dt.timezone.utc))
    with pytest.raises(ValidationError, match="organization_id is required"):
        outpatient_encounter(
            patient=PATIENT,
            practitioner=DOCTOR,
            location=ROOM,
            visit_id="RJ-1",
            organization_id=None,
            start=ARRIVAL,
        )


async def test_rawat_jalan_stores_the_visit_with_every_reference(
    sb: LocalSandbox, client: SatuSehatClient
) -> None:
    org = sb.organization_id
    stored = await send(client, org)
    assert stored.created and len(stored.transaction.entries) == 6
    counts = [sb.resources.count(t) for t in ("Encounter", "Condition", "Observation")]
    assert counts == [1, 2, 3]
    enc = sb.resources.get("Encounter", stored.encounter_id)
    assert enc is not None
    # the Encounter's diagnoses are the two Conditions, DD, ranked in order
    assert [d["condition"]["reference"] for d in enc["diagnosis"]] == [
        f"Condition/{i}" for i in stored.condition_ids
    ]
    assert [d["rank"] for d in enc["diagnosis"]] == [1, 2]
    assert {d["use"]["coding"][0]["code"] for d in enc["diagnosis"]} == {"DD"}
    for cid, icd in zip(stored.condition_ids, ["K35.8", "J06.9"], strict=True):
        cond = sb.resources.get("Condition", cid)
        assert cond is not None
        assert cond["encounter"]["reference"] == f"Encounter/{stored.encounter_id}"
        assert cond["subject"]["reference"] == "Patient/P02478375538"
        assert cond["code"]["coding"][0] == {
            "system": "http://hl7.org/fhir/sid/icd-10",
            "code": icd,
            "display": cond["code"]["coding"][0]["display"],
        }
        assert cond["identifier"][0]["system"] == f"{LOCAL}/condition/{org}"
    expected = {
        "heart_rate": ("8867-4", "/min"),
        "systolic": ("8480-6", "mm[Hg]"),
        "temperature": ("8310-5", "Cel"),
    }
    assert set(stored.observation_ids) == set(expected)
    for name, oid in stored.observation_ids.items():
        obs = sb.resources.get("Observation", oid)
        assert obs is not None
        assert obs["encounter"]["reference"] == f"Encounter/{stored.encounter_id}"
        assert obs["code"]["coding"][0]["code"] == expected[name][0]
        assert obs["valueQuantity"]["code"] == expected[name][1]
        assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
        assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
        assert obs["effectiveDateTime"] == "2025-03-10T01:00:00+00:00"
        assert obs["performer"] == [{"reference": "Practitioner/10009880728"}]
    # the returned Encounter is ready for a PUT: its id, diagnoses by stored id
    assert stored.encounter.id == stored.encounter_id
    assert stored.encounter.diagnosis is not None
    assert stored.encounter.diagnosis[0].condition.reference == (
        f"Condition/{stored.condition_ids[0]}"
    )


async def test_rawat_jalan_again_creates_nothing(sb: LocalSandbox, client: SatuSehatClient) -> None:
    first = await send(client, sb.organization_id)
    again = await send(client, sb.organization_id)
    assert not again.created
    assert all(not e.created for e in again.transaction.entries)
    assert again.transaction.ids() == first.transaction.ids()
    counts = [sb.resources.count(t) for t in ("Encounter", "Condition", "Observation")]
    assert counts == [1, 2, 3]


async def test_rawat_jalan_with_procedures_and_typed_vital_signs(
    sb: LocalSandbox, client: SatuSehatClient
) -> None:
    stored = await rawat_jalan(
        client,
        encounter=visit(sb.organization_id, "RJ-0002"),
        diagnoses=[("K35.8", "Acute appendicitis")],
        vital_signs=VitalSigns(heart_rate=72, diastolic=80),
        procedures=[("47.09", "Other appendectomy")],
        observed_at=ARRIVAL + dt.timedelta(minutes=30),
    )
    (pid,) = stored.procedure_ids
    proc = sb.resources.get("Procedure", pid)
    assert proc is not None and proc["status"] == "completed"
    assert proc["encounter"]["reference"] == f"Encounter/{stored.encounter_id}"
    assert proc["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-9-cm"
    obs = sb.resources.get("Observation", stored.observation_ids["diastolic"])
    assert obs is not None and obs["effectiveDateTime"] == "2025-03-10T01:30:00+00:00"


async def test_rawat_jalan_refuses_before_sending(
    sb: LocalSandbox, client: SatuSehatClient
) -> None:
    base = visit(sb.organization_id)
    with pytest.raises(ValidationError, match="unknown vital sign 'pulse'"):
        await rawat_jalan(client, encounter=base, diagnoses=[("A", "a")], vital_signs={"pulse": 1})
    with pytest.raises(ValidationError, match="given twice"):
        await rawat_jalan(client, encounter=base, diagnoses=[("A", "a"), ("A", "b")])
    with pytest.raises(ValidationError, match="at least one"):
        await rawat_jalan(client, encounter=base, diagnoses=[])
    with pytest.raises(ValidationError, match="naive"):
        await rawat_jalan(
            client,
            encounter=base,
            diagnoses=[("A", "a")],
            observed_at=dt.datetime(2025, 3, 10, 9, 0),
        )
    with pytest.raises(ValidationError, match="RuleNumber 10117"):
        await rawat_jalan(client, encounter=visit("99999999"), diagnoses=[("A", "a")])
    assert sb.resources.count("Encounter") == 0


async def test_advance_to_in_progress_and_finished_by_update(
    sb: LocalSandbox, client: SatuSehatClient
) -> None:
    stored = await send(client, sb.organization_id)
    api = client.fhir(Encounter)
    assessed = ARRIVAL + dt.timedelta(minutes=20)
    discharged = ARRIVAL + dt.timedelta(hours=1)
    moved = await api.update(advance(stored.encounter, "in-progress", at=assessed))
    assert moved.status == "in-progress"
    done = await api.update(advance(moved, "finished", at=discharged))
    enc = sb.resources.get("Encounter", stored.encounter_id)
    assert enc is not None and enc["status"] == "finished" and done.status == "finished"
    assert enc["statusHistory"] == [
        {
            "status": "arrived",
            "period": {"start": "2025-03-10T01:00:00+00:00", "end": "2025-03-10T01:20:00+00:00"},
        },
        {
            "status": "in-progress",
            "period": {"start": "2025-03-10T01:20:00+00:00", "end": "2025-03-10T02:00:00+00:00"},
        },
        {
            "status": "finished",
            "period": {"start": "2025-03-10T02:00:00+00:00", "end": "2025-03-10T02:00:00+00:00"},
        },
    ]
    assert enc["period"] == {
        "start": "2025-03-10T01:00:00+00:00",
        "end": "2025-03-10T02:00:00+00:00",
    }
    assert [d["condition"]["reference"] for d in enc["diagnosis"]] == [
        f"Condition/{i}" for i in stored.condition_ids
    ]
    assert sb.resources.count("Encounter") == 1


def test_advance_refuses_what_the_chain_forbids() -> None:
    arrived = visit("10000004")
    later = ARRIVAL + dt.timedelta(hours=1)
    with pytest.raises(ValidationError, match="goes to in-progress before finished"):
        advance(arrived, "finished", at=later)
    with pytest.raises(ValidationError, match="naive"):
        advance(arrived, "in-progress", at=dt.datetime(2025, 3, 10, 9, 0))
    with pytest.raises(ValidationError, match="before the Encounter became arrived"):
        advance(arrived, "in-progress", at=ARRIVAL - dt.timedelta(minutes=1))
    moving = advance(arrived, "in-progress", at=later)
    with pytest.raises(ValidationError, match="cannot go back to in-progress"):
        advance(moving, "in-progress", at=later)
    done = advance(moving, "finished", at=later)
    with pytest.raises(ValidationError, match="cannot go back to in-progress"):
        advance(done, "in-progress", at=later)
    with pytest.raises(ValidationError, match="in-progress' or 'finished'"):
        advance(done, "arrived", at=later)  # type: ignore[arg-type]
    # the input is never changed: a transition is a new Encounter
    assert arrived.status == "arrived" and arrived.status_history is not None
    assert len(arrived.status_history) == 1
