"""A validated MSI query, built from the API's own parameter names.

Everything is checked before any request is sent: a bad code length, an unknown status,
half of the ``sumber_identifier`` + ``identifier_kode_sarana`` pair or a page size over the
API's 2000 raises :class:`~satusehat_async.errors.ValidationError` (also a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import TypeAlias

import msgspec

from satusehat_async.errors import ValidationError

__all__ = [
    "ALL_NAMED_TYPES",
    "MAX_PAGE_SIZE",
    "SOURCE_SYSTEMS",
    "STATUS_SARANA",
    "FacilityQuery",
    "FacilityType",
    "validate_page_size",
]

#: The most rows the API returns per page (``limit``); more is answered with 400.
MAX_PAGE_SIZE = 2000

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

DateLike: TypeAlias = "dt.date | str"
JenisSaranaArg: TypeAlias = "int | str | Iterable[int | str]"

_DIGITS = {n: re.compile(rf"\d{{{n}}}") for n in (2, 4, 6, 10)}


def _digits(name: str, value: object, length: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationError(f"{name} must be a {length}-digit code, got {value!r}")
    text = str(value).strip()
    if not _DIGITS[length].fullmatch(text):
        raise ValidationError(f"{name} must be a {length}-digit code, got {value!r}")
    return text


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _jenis_code(item: object) -> int:
    """One facility type code: an int (or IntEnum) or its ASCII digits as text."""
    code: int | None = None
    if isinstance(item, int) and not isinstance(item, bool):
        code = int(item)
    elif isinstance(item, str):
        text = item.strip()
        if text.isascii() and text.isdigit() and len(text) <= 9:
            code = int(text)
    if code is None:
        raise ValidationError(
            f"jenis_sarana must be a facility type code (101-104 or another), got {item!r}"
        )
    if code <= 0:
        raise ValidationError(f"jenis_sarana must be a positive code, got {item!r}")
    return code


def _jenis(value: object) -> tuple[int, ...]:
    if value is None:
        return ALL_NAMED_TYPES
    if isinstance(value, (int, str)):
        items: Iterable[object] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = value
    else:  # bytes would iterate as small ints, a dict as its keys: refuse rather than guess
        raise ValidationError(
            "jenis_sarana must be a facility type code or a list of them, "
            f"got {type(value).__name__}"
        )
    codes: list[int] = []
    for item in items:
        code = _jenis_code(item)
        if code not in codes:
            codes.append(code)
    if not codes:
        raise ValidationError("jenis_sarana must name at least one facility type")
    return tuple(codes)


def _date(name: str, value: DateLike | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text).isoformat()
            # Python 3.10's fromisoformat does not read a "Z" suffix.
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
    raise ValidationError(
        f"{name} must be a date or an ISO date string (YYYY-MM-DD), got {value!r}"
    )


def _regions(
    provinsi_arg: object, kabkota_arg: object, kecamatan_arg: object
) -> tuple[str | None, str | None, str | None]:
    """The three region codes, each of its length and nested in the larger ones."""
    provinsi = _digits("kode_provinsi", provinsi_arg, 2)
    kabkota = _digits("kode_kabkota", kabkota_arg, 4)
    kecamatan = _digits("kode_kecamatan", kecamatan_arg, 6)
    if provinsi and kabkota and not kabkota.startswith(provinsi):
        raise ValidationError(f"kode_kabkota {kabkota} is not in kode_provinsi {provinsi}")
    if kabkota and kecamatan and not kecamatan.startswith(kabkota):
        raise ValidationError(f"kode_kecamatan {kecamatan} is not in kode_kabkota {kabkota}")
    if provinsi and kecamatan and not kecamatan.startswith(provinsi):
        raise ValidationError(f"kode_kecamatan {kecamatan} is not in kode_provinsi {provinsi}")
    return provinsi, kabkota, kecamatan


def _status(value: object) -> str | None:
    """A verification status (``status_sarana``), lower-cased."""
    status = _text("status_sarana", value)
    if status is None:
        return None
    status = status.lower()
    if status not in STATUS_SARANA:
        known = ", ".join(sorted(STATUS_SARANA))
        raise ValidationError(f"status_sarana must be one of {known}, got {status!r}")
    return status


def _source(system_arg: object, code_arg: object) -> tuple[str | None, str | None]:
    """``sumber_identifier`` and ``identifier_kode_sarana``: both or neither."""
    source = _text("sumber_identifier", system_arg)
    source_code = _text("identifier_kode_sarana", code_arg)
    if (source is None) != (source_code is None):
        raise ValidationError("sumber_identifier and identifier_kode_sarana must be given together")
    if source is not None and source not in SOURCE_SYSTEMS:
        raise ValidationError(
            f"sumber_identifier must be one of {', '.join(sorted(SOURCE_SYSTEMS))}, got {source!r}"
        )
    return source, source_code


def _date_range(
    lower_arg: DateLike | None, upper_arg: DateLike | None
) -> tuple[str | None, str | None]:
    """The ``updated_at`` bounds as ISO dates, in order."""
    lower = _date("lower_bound_updated_at", lower_arg)
    upper = _date("upper_bound_updated_at", upper_arg)
    if lower and upper and lower > upper:
        raise ValidationError(
            f"lower_bound_updated_at {lower} is after upper_bound_updated_at {upper}"
        )
    return lower, upper


def validate_page_size(page_size: object) -> int:
    """Check a page size (the API's ``limit``): an int from 1 to :data:`MAX_PAGE_SIZE`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValidationError(f"page_size must be an integer, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


@dataclasses.dataclass(frozen=True)
class FacilityQuery:
    """The filters of one MSI crawl, validated. Build it with :meth:`build`.

    Without ``jenis_sarana`` the query covers the four named facility types.
    """

    jenis_sarana: tuple[int, ...] = ALL_NAMED_TYPES
    kode_provinsi: str | None = None
    kode_kabkota: str | None = None
    kode_kecamatan: str | None = None
    kode_satusehat: str | None = None
    kode_sarana: str | None = None
    nama: str | None = None
    status_aktif: bool | None = None
    status_sarana: str | None = None
    sumber_identifier: str | None = None
    identifier_kode_sarana: str | None = None
    lower_bound_updated_at: str | None = None
    upper_bound_updated_at: str | None = None

    @classmethod
    def build(
        cls,
        *,
        jenis_sarana: JenisSaranaArg | None = None,
        kode_provinsi: str | int | None = None,
        kode_kabkota: str | int | None = None,
        kode_kecamatan: str | int | None = None,
        kode_satusehat: str | int | None = None,
        kode_sarana: str | None = None,
        nama: str | None = None,
        status_aktif: bool | None = None,
        status_sarana: str | None = None,
        sumber_identifier: str | None = None,
        identifier_kode_sarana: str | None = None,
        lower_bound_updated_at: DateLike | None = None,
        upper_bound_updated_at: DateLike | None = None,
    ) -> FacilityQuery:
        """Validate the filters (official parameter names) into a query.

        Raises:
            ValidationError: for any value the API would refuse or misread.
        """
        provinsi, kabkota, kecamatan = _regions(kode_provinsi, kode_kabkota, kode_kecamatan)
        if status_aktif is not None and not isinstance(status_aktif, bool):
            raise ValidationError(f"status_aktif must be True or False, got {status_aktif!r}")
        status = _status(status_sarana)
        source, source_code = _source(sumber_identifier, identifier_kode_sarana)
        lower, upper = _date_range(lower_bound_updated_at, upper_bound_updated_at)
        return cls(
            jenis_sarana=_jenis(jenis_sarana),
            kode_provinsi=provinsi,
            kode_kabkota=kabkota,
            kode_kecamatan=kecamatan,
            kode_satusehat=_digits("kode_satusehat", kode_satusehat, 10),
            kode_sarana=_text("kode_sarana", kode_sarana),
            nama=_text("nama", nama),
            status_aktif=status_aktif,
            status_sarana=status,
            sumber_identifier=source,
            identifier_kode_sarana=source_code,
            lower_bound_updated_at=lower,
            upper_bound_updated_at=upper,
        )

    def params(self, *, page: int, page_size: int) -> dict[str, str | int | list[int]]:
        """The query string of one page request (``jenis_sarana`` repeats its key)."""
        params: dict[str, str | int | list[int]] = {
            "limit": page_size,
            "page": page,
            "jenis_sarana": list(self.jenis_sarana),
        }
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "jenis_sarana" or value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            params[field.name] = value
        return params

    def fingerprint(self) -> str:
        """A stable digest of the filters (for checkpoints: resume only the same query)."""
        encoded = msgspec.json.encode(dataclasses.asdict(self), order="sorted")
        return hashlib.sha256(encoded).hexdigest()[:16]
