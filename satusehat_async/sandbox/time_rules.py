"""SATUSEHAT's date-time rule (RuleNumber 10132), as the sandbox's FHIR store applies it.

Pure functions (no server, no store). ``reference/satusehat-clinical.md`` §1.5 and §2.2:
the validator allows date-times only as ``YYYY-MM-DDThh:mm:ss+00:00`` (UTC; ``WIB - 7 h``)
— a space-separated, naive (no offset) or other-offset (``+07:00``, even ``Z``) date-time
is refused with ``format`` — and refuses dates before 3 June 2014 with ``value`` (the
Encounter page; the bound is a setting). What is checked:

- every string anywhere in a resource (``meta`` aside: the server's own) that has the
  shape of a date-time (a date, ``T`` or a space, ``hh:mm``): its form, then its date;
- an Encounter's ``period`` and ``statusHistory[].period`` ``start``/``end`` must be
  date-times (a date alone fails the format, as the Encounter page says).

A date alone elsewhere (a birth date, an ``onsetDateTime`` of a year-old illness) is left
alone, and so is a future date: the sandbox's clock is often a test's fake one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from satusehat_async.sandbox.fhir import Answer

__all__ = ["EARLIEST_DATE", "check_times"]

EARLIEST_DATE = dt.date(2014, 6, 3)
"""SATUSEHAT's documented lower bound for clinical dates ("tidak bisa kurang dari 03 Juni 2014")."""
_LOOKS_LIKE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}.*)?", re.DOTALL)
_HAS_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", re.DOTALL)
_ALLOWED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?\+00:00")
_FORMAT = "YYYY-MM-DDThh:mm:ss+00:00"
_ENCOUNTER_TIMES = re.compile(r"Encounter\.(?:statusHistory\[\d+\]\.)?period\.(?:start|end)")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(FHIRPath, string)`` of every string inside ``value`` (lists indexed)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _strings(item, f"{path}[{number}]")


def _refuse(code: str, text: str, expression: str) -> Answer:
    issue = {
        "severity": "error",
        "code": code,
        "details": {"text": f"{text} (RuleNumber: 10132)"},
        "expression": [expression],
    }
    body = {"resourceType": "OperationOutcome", "text": {"status": "generated"}, "issue": [issue]}
    return Answer(400, body)


def check_times(resource: dict[str, Any], earliest: dt.date | None) -> Answer | None:
    """RuleNumber 10132 for the first date-time of ``resource`` SATUSEHAT would refuse.

    ``earliest``: the first date allowed (None: no lower bound). Expressions are
    FHIRPath from the resource type (``Encounter.statusHistory[0].period.start``).
    """
    resource_type = str(resource.get("resourceType"))
    for key, value in resource.items():
        if key in ("meta", "resourceType"):
            continue
        for path, text in _strings(value, f"{resource_type}.{key}"):
            match = _LOOKS_LIKE.fullmatch(text)
            if match is None:
                continue
            has_time = _HAS_TIME.fullmatch(text) is not None
            if not has_time and not _ENCOUNTER_TIMES.fullmatch(path):
                continue  # a date alone, where a date is fine
            if not _ALLOWED.fullmatch(text):
                message = f"Invalid date time format : {text} Format allowed : {_FORMAT}"
                return _refuse("format", message, path)
            try:
                day = dt.date(*(int(part) for part in match.groups()))
            except ValueError:
                return _refuse("format", f"Invalid date time : {text}", path)
            if earliest is not None and day < earliest:
                bound = earliest.strftime("%d %B %Y")
                text = f"Not Allowed : Future Date or Past Date older than {bound}"
                return _refuse("value", text, path)
    return None
