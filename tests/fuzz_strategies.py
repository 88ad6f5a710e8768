"""Hypothesis strategies shared by the fuzz suite: hostile JSON, mutated real documents.

The suite's contract (issue 9): whatever bytes or values a server or a caller hands a
decoder or a validator, it either returns or raises a :class:`SatuSehatError`, never
another exception; and valid inputs are accepted. The strategies here produce

* ``json_values()``: arbitrary JSON values, with the values that broke decoders before
  (huge integers, NaN-like and numeric strings, empty strings, lone surrogates, ``\\r``);
* ``json_bytes()``: such values serialised, sometimes with ``NaN``/``Infinity`` tokens,
  deep nesting (a few hundred to a few thousand levels), raw invalid UTF-8, or truncated;
* ``mutated(seeds)``: real documents (fixtures, the local fake's generated data) with a
  few random mutations: a field replaced by a random value, keys deleted, a value wrapped
  or nested deep, the bytes cut or a byte flipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from satusehat_async.errors import SatuSehatError

FIXTURES = Path(__file__).parent / "fixtures"

#: Strings that have broken parsers: empty, blank, CR, NaN-like, numeric, a lone surrogate.
NASTY_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\r",
    "\r\n",
    "\n",
    "a\rb",
    "\t",
    "\x00",
    "NaN",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-999",
    "0",
    "-0",
    "0.0",
    "00",
    "0x1F",
    "1_000",
    "\u0663\u0662",  # Arabic-Indic digits: str.isdigit() says yes, int() too
    "\uff13\uff12",  # full-width digits
    "\ud800",  # a lone surrogate: cannot be encoded as UTF-8
    "\udfff",
    "3171014501900001",  # a NIK-shaped value (must be masked wherever shown)
    "null",
    "true",
    "[]",
    "{}",
    "<html><title>x</title></html>",
    "\u202e",
    "ä" * 300,
)

#: Integers beyond every machine type, and the edges of them.
HUGE_INTS: tuple[int, ...] = (
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    10**400,
    -(10**400),
)

#: Floats that are valid JSON but odd: the smallest, the largest, negative zero.
ODD_FLOATS: tuple[float, ...] = (-0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308)


def scalars(*, nan: bool = False) -> st.SearchStrategy[Any]:
    """Any JSON scalar, weighted toward the values that broke decoders before.

    ``nan``: also NaN and the infinities, written as the non-JSON tokens ``NaN`` and
    ``Infinity`` that some servers (and Python's ``json``) produce.
    """
    specials = (math.nan, math.inf, -math.inf) if nan else ODD_FLOATS
    return st.one_of(
        st.sampled_from(specials),
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(HUGE_INTS),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(ODD_FLOATS),
        st.text(max_size=20),
        st.sampled_from(NASTY_STRINGS),
    )


def json_values(max_leaves: int = 12, *, nan: bool = False) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (lists and objects of :func:`scalars`)."""
    keys = st.one_of(st.text(max_size=8), st.sampled_from(NASTY_STRINGS))
    return st.recursive(
        scalars(nan=nan),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


_DEEP = "\x00deep\x00"  # a marker string replaced by deep nesting once serialised


def deep_text(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels deep, built as text (no recursion here)."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "null" + "}" * depth


def dumps(value: Any, *, ascii_only: bool = True) -> bytes:
    """``value`` as JSON bytes (stdlib: any int; NaN as ``NaN``; lone surrogates kept)."""
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    # A lone surrogate written raw is not UTF-8: keep it as invalid bytes (servers do that).
    return text.encode("utf-8", "surrogatepass")


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    """A small body nested deep (a 2 KB body 1,000 deep raised RecursionError before)."""
    depth = draw(st.sampled_from((64, 200, 513, 1_000, 1_025, 5_000)))
    return deep_text(depth, draw(st.sampled_from(("list", "object")))).encode()


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    """Bytes of an arbitrary JSON document, now and then not quite JSON."""
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(deep_nesting())
    if shape == 1:
        return draw(st.binary(max_size=64))
    value = draw(json_values(nan=shape == 2))
    data = dumps(value, ascii_only=draw(st.booleans()))
    if shape == 3 and data:
        return data[: draw(st.integers(0, len(data) - 1))]  # cut short
    return data


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (keys and indexes), the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = _get(doc, path[:-1])
    parent[path[-1]] = new
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return doc
    parent = _get(doc, path[:-1])
    del parent[path[-1]]
    return doc


@st.composite
def mutated_value(
    draw: st.DrawFn, seed: Any, max_mutations: int = 3, *, nan: bool = False
) -> tuple[Any, bool]:
    """``seed`` (a copy) after 1 to ``max_mutations`` random mutations; True if nested deep."""
    doc = json.loads(json.dumps(seed))
    deep = False
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(("replace", "replace", "delete", "wrap", "deep", "empty")))
        if action == "replace":
            doc = _set(doc, path, draw(json_values(max_leaves=6, nan=nan)))
        elif action == "delete" and path:
            doc = _delete(doc, path)
        elif action == "wrap":
            current = _get(doc, path)
            doc = _set(doc, path, draw(st.sampled_from(([current], {"value": current}))))
        elif action == "deep" and not deep:
            doc, deep = _set(doc, path, _DEEP), True
        elif action == "empty":
            doc = _set(doc, path, draw(st.sampled_from(("", [], {}, None, 0, "\r"))))
    return doc, deep


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[Any]) -> bytes:
    """The bytes of a seed document after random mutations (some at the byte level)."""
    seed = draw(st.sampled_from(seeds))
    doc, deep = draw(mutated_value(seed, nan=draw(st.integers(0, 4)) == 0))
    data = dumps(doc, ascii_only=draw(st.booleans()))
    if deep:
        nested = deep_text(draw(st.sampled_from((200, 1_000, 3_000))), "list")
        data = data.replace(b'"\\u0000deep\\u0000"', nested.encode())
        data = data.replace(json.dumps(_DEEP, ensure_ascii=False).encode(), nested.encode())
    if data and draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data = data[:at]
        else:
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return data


def hostile_bodies(seeds: Sequence[Any]) -> st.SearchStrategy[bytes]:
    """What a hostile server may answer: mutated real documents or arbitrary JSON/bytes."""
    return st.one_of(mutated(seeds), mutated(seeds), json_bytes())


def load_fixtures(folder: str) -> list[Any]:
    """Every JSON document under ``tests/fixtures/<folder>`` (decoded)."""
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((FIXTURES / folder).glob("*.json"))
    ]


def headers_strategy(*, with_names: Sequence[str] = ()) -> st.SearchStrategy[dict[str, str]]:
    """Response headers: the ones decoders read (any values) plus arbitrary others."""
    names = (
        "Content-Type",
        "content-type",
        "Retry-After",
        "X-Request-Id",
        "WWW-Authenticate",
        "Location",
        "Content-Location",
        *with_names,
    )
    values = st.one_of(
        st.text(max_size=40),
        st.sampled_from(NASTY_STRINGS),
        st.sampled_from(
            (
                "application/json",
                "text/html; charset=utf-8",
                "text/plain",
                "120",
                "-5",
                "1e308",
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "Fri, 31 Dec 9999 23:59:59 GMT",
                'Bearer error="invalid_token", error_description="expired"',
                "https://x.test/fhir-r4/v1/Patient/P02029102701/_history/1",
            )
        ),
    )
    return st.dictionaries(st.sampled_from(names), values, max_size=4)


def library_error_or_value(call: Callable[[], Any], *also: type[BaseException]) -> Any:
    """Run ``call``: its value, or None when it raised a library error (or one of ``also``).

    Any other exception propagates, and Hypothesis reports the input that raised it.
    """
    try:
        return call()
    except (SatuSehatError, *also):
        return None


def finite(number: float) -> bool:
    """A real number (not NaN, not infinite)."""
    return math.isfinite(number)
