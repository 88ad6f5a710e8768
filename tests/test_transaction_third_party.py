"""Visit transactions (``client.transaction``) against a real third-party FHIR R4 server.

The server is Medplum's engine behind a SATUSEHAT-style OAuth2 adapter
(tests/fhir_server.py). A visit is an Encounter, 2 Conditions and 3 vital-sign
Observations with local identifiers of the client's organization, UTC ``+00:00`` times,
and every reference to the Encounter or a Condition a ``urn:uuid`` of the Bundle. Judged
by what the server holds: every entry created, every reference resolved to the created
Encounter, a re-submission creating nothing (even after the answer of the first one was
lost), and concurrent visits leaving exactly one record per entry. Each test uses an
organization id of its own, so its counts see only its records.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fhir_server import FhirServerInfo, fhir_server_oauth  # noqa: F401
from test_fhir_third_party import FaultyBackend

from satusehat_async import SatuSehatClient
from satusehat_async.fhir import Transaction, TransactionResult

PATIENT = "Patient/unknown"  # the engine does not check references to other records
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
KINDS = ("Encounter", "Condition", "Observation")
VISIT_TYPES = ["Encounter", "Condition", "Condition", "Observation", "Observation", "Observation"]


@dataclass
class Harness:
    """A client of one organization on the third-party server, and its recorded backend."""

    client: SatuSehatClient
    backend: FaultyBackend
    org: str

    def system(self, kind: str) -> str:
        return f"http://sys-ids.kemkes.go.id/{kind.lower()}/{self.org}"

    async def held(self, kind: str) -> list[dict[str, Any]]:
        """Every ``kind`` the server holds with this organization's local identifier."""
        url = f"{self.client.fhir_url}/{kind}"
        params = {"identifier": f"{self.system(kind)}|", "_count": "1000"}
        found = await self.client.request("GET", url, params=params)
        assert "next" not in {link.get("relation") for link in found.get("link", [])}
        return [entry["resource"] for entry in found.get("entry", [])]

    async def counts(self) -> tuple[int, ...]:
        return tuple([len(await self.held(kind)) for kind in KINDS])


@pytest.fixture
async def h(fhir_server_oauth: FhirServerInfo) -> AsyncIterator[Harness]:  # noqa: F811
    backend = FaultyBackend()
    org = str(random.randrange(10_000_000, 99_999_999))

    async def sleep(seconds: float) -> None:  # waits are not slept
        del seconds

    assert fhir_server_oauth.client_id and fhir_server_oauth.client_secret
    client = SatuSehatClient(
        fhir_server_oauth.client_id,
        fhir_server_oauth.client_secret,
        base_url=fhir_server_oauth.origin,
        backend=backend,
        organization_id=org,
        sleep=sleep,
    )
    try:
        async with client:
            yield Harness(client, backend, org)
    finally:
        await backend.aclose()


def visit(h: Harness, reg: str) -> Transaction:
    """The outpatient minimum, built with :class:`Transaction` (plain dicts as entries)."""
    tx = Transaction()
    enc = f"urn:uuid:{uuid.uuid4()}"
    conds = [f"urn:uuid:{uuid.uuid4()}" for _ in range(2)]
    start, end = "2026-11-30T01:00:00+00:00", "2026-11-30T02:00:00+00:00"
    encounter = {
        "resourceType": "Encounter",
        "identifier": [{"system": h.system("Encounter"), "value": reg}],
        "status": "arrived",
        "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": PATIENT},
        "period": {"start": start},
        "statusHistory": [{"status": "arrived", "period": {"start": start}}],
        "diagnosis": [{"condition": {"reference": c}, "rank": n} for n, c in enumerate(conds, 1)],
    }
    visit_ref = tx.add(encounter, full_url=enc)
    assert visit_ref.reference == enc
    for n, (url, icd) in enumerate(zip(conds, ["K35.8", "J06.9"], strict=True)):
        condition = {
            "resourceType": "Condition",
            "identifier": [{"system": h.system("Condition"), "value": f"{reg}-D{n}"}],
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
        }
        tx.add(condition, full_url=url)
    for n, loinc in enumerate(["8867-4", "8480-6", "8310-5"]):
        observation = {
            "resourceType": "Observation",
            "identifier": [{"system": h.system("Observation"), "value": f"{reg}-V{n}"}],
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": PATIENT},
            "encounter": {"reference": enc},
            "effectiveDateTime": end,
        }
        tx.add(observation)
    return tx


async def assert_resolved(h: Harness, result: TransactionResult) -> None:
    """Read back every Condition and Observation: it points at the created Encounter, and
    the Encounter's diagnoses at the created Conditions."""
    encounter_id = result.entries[0].id
    for entry in result.entries[1:]:
        stored = await h.client.fhir(entry.resource_type).get(entry.id)
        assert stored.encounter.reference == f"Encounter/{encounter_id}"
    encounter = await h.client.fhir("Encounter").get(encounter_id)
    assert [d.condition.reference for d in encounter.diagnosis] == [
        f"Condition/{e.id}" for e in result.entries[1:3]
    ]


async def test_a_visit_is_created_resolved_and_not_created_again(h: Harness) -> None:
    reg = f"TP-{uuid.uuid4().hex[:8]}"
    first = await h.client.transaction(visit(h, reg))
    assert [e.resource_type for e in first.entries] == VISIT_TYPES
    assert first.created and first.attempts == 1
    assert all(e.status.startswith("201") for e in first.entries)
    assert await h.counts() == (1, 2, 3)
    await assert_resolved(h, first)

    posts = len(h.backend.fhir_requests("POST"))
    again = await h.client.transaction(visit(h, reg))  # a new Bundle of the same visit
    assert again.ids() == first.ids()
    assert not any(e.created for e in again.entries) and again.attempts == 0
    assert len(h.backend.fhir_requests("POST")) == posts  # nothing was sent to be written
    assert await h.counts() == (1, 2, 3)


async def test_a_lost_answer_is_reconciled_not_resent(h: Harness) -> None:
    h.backend.faults.append(("POST", "drop"))  # the server commits; the answer is lost
    result = await h.client.transaction(visit(h, f"TP-{uuid.uuid4().hex[:8]}"))
    assert len(h.backend.fhir_requests("POST")) == 1  # sent once, found by identifier
    assert [e.resource_type for e in result.entries] == VISIT_TYPES
    assert await h.counts() == (1, 2, 3)
    await assert_resolved(h, result)


async def test_five_concurrent_visits_leave_exactly_five_ten_fifteen(h: Harness) -> None:
    regs = [f"TP-C{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    results = await asyncio.gather(*(h.client.transaction(visit(h, r)) for r in regs))
    assert all(r.created for r in results)
    assert await h.counts() == (5, 10, 15)
    for result in results:
        await assert_resolved(h, result)
    again = await asyncio.gather(*(h.client.transaction(visit(h, r)) for r in regs))
    assert [r.ids() for r in again] == [r.ids() for r in results]
    assert not any(e.created for r in again for e in r.entries)
    assert await h.counts() == (5, 10, 15)
