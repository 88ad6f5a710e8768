"""SATUSEHAT's time rules, applied before sending: UTC ``+00:00``, nothing naive, nothing too old.

SATUSEHAT's validator (RuleNumber 10132) wants every dateTime and instant as
``YYYY-MM-DDThh:mm:ss+00:00`` and refuses visit times before 3 June 2014. So, in any
resource (a model or a plain dict), before it is sent:

- an aware :class:`~datetime.datetime` object, and an ISO string with a time and another
  offset (WIB ``+07:00``, WITA ``+08:00``, WIT ``+09:00``, ``Z``), is sent as the same
  instant in UTC ``+00:00`` (seconds added where only ``hh:mm`` was given; fractional
  seconds kept as written);
- a naive datetime (an object without ``tzinfo``, a string with a time but no offset, or
  ``2022-06-14 07:00`` with a space) is refused with one :class:`ValidationError` naming
  the element (``Encounter.period.start``): its offset cannot be guessed;
- a dateTime or date before :data:`EARLIEST` (2014-06-03) is refused in clinical
  resources — not in the master data (Patient, Practitioner, Organization, Location...)
  and not in the elements that record a person's life rather than a visit
  (``birthDate``, ``deceasedDateTime``, a Condition's ``onset``/``abatement``);
- a plain date (``birthDate``, ``2024-07-14``) is otherwise left as it is, and a
  :class:`~datetime.date` object is sent as ``YYYY-MM-DD``.

Elements are known by their value's shape (``YYYY-MM-DDThh:mm...``), since the models
type every FHIR date/dateTime/instant as a string; text-like elements (``value``,
``display``, ``text``, ``code``, ``reference``...) are never read as times.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from satusehat_async.errors import ValidationError

__all__ = ["EARLIEST", "utc_resource", "utc_times"]

R = TypeVar("R")

#: The earliest date SATUSEHAT accepts for a visit time ("tidak bisa kurang dari 03 Juni 2014").
EARLIEST = dt.date(2014, 6, 3)

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Elements holding text or codes: a value there that looks like a time is not one.
_NOT_TIMES = frozenset(
    {
        "value",
        "valueString",
        "valueCode",
        "code",
        "display",
        "text",
        "div",
        "reference",
        "system",
        "url",
        "id",
        "fullUrl",
        "title",
        "description",
        "comment",
        "name",
        "versionId",
    }
)
# Times of a person's life, not of a visit: the 2014 bound does not apply to them.
_LIFE_TIMES = frozenset(
    {
        "birthDate",
        "deceasedDateTime",
        "onsetDateTime",
        "onsetPeriod",
        "abatementDateTime",
        "abatementPeriod",
    }
)
# Master data: no visit times, so no 2014 bound.
_NO_BOUND_TYPES = frozenset(
    {"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "RelatedPerson"}
)
_UTC = dt.timezone.utc
_encoder = msgspec.json.Encoder(decimal_format="number")
_plain = msgspec.json.Decoder(float_hook=Decimal)  # decimals keep their digits


def _refuse(path: str, shown: str, why: str) -> ValidationError:
    return ValidationError(f"{path}: {shown[:40]!r} {why}; nothing was sent")


def _to_utc(text: str, path: str) -> tuple[str, dt.date]:
    """``text`` (a dateTime) in UTC ``+00:00``, and its UTC date."""
    found = _DATETIME.fullmatch(text)
    assert found is not None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    if " " in text:
        raise _refuse(path, text, "is not a FHIR dateTime (a 'T' between date and time)")
    if offset is None:
        raise _refuse(
            path, text, "has a time but no UTC offset (naive): give it one, e.g. +07:00 for WIB"
        )
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0)
        )
        if offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            shift = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            moment = moment.replace(tzinfo=dt.timezone(sign * shift))
        else:
            moment = moment.replace(tzinfo=_UTC)
        utc = moment.astimezone(_UTC)
    except (ValueError, OverflowError):
        raise _refuse(path, text, "is not a valid date and time") from None
    return f"{utc:%Y-%m-%dT%H:%M:%S}{fraction or ''}+00:00", utc.date()


def _check_date(text: str, path: str) -> dt.date | None:
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    try:
        return dt.date(*map(int, found.groups()))
    except ValueError:
        raise _refuse(path, text, "is not a valid date") from None


def _string(text: str, path: str, bounded: bool) -> str:
    """One string element: converted, refused, or as it was."""
    day: dt.date | None
    if _DATETIME.fullmatch(text):
        text, day = _to_utc(text, path)
    else:
        day = _check_date(text, path)
    if bounded and day is not None and day < EARLIEST:
        raise _refuse(
            path,
            text,
            f"is before {EARLIEST.isoformat()}, the earliest visit time SATUSEHAT accepts "
            "(RuleNumber 10132)",
        )
    return text


def _walk(value: Any, path: str, bounded: bool) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key)
            if name in _NOT_TIMES and isinstance(item, str):
                out[key] = item
                continue
            keep = bounded and name not in _LIFE_TIMES
            out[key] = _walk(item, f"{path}.{name}", keep)
        return out
    if isinstance(value, list):
        return [_walk(item, f"{path}[{index}]", bounded) for index, item in enumerate(value)]
    if isinstance(value, str):
        return _string(value, path, bounded)
    return value


def _bounded(resource_type: str) -> bool:
    return resource_type not in _NO_BOUND_TYPES


def utc_times(plain: Any, resource_type: str, path: str | None = None) -> Any:
    """A plain JSON resource with its times in UTC; :class:`ValidationError` naming the
    element of a naive or too-old time. ``path`` (default ``resource_type``) prefixes the
    element paths in messages."""
    return _walk(plain, path or resource_type, _bounded(resource_type))


def _plain_json(value: Any) -> Any:
    try:
        return _plain.decode(_encoder.encode(value))
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError, RecursionError):
        return None  # not encodable: the strict check that follows says why


def utc_resource(
    resource: R | Mapping[str, Any], resource_type: str, path: str | None = None
) -> Any:
    """``resource`` (a model or a dict) with the time rules applied (see the module).

    A model comes back as a model of its class (itself when nothing changed), a dict as a
    plain dict (decimals as :class:`~decimal.Decimal`, for the strict check to decode).
    ``datetime`` objects are read as msgspec encodes them: aware ones with their offset,
    naive ones without (refused).
    """
    plain = _plain_json(resource)
    if plain is None:
        return resource
    fixed = utc_times(plain, resource_type, path)
    if isinstance(resource, Mapping):
        return fixed
    if fixed == plain:
        return resource
    return msgspec.json.decode(_encoder.encode(fixed), type=type(resource))
