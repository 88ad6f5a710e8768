"""Search parameters of a FHIR search, validated before anything is sent.

Keyword names are FHIR's: a leading ``_`` is kept (``_count``, ``_id``, ``_lastUpdated``),
other underscores become hyphens (``based_on`` is ``based-on``); names a Python keyword
cannot spell (``code:text``) go in the ``params`` mapping as they are. Values:

- dates (``date``, ``birthdate``, ``_lastUpdated``, ``period`` ...): a FHIR date or
  dateTime with an optional prefix — ``eq ne gt lt ge le sa eb ap`` — as a string
  (``"ge2024-07-01"``, ``"2024-07"``, ``"lt2024-07-01T08:00:00+07:00"``), a
  :class:`datetime.date`, or an aware :class:`datetime.datetime`; a list repeats the
  parameter (``date=["ge2024-07-01", "lt2024-08-01"]``: both must hold);
- ``identifier``: a token ``system|value`` (or ``|value``, ``system|`` for any value in that
  system, or a bare value), or an
  ``Identifier`` / ``(system, value)``;
- references (``subject``, ``patient``, ``encounter`` ...): ``Patient/P02478375538``, a bare
  id, or a ``Reference``;
- ``_count``: an integer from 1 to 1000 (SATUSEHAT answers at most 100 a page);
- anything else: a non-empty string, a number or a bool.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

__all__ = ["DATE_PARAMETERS", "MAX_COUNT", "REFERENCE_PARAMETERS", "search_params"]

MAX_COUNT = 1000
#: Parameters whose values are FHIR dates (with a comparison prefix).
DATE_PARAMETERS = frozenset(
    {
        "_lastUpdated", "date", "birthdate", "death-date", "period", "onset-date",
        "abatement-date", "recorded-date", "authored", "authoredon", "issued", "effective",
        "occurrence", "created", "when", "sent", "received", "asserted-date", "last-date",
        "started", "effective-time", "whenhandedover", "whenprepared", "collected",
    }
)  # fmt: skip
#: Parameters whose values are references (``Type/id`` or an id).
REFERENCE_PARAMETERS = frozenset(
    {
        "subject", "patient", "encounter", "based-on", "part-of", "partof", "organization",
        "practitioner", "performer", "requester", "recorder", "asserter", "author",
        "location", "service-provider", "specimen", "context", "request", "result",
        "diagnosis", "participant", "prescription", "medication", "derived-from",
    }
)  # fmt: skip
_NAME = re.compile(
    r"_?[A-Za-z][A-Za-z0-9\-]*(:[A-Za-z][A-Za-z0-9\-]*)?(\.[A-Za-z][A-Za-z0-9\-:]*)*"
)
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE = re.compile(
    r"(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?)?)?"
)
_REFERENCE = re.compile(r"([A-Z][A-Za-z]+/)?[A-Za-z0-9\-.]{1,64}|https?://\S+")


def _shown(value: object) -> str:
    return redact_niks(repr(value)[:80])


def _wire_name(name: str) -> str:
    if name.startswith("_"):
        return name
    return name.replace("_", "-")


def _date(name: str, value: object) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{name}: a datetime needs a timezone (FHIR dateTime)")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValidationError(f"{name} is a FHIR date, not {type(value).__name__}")
    prefix = value[:2] if value[:2] in _PREFIXES else ""
    found = _DATE.fullmatch(value[len(prefix) :])
    if found is None or not _calendar_ok(found):
        raise ValidationError(
            f"{name}={_shown(value)} is not a FHIR date: YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm[:ss]+zz:zz, optionally prefixed by one of " + " ".join(_PREFIXES)
        )
    return value


def _calendar_ok(found: re.Match[str]) -> bool:
    year, month, day = found["y"], found["m"] or "01", found["d"] or "01"
    try:
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    if found["H"] is not None:
        second = int(found["S"] or 0)
        return int(found["H"]) < 24 and int(found["M"]) < 60 and second < 60
    return True


def _token(name: str, value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        system, code = value
        value = f"{system}|{code}"
    elif not isinstance(value, str) and hasattr(value, "system") and hasattr(value, "value"):
        value = f"{getattr(value, 'system', None) or ''}|{getattr(value, 'value', None) or ''}"
    if not isinstance(value, str):
        raise ValidationError(f"{name} is a token system|value, not {type(value).__name__}")
    system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
    if bar and "|" in system:
        raise ValidationError(f"{name}={_shown(value)}: a token has one '|' (system|value)")
    # FHIR allows "system|" (any value in that system); never an empty token
    any_value = bool(bar) and not code and bool(system.strip())
    if (not code.strip() and not any_value) or code != code.strip() or system != system.strip():
        raise ValidationError(
            f"{name}={_shown(value)}: expected system|value (or system| for any value) with "
            "no surrounding spaces (e.g. http://sys-ids.kemkes.go.id/encounter/{org}|RJ-0001)"
        )
    return value


def _reference(name: str, value: object) -> str:
    if not isinstance(value, str) and hasattr(value, "reference"):
        value = getattr(value, "reference", None)
    if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
        raise ValidationError(
            f"{name}={_shown(value)}: expected a reference Type/id (Patient/P02478375538) or an id"
        )
    return value


def _count(name: str, value: object) -> str:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ValidationError(
            f"{name} must be an integer from 1 to {MAX_COUNT}, got {_shown(value)}"
        )
    return str(value)


def _plain(name: str, value: object) -> str | int | float | bool:
    if isinstance(value, (bool, int, float)):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name}: expected a non-empty string, a number or a bool")
    if any(not char.isprintable() for char in value):
        raise ValidationError(f"{name}: control characters are not allowed")
    return value


def _one(name: str, value: object) -> str | int | float | bool:
    base = name.split(":", 1)[0].split(".", 1)[0]
    if base in DATE_PARAMETERS and ":" not in name:
        return _date(name, value)
    if base == "identifier" and ":" not in name:
        return _token(name, value)
    if base in REFERENCE_PARAMETERS and "." not in name and ":" not in name:
        return _reference(name, value)
    if base == "_count":
        return _count(name, value)
    return _plain(name, value)


def search_params(
    params: Mapping[str, Any] | None = None, **keywords: Any
) -> dict[str, str | int | float | bool | list[str | int | float | bool]]:
    """The query of a FHIR search, validated (:class:`ValidationError` before sending).

    ``params`` holds names as they are sent; ``keywords`` are mapped (see the module).
    None values are left out; a list or tuple of values repeats the parameter (a pair
    given for ``identifier`` is a ``(system, value)`` token).
    """
    given: dict[str, Any] = dict(params or {})
    for key, value in keywords.items():
        given[_wire_name(key)] = value
    query: dict[str, str | int | float | bool | list[str | int | float | bool]] = {}
    for name, value in given.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError(f"not a FHIR search parameter name: {_shown(name)}")
        if value is None:
            continue
        if isinstance(value, list) or (
            isinstance(value, tuple) and not (name == "identifier" and len(value) == 2)
        ):
            values: Sequence[Any] = value
            if not values:
                raise ValidationError(f"{name}: an empty list of values")
            query[name] = [_one(name, item) for item in values]
        else:
            query[name] = _one(name, value)
    return query
