"""The MSI filters, declared once: their argument types, validation and every surface.

The 13 filters carry the API's official query-parameter names. Each is declared in two
places side by side, because a type checker needs both statically:

* :class:`FacilityFilters` — the *argument* types (what a caller may pass), used as
  ``**filters: Unpack[FacilityFilters]`` by :meth:`FacilityQuery.build
  <satusehat_async.msi.FacilityQuery.build>`, :meth:`MSI.pages
  <satusehat_async.msi.MSI.pages>`, :meth:`MSI.facilities
  <satusehat_async.msi.MSI.facilities>` and :meth:`MSI.export
  <satusehat_async.msi.MSI.export>`;
* a field of :class:`~satusehat_async.msi.FacilityQuery` — the *validated* type, with its
  :class:`FilterSpec` (``filter_field(...)``): the normaliser, the command-line flag and
  help, the HTTP query type.

Everything else is derived from :data:`FILTERS` (the specs in field order): the checks
of ``FacilityQuery.build``, the query string of ``FacilityQuery.params``, the ``satusehat
msi crawl|sync`` flags and the FastAPI example's parameters. Importing
:mod:`satusehat_async.msi.query` fails at once if the two declarations disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias, TypedDict

from satusehat_async.errors import ValidationError

__all__ = [
    "ALL_NAMED_TYPES",
    "SOURCE_SYSTEMS",
    "STATUS_SARANA",
    "TYPE_NAMES",
    "DateLike",
    "FacilityFilters",
    "FacilityType",
    "FilterSpec",
    "JenisSaranaArg",
    "filter_field",
]

#: Verification statuses (``status_sarana``); answers also show ``review``.
STATUS_SARANA = frozenset({"draft", "review", "verified", "valid", "reverified"})

#: Source systems accepted as ``sumber_identifier``.
SOURCE_SYSTEMS = frozenset(
    {
        "satset",
        "dto_msfi",
        "yankes_praktik_mandiri",
        "yankes_klinik",
        "yankes_rs",
        "puskesmas_pusdatin_baru",
        "puskesmas_pusdatin_lama",
        "sisdmk_sarana",
        "yankes_praktik_mandiri_kmk",
        "yankes_klinik_kmk",
        "yankes_utd",
        "yankes_utd_kmk",
        "yankes_labkes",
        "yankes_labkes_kmk",
    }
)


class FacilityType(enum.IntEnum):
    """The named facility types (``jenis_sarana``); other codes are still accepted."""

    PRAKTIK_MANDIRI = 101
    """A practitioner's own practice."""
    PUSKESMAS = 102
    """A community health centre."""
    KLINIK = 103
    """A clinic."""
    RUMAH_SAKIT = 104
    """A hospital."""


#: Every named type as plain ints (an IntEnum's str() differs between Python versions).
ALL_NAMED_TYPES: tuple[int, ...] = tuple(int(t) for t in FacilityType)
#: The named types by their command-line names (``rumah-sakit`` -> 104).
TYPE_NAMES = {t.name.lower().replace("_", "-"): int(t) for t in FacilityType}

DateLike: TypeAlias = "dt.date | str"
JenisSaranaArg: TypeAlias = "int | str | Iterable[int | str]"


class FacilityFilters(TypedDict, total=False):
    """The filter arguments, by the API's parameter names (all optional).

    Keep the order of :class:`~satusehat_async.msi.FacilityQuery`'s fields.
    """

    jenis_sarana: JenisSaranaArg | None
    kode_provinsi: str | int | None
    kode_kabkota: str | int | None
    kode_kecamatan: str | int | None
    kode_satusehat: str | int | None
    kode_sarana: str | None
    nama: str | None
    status_aktif: bool | None
    status_sarana: str | None
    sumber_identifier: str | None
    identifier_kode_sarana: str | None
    lower_bound_updated_at: DateLike | None
    upper_bound_updated_at: DateLike | None


# -- normalisers: (parameter name, value) -> the validated value --------------------------


def text(name: str, value: object) -> str | None:
    """A non-empty string, stripped."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


_DIGITS = {n: re.compile(rf"\d{{{n}}}") for n in (2, 4, 6, 10)}


def digits(length: int) -> Callable[[str, object], str | None]:
    """A code of exactly ``length`` ASCII digits (an int is accepted too)."""

    def check(name: str, value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError(f"{name} must be a {length}-digit code, got {value!r}")
        code = str(value).strip()
        if not _DIGITS[length].fullmatch(code):
            raise ValidationError(f"{name} must be a {length}-digit code, got {value!r}")
        return code

    return check


def _jenis_code(item: object) -> int:
    """One facility type code: an int (or IntEnum) or its ASCII digits as text."""
    code: int | None = None
    if isinstance(item, int) and not isinstance(item, bool):
        code = int(item)
    elif isinstance(item, str):
        stripped = item.strip()
        if stripped.isascii() and stripped.isdigit() and len(stripped) <= 9:
            code = int(stripped)
    if code is None:
        raise ValidationError(
            f"jenis_sarana must be a facility type code (101-104 or another), got {item!r}"
        )
    if code <= 0:
        raise ValidationError(f"jenis_sarana must be a positive code, got {item!r}")
    return code


def jenis(name: str, value: object) -> tuple[int, ...]:
    """One facility type code or several, de-duplicated in order (None: the named four)."""
    if value is None:
        return ALL_NAMED_TYPES
    if isinstance(value, (int, str)):
        items: Iterable[object] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = value
    else:  # bytes would iterate as small ints, a dict as its keys: refuse rather than guess
        raise ValidationError(
            f"{name} must be a facility type code or a list of them, got {type(value).__name__}"
        )
    codes: list[int] = []
    for item in items:
        code = _jenis_code(item)
        if code not in codes:
            codes.append(code)
    if not codes:
        raise ValidationError(f"{name} must name at least one facility type")
    return tuple(codes)


def boolean(name: str, value: object) -> bool | None:
    """True or False (not a truthy string)."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, got {value!r}")
    return value


def status(name: str, value: object) -> str | None:
    """A verification status, lower-cased."""
    found = text(name, value)
    if found is None:
        return None
    found = found.lower()
    if found not in STATUS_SARANA:
        known = ", ".join(sorted(STATUS_SARANA))
        raise ValidationError(f"{name} must be one of {known}, got {found!r}")
    return found


def date(name: str, value: object) -> str | None:
    """An ISO date (``YYYY-MM-DD``) from a date, a datetime or an ISO string."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        stripped = value.strip()
        try:
            if len(stripped) == 10:
                return dt.date.fromisoformat(stripped).isoformat()
            # Python 3.10's fromisoformat does not read a "Z" suffix.
            return dt.datetime.fromisoformat(stripped.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
    raise ValidationError(
        f"{name} must be a date or an ISO date string (YYYY-MM-DD), got {value!r}"
    )


# -- command-line conversions: the flag's text -> an argument value ------------------------


def cli_jenis(name: str, value: str) -> str:
    """A type code, or a type's name (``rumah-sakit``), as the code's text."""
    stripped = value.strip()
    code = TYPE_NAMES.get(stripped.lower())
    if code is not None:
        return str(code)
    if not (stripped.isascii() and stripped.isdigit()):
        names = "|".join(TYPE_NAMES)
        raise ValidationError(f"{name} takes a facility type code or {names}, got {value!r}")
    return stripped


def cli_bool(name: str, value: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, ya/tidak)."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "ya"):
        return True
    if lowered in ("false", "0", "no", "tidak"):
        return False
    raise ValidationError(f"{name} must be true or false, got {value!r}")


# -- the spec -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FilterSpec:
    """How one filter behaves on every surface. Declared with :func:`filter_field`.

    Attributes:
        name: the API's parameter name (the field's name; filled in by FacilityQuery).
        normalise: ``(name, value) -> validated value``; raises ValidationError.
        help: one line for ``--help``.
        metavar: the flag's value in ``--help``.
        flag: the command-line flag (default ``--`` + the name with dashes).
        repeated: several values (a repeatable flag, a repeated query-string key).
        query_type: the type of one value in an HTTP query string (FastAPI's parameter).
        from_cli: ``(name, text) -> argument`` for one flag value (default: the text).
    """

    normalise: Callable[[str, Any], Any]
    help: str
    metavar: str = "VALUE"
    flag: str | None = None
    repeated: bool = False
    query_type: type = str
    from_cli: Callable[[str, str], Any] | None = None
    name: str = ""

    @property
    def cli_flag(self) -> str:
        """The command-line flag."""
        return self.flag or "--" + self.name.replace("_", "-")

    def cli_value(self, raw: str | list[str] | None) -> Any:
        """The argument for what the command line gave (None: the filter is not set)."""
        if raw is None:
            return None
        convert = self.from_cli
        if convert is None:
            return raw
        if isinstance(raw, list):
            return [convert(self.name, item) for item in raw]
        return convert(self.name, raw)


def filter_field(spec: FilterSpec, default: Any = None) -> Any:
    """A FacilityQuery field carrying its :class:`FilterSpec` (in the field's metadata)."""
    return dataclasses.field(default=default, metadata={"filter": spec})
