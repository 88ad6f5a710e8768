"""Lossless FHIR R4 Patient models: every element, primitive extensions, decimal digits."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from satusehat_async.errors import ValidationError
from satusehat_async.patients import (
    Address,
    Element,
    Extension,
    HumanName,
    Identifier,
    Patient,
    Quantity,
    decimal_value,
    fhir_decimal,
    nik_identifier,
)
from satusehat_async.patients import models as models_module

FIXTURES = Path(__file__).parent / "fixtures" / "patients"
PATIENT_FIXTURES = [
    "patient_every_element.json",
    "patient_primitive_extensions.json",
    "patient_every_extension_value.json",
    # issue 11: the metadata value[x] types (Dosage, DataRequirement ...) are typed now
    "patient_metadata_extension_values.json",
]
CAPTURED = Path(__file__).parent / "fixtures" / "captured"


def strict_json(data: bytes | str) -> Any:
    """JSON as Python objects where 1.50 != 1.5 and 1 != true != 1.0 (exact spellings)."""
    return json.loads(
        data, parse_float=lambda s: ("decimal", s), parse_int=lambda s: ("integer", s)
    )


def roundtrip(raw: bytes) -> bytes:
    return msgspec.json.encode(msgspec.json.decode(raw, type=Patient))


@pytest.mark.parametrize("name", PATIENT_FIXTURES)
def test_fixture_round_trips_losslessly(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    assert strict_json(roundtrip(raw)) == strict_json(raw)


@pytest.mark.parametrize("name", PATIENT_FIXTURES)
def test_round_trip_is_stable(name: str) -> None:
    once = roundtrip((FIXTURES / name).read_bytes())
    assert roundtrip(once) == once


_NOT_PRIMITIVE_ELEMENTS = {"resourceType", "id", "div"}
_EXTENSION_LISTS = {"extension", "modifierExtension"}
_NOTE = [{"url": "http://example.org/fhir/StructureDefinition/note", "valueString": "x"}]


def decorate(node: Any, *, is_extension: bool = False, path: str = "") -> Any:
    """The same resource with every element given an ``id`` and extensions, and every
    primitive a ``_name`` sibling: still a valid FHIR Patient, now using every ``_`` element.
    """
    if isinstance(node, list):
        return [decorate(item, is_extension=is_extension, path=path) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "contained" or key.startswith("_"):
            out[key] = value
            continue
        out[key] = decorate(value, is_extension=key in _EXTENSION_LISTS, path=f"{path}/{key}")
        primitive = not isinstance(value, (dict, list)) or (
            isinstance(value, list) and value and not isinstance(value[0], dict)
        )
        if not primitive or key in _NOT_PRIMITIVE_ELEMENTS or (is_extension and key == "url"):
            continue
        sibling = "_" + key
        if sibling in node:
            continue
        if isinstance(value, list):
            out[sibling] = [{"id": f"{path}/{key}/{i}"} for i in range(len(value))]
        else:
            out[sibling] = {"id": f"{path}/{key}", "extension": _NOTE}
    if path and node.get("resourceType") is None:
        out.setdefault("id", f"element:{path}")
        if not is_extension:  # an extension has a value or extensions, never both
            out.setdefault("extension", _NOTE)
    return out


def decorated_fixtures() -> list[bytes]:
    return [
        json.dumps(decorate(json.loads((FIXTURES / name).read_bytes()))).encode()
        for name in PATIENT_FIXTURES
    ]


@pytest.mark.parametrize("index", range(len(PATIENT_FIXTURES)))
def test_decorated_fixture_round_trips_losslessly(index: int) -> None:
    raw = decorated_fixtures()[index]
    assert strict_json(roundtrip(raw)) == strict_json(raw)


def _covered(value: Any, seen: set[tuple[str, str]]) -> None:
    """Record (struct type, field) for every element present in a decoded tree."""
    if isinstance(value, list):
        for item in value:
            _covered(item, seen)
        return
    if not isinstance(value, msgspec.Struct):
        return
    for field in msgspec.structs.fields(value):
        item = getattr(value, field.name)
        if item is None or (isinstance(item, msgspec.Raw) and not item):
            continue
        seen.add((type(value).__name__, field.name))
        _covered(item, seen)


def _all_fields(root: type[msgspec.Struct]) -> set[tuple[str, str]]:
    """Every (struct type, field) reachable from ``root``'s annotations."""
    found: set[tuple[str, str]] = set()
    todo: list[Any] = [root]
    done: set[Any] = set()
    while todo:
        cls = todo.pop()
        if cls in done:
            continue
        done.add(cls)
        info = msgspec.inspect.type_info(cls)
        for field in info.fields:  # type: ignore[attr-defined]
            found.add((cls.__name__, field.name))
            stack = [field.type]
            while stack:
                t = stack.pop()
                if isinstance(t, msgspec.inspect.StructType):
                    todo.append(t.cls)
                elif isinstance(t, msgspec.inspect.UnionType):
                    stack.extend(t.types)
                elif isinstance(t, msgspec.inspect.ListType):
                    stack.append(t.item_type)
    return found


def test_fixtures_together_use_every_element_of_every_type() -> None:
    seen: set[tuple[str, str]] = set()
    for name in PATIENT_FIXTURES:
        _covered(msgspec.json.decode((FIXTURES / name).read_bytes(), type=Patient), seen)
    plain = set(seen)
    for raw in decorated_fixtures():
        _covered(msgspec.json.decode(raw, type=Patient), seen)
    # the hand-written fixtures alone use every element except some ids/extensions
    assert not {f for f in _all_fields(Patient) - plain if not f[1].endswith("_ext")} - {
        f for f in _all_fields(Patient) if f[1] in ("id", "extension")
    }
    missing = _all_fields(Patient) - seen
    assert not missing, sorted(missing)
    # and the walk really reached the deep types
    assert ("TimingRepeat", "bounds_range") in seen
    assert ("Extension", "value_dosage") in seen


def test_every_r4_extension_value_type_is_declared() -> None:
    value_fields = {
        f.encode_name
        for f in msgspec.structs.fields(Extension)
        if f.encode_name.startswith("value")
    }
    assert len(value_fields) == 50


def test_decimal_digits_survive() -> None:
    raw = b'{"resourceType":"Patient","extension":[{"url":"u","valueDecimal":1.50}]}'
    patient = msgspec.json.decode(raw, type=Patient)
    assert msgspec.json.encode(patient) == raw
    assert patient.extension is not None
    value = patient.extension[0].value
    assert isinstance(value, Decimal)
    assert str(value) == "1.50"


def test_fhir_decimal_and_decimal_value() -> None:
    assert bytes(fhir_decimal("1.50")) == b"1.50"
    assert bytes(fhir_decimal(Decimal("2.000"))) == b"2.000"
    assert bytes(fhir_decimal(3)) == b"3"
    assert bytes(fhir_decimal(Decimal("1E+2"))) == b"100"  # FHIR decimals have no exponent
    assert decimal_value(fhir_decimal("0.10")) == Decimal("0.10")
    assert decimal_value(msgspec.Raw()) is None
    with pytest.raises(ValueError):
        fhir_decimal("abc")
    with pytest.raises(ValueError):
        fhir_decimal(float("nan"))
    with pytest.raises(ValidationError):  # issue 9: every refusal is a library error
        fhir_decimal(True)
    with pytest.raises(ValidationError):
        fhir_decimal(object())  # type: ignore[arg-type]
    quantity = Quantity(value=fhir_decimal("52.50"), unit="kg")
    assert msgspec.json.encode(quantity) == b'{"value":52.50,"unit":"kg"}'


def test_python_names_become_fhir_camel_case() -> None:
    patient = Patient(
        identifier=[nik_identifier("3174015203900002")],
        name=[HumanName(text="Siti", given=["Siti", None], given_ext=[None, Element(id="g")])],
        birth_date="1990-03-12",
        birth_date_ext=Element(extension=[Extension(url="u", value_date_time="1990-03-12T01:00")]),
        multiple_birth_integer=2,
        address=[Address(postal_code="10310")],
    )
    wire = json.loads(msgspec.json.encode(patient))
    assert wire["resourceType"] == "Patient"
    assert wire["birthDate"] == "1990-03-12"
    assert wire["_birthDate"] == {"extension": [{"url": "u", "valueDateTime": "1990-03-12T01:00"}]}
    assert wire["multipleBirthInteger"] == 2
    assert wire["name"] == [
        {"text": "Siti", "given": ["Siti", None], "_given": [None, {"id": "g"}]}
    ]
    assert wire["address"] == [{"postalCode": "10310"}]
    assert "active" not in wire  # absent elements are omitted, not null


def test_resource_type_is_checked_and_optional_on_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"resourceType":"Bundle"}', type=Patient)
    patient = msgspec.json.decode(b'{"gender":"male"}', type=Patient)
    assert patient.gender == "male"
    assert patient.resource_type == "Patient"


def test_identifier_properties() -> None:
    patient = msgspec.json.decode(
        (FIXTURES / "patient_every_element.json").read_bytes(), type=Patient
    )
    assert patient.nik == "3174015203900002"
    assert patient.ihs_number == "P02478375538"
    assert patient.nik_ibu is None
    baby = msgspec.json.decode(
        (FIXTURES / "patient_primitive_extensions.json").read_bytes(), type=Patient
    )
    assert baby.nik_ibu == "3174015203900002"
    assert baby.nik is None


def test_contained_resources_are_kept_verbatim() -> None:
    patient = msgspec.json.decode(
        (FIXTURES / "patient_every_element.json").read_bytes(), type=Patient
    )
    assert patient.contained is not None
    organization = msgspec.json.decode(patient.contained[0])
    assert organization["resourceType"] == "Organization"
    assert b"3.140" in bytes(patient.contained[0])


def test_extension_value_property_picks_the_set_value() -> None:
    assert Extension(url="u", value_code="WNI").value == "WNI"
    assert Extension(url="u", value_boolean=False).value is False
    assert Extension(url="u").value is None
    assert Extension(url="u", value_dosage=msgspec.Raw(b'{"text":"x"}')).value == {"text": "x"}


def test_models_module_docstring_example() -> None:
    # the example in models.py's docstring, run for real
    raw = b'{"resourceType":"Patient","birthDate":"2001-04-16","_birthDate":{"id":"b"}}'
    patient = msgspec.json.decode(raw, type=models_module.Patient)
    assert patient.birth_date_ext == Element(id="b")
    assert msgspec.json.encode(patient) == raw


def test_identifier_struct_equality() -> None:
    assert nik_identifier("3174015203900002") == Identifier(
        use="official", system="https://fhir.kemkes.go.id/id/nik", value="3174015203900002"
    )


@pytest.mark.skipif(not CAPTURED.is_dir(), reason="captured SATUSEHAT answers not available")
def test_captured_search_answers_round_trip() -> None:
    for path in sorted(CAPTURED.glob("*.json")):
        bundle = json.loads(path.read_bytes())
        for entry in bundle.get("entry") or []:
            raw = json.dumps(entry["resource"]).encode()
            assert strict_json(roundtrip(raw)) == strict_json(raw), path.name


# --- issue 11: one set of FHIR classes (the generated ones) ---------------------------

_REEXPORTED = [
    "Address",
    "Annotation",
    "Attachment",
    "BackboneElement",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "Element",
    "Extension",
    "FHIRModel",
    "HumanName",
    "Identifier",
    "Meta",
    "Money",
    "Narrative",
    "Patient",
    "PatientCommunication",
    "PatientContact",
    "PatientLink",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "Reference",
    "SampledData",
    "Signature",
    "Timing",
    "TimingRepeat",
    "NO_DECIMAL",
    "decimal_value",
    "fhir_decimal",
]


@pytest.mark.parametrize("name", _REEXPORTED)
def test_patients_reexports_the_generated_fhir_classes(name: str) -> None:
    import satusehat_async.fhir as fhir
    import satusehat_async.patients as patients

    assert getattr(patients, name) is getattr(fhir, name)


def test_old_model_module_paths_name_the_same_classes() -> None:
    import importlib

    import satusehat_async.fhir as fhir

    for module, names in {
        "models": ["Patient", "PatientCommunication", "PatientContact", "PatientLink"],
        "datatypes": ["Element", "Extension", "HumanName", "Identifier", "Quantity", "Meta"],
        "general_types": ["Address", "Coding", "Reference", "Narrative"],
        "complex_types": ["Money", "Timing", "TimingRepeat", "SampledData"],
        "extension": ["Extension"],
        "elements": ["Element", "BackboneElement", "FHIRModel", "fhir_decimal"],
    }.items():
        loaded = importlib.import_module(f"satusehat_async.patients.{module}")
        for name in names:
            assert getattr(loaded, name) is getattr(fhir, name), (module, name)


def test_conveniences_are_inherited_from_the_generators_mixins() -> None:
    import satusehat_async.fhir as fhir
    from satusehat_async.fhir.conveniences import (
        ExtensionConveniences,
        PatientConveniences,
        ResourceConveniences,
    )
    from tools.fhir_codegen.hooks import MIXINS

    assert MIXINS["Patient"][1] == "PatientConveniences"
    assert issubclass(fhir.Patient, PatientConveniences)
    assert issubclass(fhir.Extension, ExtensionConveniences)
    assert issubclass(fhir.Encounter, ResourceConveniences)
    for name in ("nik", "nik_ibu", "ihs_number", "resource_type"):
        assert name not in vars(fhir.Patient)  # inherited, not patched onto the class
    assert "value" not in vars(fhir.Extension)
    for mixin in (PatientConveniences, ExtensionConveniences, ResourceConveniences):
        assert mixin.__slots__ == ()  # properties only: no fields, nothing on the wire
    assert {"nik", "resource_type"}.isdisjoint(fhir.Patient.__struct_fields__)
    assert fhir.Encounter().resource_type == "Encounter"
    assert fhir.Observation().resource_type == "Observation"


def test_the_generated_patient_has_the_conveniences_when_loaded_first() -> None:
    # satusehat_async.fhir loaded before satusehat_async.patients: no import cycle
    import subprocess
    import sys

    code = (
        "from satusehat_async.fhir import Patient, Identifier\n"
        "p = Patient(identifier=[Identifier(system='https://fhir.kemkes.go.id/id/nik',"
        " value='3171014501900001')])\n"
        "print(p.nik, p.nik_ibu, p.resource_type)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.stdout.split() == ["3171014501900001", "None", "Patient"]


def test_metadata_extension_values_are_typed_and_read_by_value() -> None:
    import satusehat_async.fhir as fhir

    patient = msgspec.json.decode(
        (FIXTURES / "patient_metadata_extension_values.json").read_bytes(), type=Patient
    )
    assert patient.extension is not None
    values = {ext.url.rsplit("/", 1)[-1]: ext.value for ext in patient.extension}
    assert isinstance(values["dosage"], fhir.Dosage)
    assert values["dosage"].text == "1 tablet twice a day"
    assert isinstance(values["age"], fhir.Age)
    assert isinstance(values["age"], fhir.Quantity)  # Age is a Quantity profile
    assert decimal_value(values["age"].value) == Decimal("30")
    assert isinstance(values["usage-reference"], fhir.UsageContext)


def test_strict_decoding_checks_inside_typed_metadata_values() -> None:
    from satusehat_async.patients import patient_from_json

    raw = b'{"resourceType":"Patient","extension":[{"url":"u","valueDosage":{"txt":"x"}}]}'
    with pytest.raises(ValidationError, match=r"\$\.extension\[0\]\.valueDosage\.txt"):
        patient_from_json(raw)
