"""Issue 11: generated, lossless models for every FHIR R4 resource and datatype.

Every HL7 R4 example (tests/fixtures/fhir_examples, CC0) decodes into its class and
encodes back element for element, decimals digit for digit. Set SATUSEHAT_FHIR_PACKAGE to
an unpacked ``hl7.fhir.r4.examples@4.0.1`` ``package/`` directory (or to ``npm`` to fetch
it) to also run every resource in the package, conformance ones included, and to check
that the committed models are what the generator writes.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import satusehat_async.fhir as fhir
from satusehat_async.errors import ValidationError
from satusehat_async.fhir import _names

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "fhir_examples" / "r4-examples.ndjson.gz"
EXAMPLES = gzip.decompress(FIXTURE.read_bytes()).splitlines()


def as_values(data: bytes) -> Any:
    """JSON values with every decimal kept as its text (1.50 is not 1.5)."""
    return json.loads(data, parse_float=lambda text: ("decimal", text))


def example_id(line: bytes) -> str:
    head = json.loads(line)
    return f"{head['resourceType']}/{head.get('id', '?')}"


def test_the_fixture_is_the_whole_example_set() -> None:
    kinds = {json.loads(line)["resourceType"] for line in EXAMPLES}
    assert len(EXAMPLES) == 705
    assert {"Encounter", "Condition", "Observation", "Bundle", "MedicationRequest"} <= kinds
    assert len(kinds) >= 120


@pytest.mark.parametrize("line", EXAMPLES, ids=[example_id(x) for x in EXAMPLES])
def test_every_example_round_trips_element_for_element(line: bytes) -> None:
    resource = fhir.decode_resource(line)
    kind = json.loads(line)["resourceType"]
    assert type(resource).__name__ == kind
    assert as_values(msgspec.json.encode(resource)) == as_values(line)
    # And through its own class, as ``client.fhir(Encounter)`` decodes.
    own = msgspec.json.decode(line, type=getattr(fhir, kind))
    assert own == resource


def test_every_r4_resource_and_datatype_is_a_public_name() -> None:
    assert len(_names.RESOURCES) == 148  # 146 concrete R4 resources + Resource, DomainResource
    for name in [*_names.RESOURCES, *_names.DATATYPES]:
        cls = getattr(fhir, name)
        assert isinstance(cls, type) and issubclass(cls, fhir.FHIRModel), name
    assert fhir.AnyResource is not None and len(fhir.RESOURCE_TYPES) == 146
    assert fhir.PatientContact.__name__ == "PatientContact"  # backbones load by name too
    for name in ("Encounter", "Reference", "Identifier", "Quantity", "Bundle"):
        assert name in dir(fhir)


def test_resource_type_is_the_tag_and_a_wrong_one_is_refused() -> None:
    assert msgspec.json.encode(fhir.Encounter(status="planned")) == (
        b'{"resourceType":"Encounter","status":"planned"}'
    )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"resourceType":"Condition"}', type=fhir.Encounter)
    with pytest.raises(ValidationError):  # the library's own, a SatuSehatError
        fhir.decode_resource(b'{"resourceType":"NoSuchThing"}')


def test_decimals_keep_their_digits() -> None:
    raw = (
        b'{"resourceType":"Observation","status":"final","code":{"text":"t"},'
        b'"valueQuantity":{"value":1.50,"unit":"mg"},"_status":{"id":"x"}}'
    )
    obs = msgspec.json.decode(raw, type=fhir.Observation)
    assert obs.value_quantity is not None
    assert bytes(obs.value_quantity.value) == b"1.50"
    assert str(fhir.decimal_value(obs.value_quantity.value)) == "1.50"
    assert b'"value":1.50' in msgspec.json.encode(obs)
    assert as_values(msgspec.json.encode(obs)) == as_values(raw)
    built = fhir.Quantity(value=fhir.fhir_decimal("0.10"), unit="g")
    assert msgspec.json.encode(built) == b'{"value":0.10,"unit":"g"}'


def test_primitive_siblings_choices_and_keywords_use_fhir_names() -> None:
    raw = (
        b'{"resourceType":"Patient","birthDate":"2001-04-16",'
        b'"_birthDate":{"extension":[{"url":"u","valueDateTime":"2001-04-16T10:00:00+07:00"}]},'
        b'"deceasedBoolean":false,"name":[{"given":["A",null],"_given":[null,{"id":"g"}]}]}'
    )
    patient = msgspec.json.decode(raw, type=fhir.Patient)
    assert patient.birth_date_ext is not None and patient.birth_date_ext.extension is not None
    assert patient.birth_date_ext.extension[0].value_date_time == "2001-04-16T10:00:00+07:00"
    assert patient.deceased_boolean is False
    assert as_values(msgspec.json.encode(patient)) == as_values(raw)
    encounter = fhir.Encounter(status="finished", class_=fhir.Coding(code="AMB"))
    assert b'"class":{"code":"AMB"}' in msgspec.json.encode(encounter)


def test_a_bundle_decodes_its_entries_in_one_pass() -> None:
    raw = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 2,
            "entry": [
                {"resource": {"resourceType": "Encounter", "id": "e1", "status": "arrived"}},
                {
                    "resource": {"resourceType": "Condition", "id": "c1"},
                    "search": {"mode": "match"},
                },
            ],
        }
    ).encode()
    bundle = msgspec.json.decode(raw, type=fhir.Bundle)
    assert bundle.entry is not None
    assert [type(e.resource).__name__ for e in bundle.entry] == ["Encounter", "Condition"]


def test_contained_resources_are_kept_exactly_and_decode_on_request() -> None:
    raw = (
        b'{"resourceType":"MedicationRequest","contained":[{"resourceType":"Medication",'
        b'"id":"m","amount":{"numerator":{"value":2.50}}}],"status":"active","intent":"order"}'
    )
    request = msgspec.json.decode(raw, type=fhir.MedicationRequest)
    assert msgspec.json.encode(request) == raw
    (medication,) = fhir.contained_resources(request)
    assert isinstance(medication, fhir.Medication) and medication.id == "m"


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return done.stdout.strip()


def test_import_satusehat_async_loads_no_fhir_model() -> None:
    out = run_python(
        "import sys, satusehat_async, satusehat_async.fhir\n"
        "print(sorted(m for m in sys.modules if m.startswith('satusehat_async.fhir.')))"
    )
    assert out == "['satusehat_async.fhir._names']"


def test_a_resource_loads_only_its_own_module_and_the_datatypes() -> None:
    out = run_python(
        "import sys, msgspec\n"
        "from satusehat_async.fhir import Encounter\n"
        'msgspec.json.decode(b\'{"resourceType":"Encounter"}\', type=Encounter)\n'
        "print(sorted(m for m in sys.modules if m.startswith('satusehat_async.fhir.resources.')))"
    )
    assert out == (
        "['satusehat_async.fhir.resources._base', 'satusehat_async.fhir.resources.encounter']"
    )


# --- optional: the whole package, and the generator's output -------------------------


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("SATUSEHAT_FHIR_PACKAGE")
    if not where:
        pytest.skip("set SATUSEHAT_FHIR_PACKAGE to a package/ dir, or to 'npm' to fetch it")
    if where != "npm":
        return Path(where)
    tmp = tmp_path_factory.mktemp("fhir")
    subprocess.run(["npm", "pack", "hl7.fhir.r4.examples@4.0.1", "--silent"], cwd=tmp, check=True)
    with tarfile.open(next(tmp.glob("*.tgz"))) as archive:
        archive.extractall(tmp, filter="data")
    return tmp / "package"


def package_resources(package: Path) -> Iterator[bytes]:
    for path in sorted(package.glob("*.json")):
        if path.name not in ("package.json", ".index.json"):
            yield path.read_bytes()


def test_every_resource_in_the_package_round_trips(package: Path) -> None:
    failures = []
    count = 0
    for raw in package_resources(package):
        count += 1
        encoded = msgspec.json.encode(fhir.decode_resource(raw))
        if as_values(encoded) != as_values(raw):
            failures.append(example_id(raw))
    assert count > 5000
    assert failures == []


def test_the_committed_models_are_what_the_generator_writes(package: Path, tmp_path: Path) -> None:
    out = tmp_path / "fhir"
    subprocess.run(
        [sys.executable, "-m", "tools.fhir_codegen", "--package", str(package), "--out", str(out)],
        cwd=ROOT,
        check=True,
    )
    committed = ROOT / "satusehat_async" / "fhir"
    written = sorted(p.relative_to(out) for p in out.rglob("*.py"))
    assert written
    for rel in written:
        assert (committed / rel).read_text() == (out / rel).read_text(), rel


def test_decode_resource_refuses_non_resources_with_a_library_error() -> None:
    from satusehat_async.fhir import decode_resource

    for bad in (b'{"resourceType": "Encounterz"}', b"[", b"[" * 5000 + b"]" * 5000, b"{}"):
        with pytest.raises(ValidationError):
            decode_resource(bad)


def test_to_builtins_keeps_exact_decimals_where_msgspecs_cannot() -> None:
    import decimal

    from satusehat_async.fhir import decode_resource, to_builtins

    observation = decode_resource(
        b'{"resourceType":"Observation","status":"final","code":{"text":"t"},'
        b'"valueQuantity":{"value":36.50,"unit":"Cel"}}'
    )
    with pytest.raises(TypeError):
        msgspec.to_builtins(observation)
    plain = to_builtins(observation)
    assert plain["valueQuantity"]["unit"] == "Cel"
    assert decimal.Decimal(str(plain["valueQuantity"]["value"])) == decimal.Decimal("36.5")
    assert plain["resourceType"] == "Observation"
