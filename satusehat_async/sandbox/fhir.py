"""FHIR helpers of the sandbox: answers, OperationOutcomes, masking, JSON Patch ``replace``.

Pure functions (no server): the Patient store builds :class:`Answer` values with them.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

import msgspec

__all__ = [
    "IHS",
    "NIK",
    "NIK_IBU",
    "Answer",
    "PatchError",
    "SearchLag",
    "VersionStamp",
    "apply_replace",
    "check_lag",
    "copy_json",
    "display_name",
    "mask_line",
    "mask_name",
    "mask_nik",
    "name_matches",
    "outcome",
    "search_view",
    "version_headers",
]

NIK = "https://fhir.kemkes.go.id/id/nik"
NIK_IBU = "https://fhir.kemkes.go.id/id/nik-ibu"
IHS = "https://fhir.kemkes.go.id/id/ihs-number"
MASKED_NIK = "################"
SearchLag = tuple[float, float]
"""``(low, high)`` seconds: a random delay drawn in that range."""
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


class VersionStamp:
    """Gives resources SATUSEHAT's ``meta.versionId`` and ``meta.lastUpdated``, by a clock.

    The versionId is the unpadded base64 of the update time in nanoseconds (as captured);
    two stamps are always at least a microsecond apart, so versions never collide.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last_ns = 0

    def tick(self) -> int:
        """A new version time in nanoseconds (later than every earlier one)."""
        ns = max(int(self._clock() * 1e9), self._last_ns + 1_000)
        self._last_ns = ns
        return ns

    def stamp(self, resource: dict[str, Any], ns: int | None = None) -> None:
        """Give ``resource`` a new ``meta.versionId`` and ``lastUpdated`` (other meta kept);
        ``ns``: a time from :meth:`tick` (one transaction stamps its resources alike)."""
        if ns is None:
            ns = self.tick()
        when = dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc)
        meta: dict[str, Any] = resource["meta"] if isinstance(resource.get("meta"), dict) else {}
        meta["lastUpdated"] = when.isoformat(timespec="microseconds")
        meta["versionId"] = base64.b64encode(str(ns).encode()).decode().rstrip("=")
        resource["meta"] = meta


def version_headers(resource: dict[str, Any], url: str, *, location: bool) -> dict[str, str]:
    """``ETag`` and ``Last-Modified`` of a stamped resource; with ``location``, also the
    ``Location`` of its version (``{url}/_history/{versionId}``, as creates and updates)."""
    meta = resource["meta"]
    when = dt.datetime.fromisoformat(meta["lastUpdated"])
    headers = {
        "ETag": f'W/"{meta["versionId"]}"',
        "Last-Modified": format_datetime(when, usegmt=True),
    }
    if location:
        headers["Location"] = f"{url}/_history/{meta['versionId']}"
    return headers


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


def check_lag(name: str, value: object) -> SearchLag | None:
    """``value`` as a ``(low, high)`` range of seconds, ``0 <= low <= high``; or None."""
    if value is None:
        return None
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
        and 0 <= value[0] <= value[1]
    ):
        return (float(value[0]), float(value[1]))
    raise ValueError(f"{name} must be None or (low, high) seconds with 0 <= low <= high")


def name_matches(patient: dict[str, Any], query: str) -> bool:
    """FHIR string search: the query starts the full name or one of its parts."""
    full = " ".join(display_name(patient).lower().split())
    return full.startswith(query) or any(part.startswith(query) for part in full.split())


def search_view(patient: dict[str, Any], view: str) -> dict[str, Any]:
    """How a search shows a stored patient: ``"full"``, ``"short"`` (NIK and names
    masked, few elements) or ``"masked"`` (NIK and address lines masked)."""
    if view == "full":
        return patient
    if view == "short":
        short: dict[str, Any] = {
            "active": patient.get("active", True),
            "id": patient["id"],
            "identifier": [
                {"system": IHS, "use": "official", "value": patient["id"]},
                {"system": NIK, "use": "official", "value": MASKED_NIK},
            ],
        }
        if "link" in patient:
            short["link"] = patient["link"]
        short["meta"] = {k: patient["meta"][k] for k in ("lastUpdated", "versionId")}
        short["name"] = [{"text": mask_name(display_name(patient)), "use": "official"}]
        short["resourceType"] = "Patient"
        return short
    masked: dict[str, Any] = copy_json(patient)
    for identifier in masked.get("identifier") or ():
        if isinstance(identifier, dict) and identifier.get("system") == NIK:
            identifier["value"] = MASKED_NIK
    for address in masked.get("address") or ():
        if isinstance(address, dict) and isinstance(address.get("line"), list):
            address["line"] = [mask_line(x) if isinstance(x, str) else x for x in address["line"]]
    return masked
