"""Issue 13: consent (OPTIN / OPTOUT) and the consent-guarded read, against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from satusehat_async import (
    BadRequestError,
    ConsentError,
    ConsentRequiredError,
    ValidationError,
)
from satusehat_async.consent import consent_action
from satusehat_async.fhir import Consent, Observation
from satusehat_async.sandbox import LocalSandbox
from satusehat_async.sandbox.consent_routes import CONSENT_PATH, enable_consent_guard

PATIENT = "P02478375538"  # a published sandbox dummy patient
OTHER = "P03647103112"
AGENT = "Budi Santoso"


@pytest.fixture
def satusehat_sandbox_options() -> dict[str, Any]:
    return {"facilities": 10, "seed": 3}


def _observation(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _consent_requests(sb: LocalSandbox) -> int:
    return sum(n for key, n in sb.stats.requests_by_path.items() if CONSENT_PATH in key)


async def test_optin_read_back_optout(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    consent = satusehat_client.consent
    assert await consent.get(PATIENT) is None  # never asked: no record
    opted_in = await consent.update(PATIENT, action="OPTIN", agent=AGENT)
    assert isinstance(opted_in, Consent)
    assert opted_in.patient is not None and opted_in.patient.reference == f"Patient/{PATIENT}"
    assert consent_action(opted_in) == "OPTIN"
    read_back = await consent.get(PATIENT)
    assert read_back is not None and read_back.id == opted_in.id
    assert consent_action(read_back) == "OPTIN"
    opted_out = await consent.update(PATIENT, action="optout", agent=AGENT)
    assert consent_action(opted_out) == "OPTOUT" and opted_out.id == opted_in.id
    assert await consent.action(PATIENT) == "OPTOUT"
    assert await consent.action(OTHER) is None


async def test_guarded_read_raises_the_right_error_in_each_state(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    sb = satusehat_sandbox
    stored = sb.resources.add(_observation(PATIENT))
    sb.resources.add(_observation(OTHER))
    api = satusehat_client.fhir(Observation)

    async def search() -> list[Any]:
        return [o async for o in api.search(subject=f"Patient/{PATIENT}")]

    assert len(await search()) == 1  # the guard is off by default
    enable_consent_guard(sb)
    # never opted in: 400 forbidden -> ConsentRequiredError (not a ConsentError)
    with pytest.raises(ConsentRequiredError) as refused:
        await search()
    assert not isinstance(refused.value, ConsentError)
    assert isinstance(refused.value, BadRequestError) and refused.value.status == 400
    assert not refused.value.retryable
    with pytest.raises(ConsentRequiredError):
        await api.get(stored["id"])
    before = sb.stats.requests
    with pytest.raises(ConsentRequiredError):
        await search()
    assert sb.stats.requests == before + 1  # not retried
    # opted in: the data flows
    await satusehat_client.consent.update(PATIENT, action="OPTIN", agent=AGENT)
    assert [o.id for o in await search()] == [stored["id"]]
    assert (await api.get(stored["id"])).id == stored["id"]
    # opted out: 200 suppressed -> ConsentError
    await satusehat_client.consent.update(PATIENT, action="OPTOUT", agent=AGENT)
    with pytest.raises(ConsentError) as withheld:
        await search()
    assert not isinstance(withheld.value, ConsentRequiredError)
    assert withheld.value.status == 200 and not withheld.value.retryable
    with pytest.raises(ConsentError):
        await api.get(stored["id"])
    # another patient never opted in; a patient-less read is not guarded
    with pytest.raises(ConsentRequiredError):
        await api.get(sb.resources.ids("Observation")[1])
    enable_consent_guard(sb, False)
    assert len(await search()) == 1


@pytest.mark.parametrize(
    ("patient", "action", "agent"),
    [
        ("3171012345678901", "OPTIN", AGENT),  # a NIK, not an IHS number
        ("P0247837553", "OPTIN", AGENT),  # 10 digits
        (12345, "OPTIN", AGENT),
        (PATIENT, "YES", AGENT),
        (PATIENT, None, AGENT),
        (PATIENT, "OPTIN", "   "),
        (PATIENT, "OPTIN", None),
        (PATIENT, "OPTIN", "x" * 201),
        (PATIENT, "OPTIN", "Budi\nSantoso"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any, patient: Any, action: Any, agent: Any
) -> None:
    with pytest.raises(ValidationError) as error:
        await satusehat_client.consent.update(patient, action=action, agent=agent)
    message = str(error.value)
    assert "3171012345678901" not in message and "Santoso" not in message
    if isinstance(patient, str) and not patient.startswith("P0247837553"):
        with pytest.raises(ValidationError):
            await satusehat_client.consent.get(patient)
    assert _consent_requests(satusehat_sandbox) == 0


async def test_agent_name_is_masked_in_messages(satusehat_client: Any) -> None:
    with pytest.raises(ValidationError) as error:
        await satusehat_client.consent.update(PATIENT, action="OPTIN", agent="Budi\tSantoso")
    assert "B*** S******" in str(error.value) and "Budi" not in str(error.value)


async def test_unknown_patient_is_the_servers_refusal(satusehat_client: Any) -> None:
    with pytest.raises(BadRequestError) as error:
        await satusehat_client.consent.get("P09999999999")
    assert not isinstance(error.value, ConsentRequiredError)
    assert error.value.operation_outcome is not None


async def test_a_patient_of_the_mpi_is_known(
    satusehat_sandbox: LocalSandbox, satusehat_client: Any
) -> None:
    answer = satusehat_sandbox.patients.create(
        b'{"resourceType":"Patient","identifier":[{"system":"https://fhir.kemkes.go.id/id/nik",'
        b'"value":"3171012345678901"}],"name":[{"text":"Siti Aminah"}],"gender":"female",'
        b'"birthDate":"1990-01-01"}',
        "application/json",
        None,
    )
    patient_id = satusehat_sandbox.patients.ids[0]
    assert answer.committed
    consent = await satusehat_client.consent.update(patient_id, action="OPTIN", agent=AGENT)
    assert consent_action(consent) == "OPTIN"


async def test_only_the_services_not_found_means_no_record() -> None:
    from satusehat_async import NotFoundError, SatuSehatClient
    from satusehat_async.testing import MockBackend

    answers = {"body": b""}

    def handler(request: Any) -> Any:
        if "accesstoken" in request.url:
            return 200, {"access_token": "t", "expires_in": "3600"}
        return 404, {}, answers["body"]

    backend = MockBackend(handler)
    async with SatuSehatClient("id", "secret", base_url="https://x.test", backend=backend) as c:
        with pytest.raises(NotFoundError):  # an empty 404: a wrong URL, not "no consent"
            await c.consent.get(PATIENT)
        answers["body"] = (
            b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
            b'"code":"not-found","details":{"text":"no consent"}}]}'
        )
        assert await c.consent.get(PATIENT) is None
    assert backend.requests[-1].url == f"https://x.test/consent/v1/Consent?patient_id={PATIENT}"
