"""JSON Patch builders: replace only, JSON Pointer escaping, refusal before sending."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from satusehat_async.errors import ValidationError
from satusehat_async.patients import (
    HumanName,
    PatchOperation,
    escape_token,
    pointer,
    replace,
    unescape_token,
    validate_operations,
)


def test_replace_builds_the_documented_operation() -> None:
    op = replace("/language", "id")
    assert msgspec.json.encode([op]) == b'[{"op":"replace","path":"/language","value":"id"}]'


def test_tokens_are_escaped_tilde_first() -> None:
    assert escape_token("a/b") == "a~1b"
    assert escape_token("a~b") == "a~0b"
    assert escape_token("~1") == "~01"  # not "~1" turned into "/": ~ is escaped first
    assert unescape_token("~01") == "~1"
    assert unescape_token(escape_token("x/~y~/")) == "x/~y~/"
    assert pointer("name", 0, "given", 1) == "/name/0/given/1"
    assert pointer("extension", "http://x/y~z") == "/extension/http:~1~1x~1y~0z"


def test_replace_with_token_sequence_escapes() -> None:
    op = replace(("contact", 0, "a/b"), {"text": "x"})
    assert op.path == "/contact/0/a~1b"


def test_replace_accepts_struct_values() -> None:
    op = replace("/name/0", HumanName(text="Budi Santoso", use="official"))
    wire = msgspec.json.decode(msgspec.json.encode([op]))
    assert wire == [
        {"op": "replace", "path": "/name/0", "value": {"use": "official", "text": "Budi Santoso"}}
    ]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("language", "start with '/'"),
        ("", "start with '/'"),
        ("/a~2b", "escaped"),
        ("/a~", "escaped"),
        ("/id", "cannot be replaced"),
        ("/resourceType", "cannot be replaced"),
    ],
)
def test_bad_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        replace(path, "x")


def test_null_value_is_refused() -> None:
    with pytest.raises(ValidationError, match="null"):
        replace("/language", None)


@pytest.mark.parametrize("op", ["add", "remove", "move", "copy", "test"])
def test_other_json_patch_ops_are_refused(op: str) -> None:
    with pytest.raises(ValidationError, match="only 'replace'"):
        validate_operations([{"op": op, "path": "/language", "value": "id"}])


def test_validate_operations_mixes_dicts_and_builders() -> None:
    ops = validate_operations(
        [replace("/language", "id"), {"op": "replace", "path": "/active", "value": False}]
    )
    assert ops == [
        PatchOperation(op="replace", path="/language", value="id"),
        PatchOperation(op="replace", path="/active", value=False),
    ]


@pytest.mark.parametrize(
    ("ops", "reason"),
    [
        ([], "at least one"),
        ({"op": "replace", "path": "/a", "value": 1}, "list of operations"),
        ([{"op": "replace", "path": "/a"}], "needs a 'value'"),
        ([{"op": "replace", "path": "/a", "value": 1, "from": "/b"}], "unexpected member"),
        ([{"op": "bogus", "path": "/a", "value": 1}], "not a JSON Patch op"),
        ([{"path": "/a", "value": 1}], "only 'replace'"),
        (["replace /a 1"], "mapping"),
        ([{"op": "replace", "path": "/a", "value": None}], "null"),
        ([{"op": "replace", "path": "a", "value": 1}], "JSON Pointer"),
    ],
)
def test_invalid_patch_documents(ops: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        validate_operations(ops)  # type: ignore[arg-type]


def test_decimal_values_are_plain_values() -> None:
    op = replace("/extension/0/valueDecimal", Decimal("1.50"))
    assert op.value == Decimal("1.50")


NON_FINITE = [
    float("nan"),
    float("inf"),
    -float("inf"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    Decimal("sNaN"),
    {"valueDecimal": float("nan")},
    [1.0, float("inf")],
    ({"a": [Decimal("NaN")]},),
]


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_numbers_are_refused(value: object) -> None:
    # msgspec would write NaN and Infinity as null
    with pytest.raises(ValidationError, match="finite"):
        replace("/x", value)
    with pytest.raises(ValidationError, match="finite"):
        validate_operations([{"op": "replace", "path": "/x", "value": value}])
    with pytest.raises(ValidationError, match="finite"):
        validate_operations([PatchOperation(op="replace", path="/x", value=value)])


def test_non_finite_numbers_inside_structs_are_refused() -> None:
    from satusehat_async.patients import Extension, fhir_decimal

    assert replace("/extension/0", Extension(url="u", value_decimal=fhir_decimal("1.5")))
    with pytest.raises(ValidationError, match="finite"):
        # a struct field typed int may still hold a float at run time
        replace("/name/0", HumanName(text="x", period=float("inf")))  # type: ignore[arg-type]


def test_finite_numbers_pass() -> None:
    for value in (0.1, -2.5e300, Decimal("1.50"), 7, True, {"a": [1.5, "nan"]}):
        assert replace("/x", value).value == value
