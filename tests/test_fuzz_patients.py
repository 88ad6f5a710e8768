"""Fuzz: Patient decoding, the MPI's answers, JSON Patch builders and identifier validators.

Caller input (a Patient dict or JSON, a patch, a NIK, search arguments) is accepted or
refused with :class:`ValidationError`; server answers (a Patient, a search Bundle, a
create answer) decode or raise an :class:`APIError`. Valid inputs drawn from strategies
are accepted and round-trip losslessly.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import msgspec
from fuzz_strategies import (
    NASTY_STRINGS,
    deep_nesting,
    headers_strategy,
    hostile_bodies,
    json_bytes,
    json_values,
    load_fixtures,
    mutated_value,
)
from hypothesis import given
from hypothesis import strategies as st

from satusehat_async.errors import APIError, ValidationError
from satusehat_async.patients import (
    GENDERS,
    IHS_NUMBER_SYSTEM,
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    CreateResult,
    PatchOperation,
    Patient,
    decode_create_answer,
    decode_patient,
    decode_search_bundle,
    escape_token,
    fhir_decimal,
    ihs_number_identifier,
    is_valid_nik,
    nik_ibu_identifier,
    nik_identifier,
    parse_identifier_token,
    patient_from_json,
    pointer,
    replace,
    search_params,
    unescape_token,
    validate_ihs_number,
    validate_nik,
    validate_operations,
)
from satusehat_async.patients.answers import id_from_location
from satusehat_async.patients.capabilities import traits_from_capabilities
from satusehat_async.patients.idempotent import plan_create, to_patient

FIXTURES: list[Any] = load_fixtures("patients") + load_fixtures("captured")
PATIENTS: list[dict[str, Any]] = [
    doc for doc in FIXTURES if isinstance(doc, dict) and doc.get("resourceType") == "Patient"
]
BUNDLES: list[dict[str, Any]] = [
    doc for doc in FIXTURES if isinstance(doc, dict) and doc.get("resourceType") == "Bundle"
]
ENVELOPES: list[dict[str, Any]] = [
    doc for doc in FIXTURES if isinstance(doc, dict) and "success" in doc
]
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LONG_DIGITS = re.compile(r"[0-9]{12,}")


def test_the_seeds_are_there() -> None:
    # The mutations below are only as good as their seeds.
    assert len(PATIENTS) >= 3 and len(BUNDLES) >= 5 and len(ENVELOPES) >= 2


# --- valid inputs -------------------------------------------------------------------------


@st.composite
def niks(draw: st.DrawFn) -> str:
    """NIKs as the civil registry issues them (the rules of ``validate_nik``)."""
    province = draw(st.integers(11, 99))
    middle = draw(st.text(alphabet="0123456789", min_size=10, max_size=10))
    serial = draw(st.integers(1, 9999))
    nik = f"{province}{middle}{serial:04d}"
    if len(set(nik)) == 1:
        nik = nik[:-1] + ("1" if nik[-1] != "1" else "2")
    return nik


_words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@st.composite
def patient_documents(draw: st.DrawFn, *, newborn: bool | None = None) -> dict[str, Any]:
    """A FHIR Patient as a client would send it: an adult by NIK or a newborn by NIK-ibu."""
    baby = draw(st.booleans()) if newborn is None else newborn
    system = NIK_IBU_SYSTEM if baby else NIK_SYSTEM
    doc: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": system, "value": draw(niks())}],
        "birthDate": draw(st.dates()).isoformat(),
    }
    if baby:
        order = draw(st.one_of(st.integers(0, 5), st.just(False)))
        if order is False:
            doc["multipleBirthBoolean"] = False
        else:
            doc["multipleBirthInteger"] = order
    if draw(st.booleans()):
        doc["name"] = [{"use": "official", "text": draw(_words), "given": [draw(_words)]}]
    if draw(st.booleans()):
        doc["gender"] = draw(st.sampled_from(GENDERS))
    if draw(st.booleans()):
        doc["active"] = draw(st.booleans())
    if draw(st.booleans()):
        doc["telecom"] = [{"system": "phone", "value": draw(_words), "use": "mobile"}]
    if draw(st.booleans()):
        doc["address"] = [
            {"use": "home", "line": [draw(_words)], "city": draw(_words), "country": "ID"}
        ]
    if draw(st.booleans()):
        doc["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "id-ID"}]},
                "preferred": draw(st.booleans()),
            }
        ]
    return doc


@given(doc=patient_documents())
def test_valid_patients_are_accepted_and_round_trip(doc: dict[str, Any]) -> None:
    patient = to_patient(doc)
    assert msgspec.json.decode(msgspec.json.encode(patient)) == doc
    assert patient_from_json(json.dumps(doc).encode()) == patient
    plan = plan_create(doc)  # every drawn patient is fit to create
    sent = msgspec.json.decode(plan.body)
    if doc.get("multipleBirthBoolean") is False and "multipleBirthInteger" in sent:
        # The issue allows sending a single birth as the MPI's own `0`.
        assert sent.pop("multipleBirthInteger") == 0
        sent["multipleBirthBoolean"] = False
    assert sent == doc


@given(doc=st.sampled_from(PATIENTS))
def test_fixture_patients_round_trip_losslessly(doc: dict[str, Any]) -> None:
    patient = patient_from_json(json.dumps(doc).encode())
    assert msgspec.json.decode(msgspec.json.encode(patient)) == doc


# --- caller input: a Patient as a dict or as JSON -----------------------------------------


def _mutated_patients() -> st.SearchStrategy[Any]:
    seeds = st.one_of(st.sampled_from(PATIENTS), patient_documents())
    return seeds.flatmap(mutated_value).map(lambda pair: pair[0])


@given(value=st.one_of(_mutated_patients(), json_values(), st.builds(object), st.sets(st.text())))
def test_to_patient_accepts_or_raises_validation_error(value: Any) -> None:
    try:
        patient = to_patient(value)
    except ValidationError:
        return
    assert isinstance(patient, Patient)


@given(value=st.one_of(_mutated_patients(), json_values()))
def test_plan_create_accepts_or_raises_validation_error(value: Any) -> None:
    try:
        plan = plan_create(value)
    except ValidationError as refused:
        assert not _LONG_DIGITS.search(str(refused)), "a NIK reached the message"
        return
    assert plan.system in (NIK_SYSTEM, NIK_IBU_SYSTEM) and is_valid_nik(plan.value)


@given(body=st.one_of(hostile_bodies(PATIENTS), json_bytes(), deep_nesting()))
def test_patient_from_json_accepts_or_raises_validation_error(body: bytes) -> None:
    try:
        patient = patient_from_json(body)
    except ValidationError:
        return
    assert isinstance(patient, Patient)


# --- server answers -----------------------------------------------------------------------


@given(body=st.one_of(hostile_bodies(PATIENTS), json_bytes()), headers=headers_strategy())
def test_decode_patient_or_api_error(body: bytes, headers: dict[str, str]) -> None:
    try:
        patient = decode_patient(body, status=200, headers=headers)
    except APIError:
        return
    assert isinstance(patient, Patient)


@given(body=st.one_of(hostile_bodies(BUNDLES), json_bytes()), headers=headers_strategy())
def test_decode_search_bundle_or_api_error(body: bytes, headers: dict[str, str]) -> None:
    try:
        patients, bundle = decode_search_bundle(body, status=200, headers=headers)
    except APIError:
        return
    assert all(isinstance(p, Patient) for p in patients)
    next_url = bundle.next_url()
    assert next_url is None or isinstance(next_url, str)


@given(doc=st.sampled_from(BUNDLES))
def test_decode_search_bundle_accepts_real_answers(doc: dict[str, Any]) -> None:
    patients, _bundle = decode_search_bundle(json.dumps(doc).encode())
    entries = [e for e in doc.get("entry") or [] if e["resource"]["resourceType"] == "Patient"]
    assert [p.id for p in patients] == [e["resource"]["id"] for e in entries]


@given(
    status=st.sampled_from((200, 201, 202)),
    body=st.one_of(hostile_bodies([*PATIENTS, *ENVELOPES]), json_bytes(), st.just(b"")),
    headers=headers_strategy(),
    conditional=st.booleans(),
)
def test_decode_create_answer_or_api_error(
    status: int, body: bytes, headers: dict[str, str], conditional: bool
) -> None:
    try:
        result = decode_create_answer(status, body, headers, conditional=conditional)
    except APIError as refused:
        assert not _LONG_DIGITS.search(refused.message), "a NIK reached the message"
        return
    assert isinstance(result, CreateResult)
    assert _FHIR_ID.fullmatch(result.id) and result.id not in (".", "..")


@given(doc=st.sampled_from(ENVELOPES + PATIENTS))
def test_decode_create_answer_accepts_real_answers(doc: dict[str, Any]) -> None:
    result = decode_create_answer(201, json.dumps(doc).encode(), {})
    assert _FHIR_ID.fullmatch(result.id)


@given(location=st.one_of(st.none(), st.text(), st.sampled_from(NASTY_STRINGS)))
def test_id_from_location_any_text(location: str | None) -> None:
    found = id_from_location(location)
    assert found is None or _FHIR_ID.fullmatch(found)


# --- JSON Patch ---------------------------------------------------------------------------


def _utf8_encodable(value: Any) -> bool:
    # A lone surrogate cannot travel as UTF-8 JSON: replace() refuses it (tested elsewhere).
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True


_token_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=10)
_tokens = st.lists(st.one_of(_token_text, st.integers(0, 100)), min_size=1, max_size=4)
_patch_values = json_values(max_leaves=6).filter(lambda v: v is not None and _utf8_encodable(v))


@given(tokens=_tokens, value=_patch_values)
def test_replace_with_raw_tokens_round_trips(tokens: list[str | int], value: Any) -> None:
    path = pointer(*tokens)
    if path in ("/resourceType", "/id"):
        return
    try:
        operation = replace(tokens, value)
    except ValidationError as refused:
        # Only non-finite numbers are refused in a JSON value (none drawn here)
        raise AssertionError(f"a valid replace was refused: {refused}") from None
    assert operation.path == path
    assert [unescape_token(t) for t in path.split("/")[1:]] == [str(t) for t in tokens]
    again = validate_operations([{"op": "replace", "path": path, "value": value}])
    assert again == [operation]


@given(text=st.text())
def test_escape_token_round_trips(text: str) -> None:
    assert unescape_token(escape_token(text)) == text


_anything = st.one_of(
    json_values(max_leaves=6),
    st.builds(object),
    st.sets(st.integers()),
    st.binary(max_size=8),
    st.floats(),
)


@given(path=st.one_of(st.text(), _anything, _tokens), value=_anything)
def test_replace_accepts_or_raises_validation_error(path: Any, value: Any) -> None:
    try:
        operation = replace(path, value)
    except ValidationError:
        return
    assert isinstance(operation, PatchOperation) and operation.path.startswith("/")


_operation_dicts = st.dictionaries(
    st.sampled_from(("op", "path", "value", "from", "extra")),
    st.one_of(_anything, st.sampled_from(("replace", "add", "/name/0/text", "/id"))),
    max_size=4,
)


@given(
    operations=st.one_of(st.lists(st.one_of(_operation_dicts, _anything), max_size=4), _anything)
)
def test_validate_operations_accepts_or_raises_validation_error(operations: Any) -> None:
    try:
        checked = validate_operations(operations)
    except ValidationError:
        return
    assert checked and all(isinstance(op, PatchOperation) for op in checked)


# --- identifiers and search arguments -----------------------------------------------------


@given(nik=niks())
def test_valid_niks_are_accepted(nik: str) -> None:
    assert validate_nik(nik) == nik and validate_nik(f" {nik} ") == nik
    assert is_valid_nik(nik)
    assert nik_identifier(nik).value == nik
    assert nik_ibu_identifier(nik).system == NIK_IBU_SYSTEM
    assert search_params(nik=nik) == {"identifier": f"{NIK_SYSTEM}|{nik}"}


@given(value=st.one_of(st.text(), st.sampled_from(NASTY_STRINGS), _anything, niks()))
def test_nik_validators_accept_or_raise_validation_error(value: Any) -> None:
    try:
        nik = validate_nik(value)
    except ValidationError as refused:
        assert not _LONG_DIGITS.search(str(refused)), "the refused NIK reached the message"
        assert not is_valid_nik(value) or value != value.strip()
        return
    assert is_valid_nik(nik)
    for build in (nik_identifier, nik_ibu_identifier, ihs_number_identifier):
        with contextlib.suppress(ValidationError):
            build(value)


@given(value=st.one_of(st.text(), _anything, st.from_regex(r"P[0-9]{11}", fullmatch=True)))
def test_ihs_number_validator(value: Any) -> None:
    try:
        accepted = validate_ihs_number(value)
    except ValidationError as refused:
        assert not _LONG_DIGITS.search(str(refused))
        return
    assert re.fullmatch(r"P[0-9]{11}", accepted)
    assert ihs_number_identifier(accepted).system == IHS_NUMBER_SYSTEM


@given(token=st.one_of(st.text(), _anything))
def test_parse_identifier_token(token: Any) -> None:
    try:
        system, value = parse_identifier_token(token)
    except ValidationError:
        return
    assert system and value and f"{system}|{value}" == token


_search_values = st.one_of(
    st.none(), st.text(max_size=20), niks(), st.dates(), st.datetimes(), _anything
)


@given(
    arguments=st.dictionaries(
        st.sampled_from(("nik", "nik_ibu", "name", "birthdate", "gender", "identifier")),
        _search_values,
        max_size=4,
    )
)
def test_search_params_accepts_or_raises_validation_error(arguments: dict[str, Any]) -> None:
    try:
        params = search_params(**arguments)
    except ValidationError as refused:
        assert not _LONG_DIGITS.search(str(refused))
        return
    assert params and all(isinstance(v, str) for v in params.values())


@given(value=st.one_of(_anything, st.decimals(), st.text(), st.sampled_from(NASTY_STRINGS)))
def test_fhir_decimal_accepts_or_raises_validation_error(value: Any) -> None:
    try:
        raw = fhir_decimal(value)
    except ValidationError:
        return
    msgspec.json.decode(bytes(raw))  # a JSON number


# -- issue 14: a server's CapabilityStatement, whatever it holds -----------------------------

_CAPABILITY_SEEDS = [
    {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "Patient",
                        "conditionalCreate": True,
                        "extension": [
                            {
                                "url": "urn:satusehat-async:capability:unique-identifier",
                                "valueUri": NIK_SYSTEM,
                            }
                        ],
                    }
                ],
            }
        ],
    }
]


_ODD_REST = [
    5,
    "abc",
    None,
    [5],
    [{"resource": 7}],
    [{"resource": [{"type": "Patient", "extension": 3}]}],
]


@given(st.one_of(hostile_bodies(_CAPABILITY_SEEDS), json_bytes(), deep_nesting()))
def test_any_metadata_answer_is_read_as_traits_or_nothing(body: bytes) -> None:
    traits = traits_from_capabilities(body)
    if traits is not None:
        assert isinstance(traits.nik_unique, bool) and isinstance(traits.conditional_create, bool)
        assert traits.write_first == (traits.nik_unique or traits.conditional_create)


def test_odd_rest_shapes_are_no_declaration() -> None:
    for rest in _ODD_REST:
        body = json.dumps({"resourceType": "CapabilityStatement", "rest": rest}).encode()
        traits = traits_from_capabilities(body)
        assert traits is not None and not traits.write_first
