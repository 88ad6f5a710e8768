"""FHIR helpers of the sandbox: answers, OperationOutcomes, masking, JSON Patch ``replace``.

Pure functions (no server): the Patient store builds :class:`Answer` values with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = [
    "IHS",
    "NIK",
    "NIK_IBU",
    "Answer",
    "PatchError",
    "apply_replace",
    "copy_json",
    "display_name",
    "mask_line",
    "mask_name",
    "mask_nik",
    "outcome",
]

NIK = "https://fhir.kemkes.go.id/id/nik"
NIK_IBU = "https://fhir.kemkes.go.id/id/nik-ibu"
IHS = "https://fhir.kemkes.go.id/id/ihs-number"
MASKED_NIK = "################"
_INDEX = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer in the making: status, JSON-able body, extra headers.

    ``committed`` tells the server that the request changed stored data (a new or a
    patched patient), which matters for the ambiguous ``commit_then_*`` faults and stats.
    """

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    committed: bool = False


def outcome(
    status: int,
    code: str,
    text: str,
    diagnostics: str | None = None,
    expression: list[str] | None = None,
    *,
    severity: str = "error",
) -> Answer:
    """An OperationOutcome answer; ``text`` is SATUSEHAT's machine code (``invalid_query``...)."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "details": {"text": text}}
    if diagnostics is not None:
        issue["diagnostics"] = diagnostics
    if expression is not None:
        issue["expression"] = expression
    return Answer(status, {"resourceType": "OperationOutcome", "issue": [issue]})


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (faster than ``copy.deepcopy``)."""
    return msgspec.json.decode(msgspec.json.encode(value))


def display_name(resource: dict[str, Any]) -> str:
    """The first name of a Patient as one string (``text``, else given names + family)."""
    for name in resource.get("name") or ():
        if not isinstance(name, dict):
            continue
        text = name.get("text")
        if isinstance(text, str) and text.strip():
            return text
        parts = [p for p in (name.get("given") or []) if isinstance(p, str)]
        if isinstance(name.get("family"), str):
            parts.append(name["family"])
        if parts:
            return " ".join(parts)
    return ""


def mask_name(text: str) -> str:
    """``Salsabilla Anjani Rizki`` -> ``Sa** An** Ri**``, as SATUSEHAT masks search results."""
    return " ".join(word[:2] + "**" for word in text.split())


def mask_nik(value: str) -> str:
    """A rejected NIK as diagnostics show it: ``3171012345678901`` -> ``3171********8901``."""
    return value[:4] + "********" + value[-4:] if len(value) >= 12 else "*" * len(value)


def mask_line(line: str) -> str:
    """An address line cut short: ``Gd. Dr. Sujuki Lt.1, Jl. ...`` -> ``Gd. Dr. S***``."""
    return (line[:9] if len(line) > 9 else line[:1]) + "***"


class PatchError(ValueError):
    """A JSON Patch the sandbox refuses; carries the OperationOutcome code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _step(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError("processing", f"path {pointer!r} does not exist")
        return node[token]
    if isinstance(node, list):
        if not _INDEX.fullmatch(token) or int(token) >= len(node):
            raise PatchError("processing", f"path {pointer!r} does not exist")
        return node[int(token)]
    raise PatchError("processing", f"path {pointer!r} does not exist")


_PROTECTED = frozenset({"id", "resourceType", "meta"})


def apply_replace(document: dict[str, Any], operations: Any) -> None:
    """Apply a JSON Patch made of ``replace`` operations to ``document``, in place.

    The pointer must name an existing member (``~1`` is ``/`` and ``~0`` is ``~``);
    ``id``, ``resourceType`` and ``meta`` cannot be changed.

    Raises:
        PatchError: the patch is malformed, uses another operation, or a path is missing.
    """
    if not isinstance(operations, list) or not operations:
        raise PatchError("invalid", "a JSON Patch is a non-empty array of operations")
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchError("invalid", f"operation {number} is not an object")
        op = operation.get("op")
        if op != "replace":
            raise PatchError("not-supported", f"operation {op!r} is not supported, only 'replace'")
        pointer = operation.get("path")
        if not isinstance(pointer, str) or not pointer.startswith("/"):
            raise PatchError("invalid", f"operation {number} needs a JSON Pointer path")
        if "value" not in operation:
            raise PatchError("invalid", f"operation {number} has no value")
        tokens = [_unescape(token) for token in pointer[1:].split("/")]
        if tokens[0] in _PROTECTED:
            raise PatchError("invalid", f"{tokens[0]} cannot be changed")
        node: Any = document
        for token in tokens[:-1]:
            node = _step(node, token, pointer)
        _step(node, tokens[-1], pointer)  # the target must exist
        if isinstance(node, dict):
            node[tokens[-1]] = operation["value"]
        else:
            node[int(tokens[-1])] = operation["value"]
