"""Issue 12: SATUSEHAT's time rules (RuleNumber 10132) before sending, on every write path.

Aware datetimes (objects or ISO strings with WIB/WITA/WIT or ``Z``) are sent as UTC
``+00:00``; naive ones and visit times before 2014-06-03 are refused with one message
naming the element; plain dates and birth dates are left alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _support import RecordingSleep

from satusehat_async import SatuSehatClient
from satusehat_async.errors import ValidationError
from satusehat_async.fhir import (
    Encounter,
    EncounterStatusHistory,
    Observation,
    Patient,
    Period,
    Transaction,
)
from satusehat_async.http import BackendRequest
from satusehat_async.resource import transaction
from satusehat_async.testing import MockBackend

BASE = "https://api.example.test"
FHIR = BASE + "/fhir-r4/v1"
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def __call__(self, request: BackendRequest) -> Any:
        if "oauth2" in request.url:
            return 200, {"access_token": "tok", "expires_in": "3600"}
        if request.method == "GET":
            return 200, {"resourceType": "Bundle", "type": "searchset", "total": 0}
        body = request.json()
        self.sent.append(body)
        if request.url == FHIR:
            entries = [
                {"response": {"status": "201 Created", "location": f"{e['request']['url']}/x{i}"}}
                for i, e in enumerate(body["entry"])
            ]
            return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return (201 if request.method == "POST" else 200), {**body, "id": body.get("id", "e1")}


def client_for(store: Recorder) -> SatuSehatClient:
    return SatuSehatClient(
        "id", "secret", base_url=BASE, backend=MockBackend(store), sleep=RecordingSleep()
    )


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2024-07-01T08:00:00+07:00", "2024-07-01T01:00:00+00:00"),  # WIB
        ("2024-07-01T08:00:00+08:00", "2024-07-01T00:00:00+00:00"),  # WITA
        ("2024-07-01T08:00:00+09:00", "2024-06-30T23:00:00+00:00"),  # WIT, the day before
        ("2024-07-01T08:00:00Z", "2024-07-01T08:00:00+00:00"),
        ("2024-07-01T08:00+07:00", "2024-07-01T01:00:00+00:00"),  # seconds added
        ("2024-07-01T08:00:00.250+07:00", "2024-07-01T01:00:00.250+00:00"),
        ("2024-07-01T01:00:00+00:00", "2024-07-01T01:00:00+00:00"),
        (dt.datetime(2024, 7, 1, 8, 0, tzinfo=WIB), "2024-07-01T01:00:00+00:00"),
        (dt.datetime(2024, 7, 1, 1, 0, tzinfo=dt.timezone.utc), "2024-07-01T01:00:00+00:00"),
    ],
)
async def test_create_sends_times_as_utc(given: Any, sent: str) -> None:
    store = Recorder()
    async with client_for(store) as client:
        await client.fhir(Encounter).create(
            Encounter(
                status="arrived",
                period=Period(start=given),
                status_history=[
                    EncounterStatusHistory(status="arrived", period=Period(start=given))
                ],
            )
        )
        await client.fhir(Observation).create(
            {"resourceType": "Observation", "status": "final", "effectiveDateTime": given}
        )
    encounter, observation = store.sent
    assert encounter["period"]["start"] == sent
    assert encounter["statusHistory"][0]["period"]["start"] == sent
    assert observation["effectiveDateTime"] == sent


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        (Encounter(period=Period(start=dt.datetime(2024, 7, 1, 8, 0))), "Encounter.period.start"),
        ({"resourceType": "Encounter", "period": {"end": "2024-07-01T08:00:00"}}, "period.end"),
        (
            {
                "resourceType": "Encounter",
                "statusHistory": [{"period": {"start": "2024-07-01 08:00"}}],
            },
            r"Encounter.statusHistory\[0\].period.start",
        ),
        (
            {"resourceType": "Encounter", "period": {"start": "2014-06-02T23:00:00+00:00"}},
            "2014-06-03",
        ),
        ({"resourceType": "Encounter", "period": {"start": "2013-12-31"}}, "2014-06-03"),
        (
            {"resourceType": "Encounter", "period": {"start": "2014-06-03T05:00:00+07:00"}},
            "2014-06-03",  # 2014-06-02T22:00 UTC
        ),
    ],
)
async def test_naive_and_too_old_times_are_refused_before_sending(resource: Any, path: str) -> None:
    store = Recorder()
    async with client_for(store) as client:
        with pytest.raises(ValidationError, match=path) as caught:
            await client.fhir(Encounter).create(resource)
        assert "nothing was sent" in str(caught.value)
        with pytest.raises(ValidationError, match=path):
            Transaction().add(resource)
        with pytest.raises(ValidationError, match=path):
            await client.fhir(Encounter).update(
                {**client_dict(resource), "id": "e1"} if isinstance(resource, dict) else resource
            )
    assert store.sent == []


def client_dict(resource: dict[str, Any]) -> dict[str, Any]:
    return dict(resource)


async def test_dates_birth_dates_and_text_are_left_alone() -> None:
    store = Recorder()
    async with client_for(store) as client:
        await client.fhir(Patient).create(
            Patient(
                birth_date="1980-12-03",
                deceased_date_time="2001-01-01T10:00:00+07:00",  # converted, not bounded
            )
        )
        await client.fhir(Observation).create(
            {
                "resourceType": "Observation",
                "status": "final",
                "effectiveDateTime": "2024-07-14",
                "valueString": "2024-07-01T08:00:00",  # text, not a time
                "identifier": [{"system": "https://x.example", "value": "2010-01-01T08:00"}],
            }
        )
    patient, observation = store.sent
    assert patient["birthDate"] == "1980-12-03"
    assert patient["deceasedDateTime"] == "2001-01-01T03:00:00+00:00"
    assert observation["effectiveDateTime"] == "2024-07-14"
    assert observation["valueString"] == "2024-07-01T08:00:00"
    assert observation["identifier"][0]["value"] == "2010-01-01T08:00"


async def test_condition_onset_before_2014_is_allowed() -> None:
    store = Recorder()
    async with client_for(store) as client:
        await client.fhir("Condition").create(
            {"resourceType": "Condition", "onsetDateTime": "2010-05-01T00:00:00+07:00"}
        )
    assert store.sent[0]["onsetDateTime"] == "2010-04-30T17:00:00+00:00"


async def test_transaction_entries_are_sent_as_utc() -> None:
    store = Recorder()
    tx = Transaction()
    tx.add(Encounter(status="arrived", period=Period(start=dt.datetime(2024, 7, 1, 8, tzinfo=WIB))))
    async with client_for(store) as client:
        await transaction(client, tx)
    (bundle,) = store.sent
    assert bundle["entry"][0]["resource"]["period"]["start"] == "2024-07-01T01:00:00+00:00"
