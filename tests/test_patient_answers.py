"""Decoding every known create answer, Patients, and masked search Bundles (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satusehat_async.errors import APIError, BadRequestError
from satusehat_async.patients import (
    CreateResult,
    Patient,
    decode_create_answer,
    decode_patient,
    decode_search_bundle,
    is_masked,
)
from satusehat_async.patients.answers import id_from_location

FIXTURES = Path(__file__).parent / "fixtures" / "patients"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -- create answers -----------------------------------------------------------------


def test_created_patient_resource() -> None:
    result = decode_create_answer(201, fixture("create_patient_resource.json"))
    assert result.id == "P02029102799"
    assert result.created is True
    assert isinstance(result.resource, Patient)
    assert result.resource.nik == "3273015708950003"


def test_conditional_create_match_is_not_a_creation() -> None:
    body = fixture("create_patient_resource.json")
    assert decode_create_answer(200, body, conditional=True).created is False
    assert decode_create_answer(201, body, conditional=True).created is True
    # without If-None-Exist a 200 is a (sloppy) plain create
    assert decode_create_answer(200, body).created is True


def test_success_envelope() -> None:
    result = decode_create_answer(201, fixture("create_success_envelope.json"))
    assert result == CreateResult(id="P02029102799", created=True, resource=None)


def test_duplicate_envelope_is_success_with_created_false() -> None:
    result = decode_create_answer(200, fixture("create_duplicate_envelope.json"))
    assert result == CreateResult(id="P02029102400", created=False)


@pytest.mark.parametrize(
    "data",
    [
        {"Patient ID:": "P00000000001"},
        {"Patient ID": "P00000000001"},
        {"patient_id": "P00000000001"},
        {"resourceID": "P00000000001"},
        {"id": "P00000000001"},
        "P00000000001",
    ],
)
def test_envelope_id_spellings(data: object) -> None:
    body = json.dumps({"success": True, "message": "ok", "data": data}).encode()
    assert decode_create_answer(200, body).id == "P00000000001"


def test_failed_envelope_without_id_is_an_error_with_its_message() -> None:
    body = b'{"success": false, "message": "NIK not found in Dukcapil", "data": null}'
    with pytest.raises(APIError, match="NIK not found in Dukcapil") as info:
        decode_create_answer(200, body, {"X-Request-Id": "rid-1"})
    assert info.value.status == 200
    assert info.value.request_id == "rid-1"
    assert info.value.body == json.loads(body)


def test_id_from_location_header_when_the_body_has_none() -> None:
    location = "https://x/fhir-r4/v1/Patient/P12345678901/_history/MTc"
    assert decode_create_answer(201, b"", {"Location": location}) == CreateResult(
        id="P12345678901", created=True
    )
    outcome = json.dumps(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "x"}]}
    ).encode()
    assert decode_create_answer(200, outcome, {"Location": location}, conditional=True) == (
        CreateResult(id="P12345678901", created=False)
    )
    patient_without_id = b'{"resourceType":"Patient","gender":"male"}'
    assert decode_create_answer(201, patient_without_id, {"Location": location}).id == (
        "P12345678901"
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"resourceType":"Patient"}', b'{"hello":"world"}', b"not json"],
)
def test_answers_without_an_id_are_errors(body: bytes) -> None:
    with pytest.raises(APIError):
        decode_create_answer(201, body)


def test_id_from_location() -> None:
    assert id_from_location("Patient/abc-1.2") == "abc-1.2"
    assert id_from_location("http://h/fhir-r4/v1/Patient/P1/_history/2") == "P1"
    assert id_from_location("http://h/Patient/P1?x=1") == "P1"
    assert id_from_location("http://h/Organization/1") is None
    assert id_from_location(None) is None


# -- Patients and search Bundles ----------------------------------------------------


def test_decode_patient_refuses_other_resources() -> None:
    with pytest.raises(APIError, match="OperationOutcome"):
        decode_patient(b'{"resourceType":"OperationOutcome","issue":[]}')
    with pytest.raises(APIError, match="undecodable"):
        decode_patient(b"")
    with pytest.raises(APIError, match="undecodable"):
        decode_patient(b'{"resourceType":"Patient","active":"yes"}')


def test_masked_search_by_nik() -> None:
    patients, bundle = decode_search_bundle(fixture("search_nik_masked.json"))
    assert bundle.total == 1
    (patient,) = patients
    assert patient.id == "P01234567890"
    assert patient.nik == "################"
    assert is_masked(patient.nik)
    assert patient.name is not None
    assert is_masked(patient.name[0].text)
    assert patient.link is not None and patient.link[0].type == "refer"


def test_search_by_name_birthdate_gender_decodes_everything() -> None:
    (patient,), _ = decode_search_bundle(fixture("search_name_birthdate_gender.json"))
    assert patient.gender == "female"
    assert patient.birth_date == "1995-08-17"
    assert patient.extension is not None
    assert patient.extension[1].value_code == "WNI"
    assert patient.address is not None and patient.address[0].line == ["Jl. Da*** ***"]
    assert patient.marital_status is not None
    assert patient.communication is not None and patient.communication[0].preferred is True


def test_search_by_nik_ibu_lists_babies_unmasked() -> None:
    patients, bundle = decode_search_bundle(fixture("search_nik_ibu_babies.json"))
    assert bundle.total == 4 == len(patients)
    assert [p.multiple_birth_integer for p in patients] == [1, 2, 0, 0]
    assert {p.nik_ibu for p in patients} == {"3273015708950003"}
    assert patients[0].name is not None and patients[0].name[0].text == "Bayi Ny. Dewi I"


def test_no_match_is_an_empty_list() -> None:
    patients, bundle = decode_search_bundle(fixture("search_not_found.json"))
    assert patients == []
    assert bundle.total == 0
    assert bundle.next_url() is None
    patients, _ = decode_search_bundle(b'{"resourceType":"Bundle","type":"searchset","total":0}')
    assert patients == []


def test_outcome_entries_are_skipped_and_next_link_found() -> None:
    body = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": "next", "url": "http://h/Patient?page=2"}],
            "entry": [
                {"resource": {"resourceType": "OperationOutcome", "issue": []}},
                {"resource": {"resourceType": "Patient", "id": "P1"}},
            ],
        }
    ).encode()
    patients, bundle = decode_search_bundle(body)
    assert [p.id for p in patients] == ["P1"]
    assert bundle.next_url() == "http://h/Patient?page=2"


def test_non_bundle_search_answer_is_an_error() -> None:
    with pytest.raises(APIError, match="undecodable search answer"):
        decode_search_bundle(b'{"resourceType":"OperationOutcome","issue":[]}')


# -- only FHIR ids are ids; a refusal is an error ---------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"success": False, "data": "NIK tidak ditemukan di Dukcapil"}, "NIK tidak ditemukan"),
        (
            {"success": False, "message": "Gagal", "data": "NIK tidak ditemukan di Dukcapil"},
            "Gagal",
        ),
        ({"success": False, "data": "P02029102427"}, "P02029102427"),  # a reason, not a dup
        ({"success": False, "data": {"resourceID": "not an id!"}}, "no patient id"),
        ({"success": False, "data": None}, "no patient id"),
    ],
)
def test_refusals_are_bad_requests(body: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequestError, match=message) as info:
        decode_create_answer(200, json.dumps(body).encode(), {"X-Request-Id": "rid-2"})
    assert (info.value.status, info.value.request_id) == (200, "rid-2")
    assert info.value.body == body


@pytest.mark.parametrize(
    "data",
    [
        "Patient berhasil dibuat",
        "",
        "P" * 65,
        "../Organization/1",
        {"Patient ID:": "berhasil dibuat"},
        {"id": 12345},
    ],
)
def test_success_without_a_fhir_id_is_an_error(data: object) -> None:
    body = json.dumps({"success": True, "data": data}).encode()
    with pytest.raises(APIError, match="no patient id") as info:
        decode_create_answer(201, body)
    assert not isinstance(info.value, BadRequestError)  # 2xx success: worth reconciling


def test_the_first_key_holding_a_fhir_id_wins() -> None:
    body = json.dumps({"success": True, "data": {"id": "not an id", "resourceID": "P1"}}).encode()
    assert decode_create_answer(201, body).id == "P1"


def test_a_patient_whose_id_is_no_fhir_id_is_an_error() -> None:
    with pytest.raises(APIError, match="no patient id"):
        decode_create_answer(201, b'{"resourceType":"Patient","id":"a b"}')


def test_refusal_messages_never_carry_a_full_nik() -> None:
    body = b'{"success": false, "data": "NIK 3171012345678901 tidak ditemukan"}'
    with pytest.raises(BadRequestError) as info:
        decode_create_answer(200, body)
    assert "3171012345678901" not in str(info.value)
    assert "3171********8901" in str(info.value)
