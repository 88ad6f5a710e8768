"""The Master Sarana Index query: validation of its parameters and matching of facilities.

Pure functions over :class:`~satusehat_async.sandbox.facilities.Row`; the server turns a
:class:`MsiQueryError` into MSI's ``{"status_code": 400, "message": ..., "data": null}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from satusehat_async.sandbox.facilities import Row
from satusehat_async.sandbox.facility_tables import STATUS_SARANA

__all__ = [
    "MAX_LIMIT",
    "SOURCES",
    "MsiFilter",
    "MsiQuery",
    "MsiQueryError",
    "parse_msi_query",
    "source_code",
]

MAX_LIMIT = 2000

# sumber_identifier -> the facility type whose source system it is (None: any type).
SOURCES: dict[str, str | None] = {
    "satset": None,
    "dto_msfi": None,
    "yankes_praktik_mandiri": "101",
    "yankes_klinik": "103",
    "yankes_rs": "104",
    "puskesmas_pusdatin_baru": "102",
    "puskesmas_pusdatin_lama": "102",
    "sisdmk_sarana": None,
    "yankes_praktik_mandiri_kmk": "101",
    "yankes_klinik_kmk": "103",
    "yankes_utd": "utd",  # blood banks and laboratories are not in the sandbox's registry
    "yankes_utd_kmk": "utd",
    "yankes_labkes": "labkes",
    "yankes_labkes_kmk": "labkes",
}
_SISDMK_PREFIX = {"101": "D", "102": "", "103": "K", "104": "R"}
_DIGITS = {"kode_satusehat": 10, "kode_provinsi": 2, "kode_kabkota": 4, "kode_kecamatan": 6}


class MsiQueryError(ValueError):
    """A bad MSI query; ``str()`` is the message the 400 envelope carries."""


def source_code(row: Row, sumber: str) -> str | None:
    """The facility's code in source system ``sumber`` (``None``: not known there)."""
    if sumber == "satset":
        return row.kode_satusehat
    if sumber == "dto_msfi":
        return row.kode_sarana
    if sumber == "sisdmk_sarana":
        return _SISDMK_PREFIX.get(row.jenis, "") + row.kode_sarana
    if SOURCES.get(sumber) != row.jenis:
        return None
    if sumber == "puskesmas_pusdatin_lama":
        return row.kode_sarana.removeprefix("P")
    return row.kode_sarana


@dataclass(frozen=True, slots=True)
class MsiFilter:
    """Every filter of one MSI query, normalised: equal filters are the same cache key."""

    jenis_sarana: frozenset[str]
    kode_satusehat: str | None = None
    kode_sarana: str | None = None
    nama: str | None = None  # lower-case
    kode_provinsi: str | None = None
    kode_kabkota: str | None = None
    kode_kecamatan: str | None = None
    status_aktif: bool | None = None
    status_sarana: str | None = None
    sumber_identifier: str | None = None
    identifier_kode_sarana: str | None = None
    lower_bound_updated_at: str | None = None
    upper_bound_updated_at: str | None = None

    def matches(self, row: Row) -> bool:
        """Whether the facility described by ``row`` passes every filter."""
        if row.jenis not in self.jenis_sarana:
            return False
        if self.kode_provinsi is not None and row.provinsi != self.kode_provinsi:
            return False
        if self.kode_kabkota is not None and row.kabkota != self.kode_kabkota:
            return False
        if self.kode_kecamatan is not None and row.kecamatan != self.kode_kecamatan:
            return False
        if self.kode_satusehat is not None and row.kode_satusehat != self.kode_satusehat:
            return False
        if self.kode_sarana is not None and row.kode_sarana != self.kode_sarana:
            return False
        if self.status_aktif is not None and row.status_aktif is not self.status_aktif:
            return False
        if self.status_sarana is not None and row.status_sarana != self.status_sarana:
            return False
        if self.nama is not None and self.nama not in (row.nama or "").lower():
            return False
        if self.lower_bound_updated_at is not None and row.updated_at < self.lower_bound_updated_at:
            return False
        if self.upper_bound_updated_at is not None and row.updated_at > self.upper_bound_updated_at:
            return False
        return not (
            self.sumber_identifier is not None
            and source_code(row, self.sumber_identifier) != self.identifier_kode_sarana
        )


@dataclass(frozen=True, slots=True)
class MsiQuery:
    """A validated MSI request: which facilities, and which page of them."""

    filter: MsiFilter
    limit: int
    page: int


def _positive(name: str, value: str | None, maximum: int | None = None) -> int:
    if value is None:
        raise MsiQueryError(f"{name} is required")
    try:
        number = int(value)
    except ValueError:
        raise MsiQueryError(f"{name} must be a number") from None
    if number < 1:
        raise MsiQueryError(f"{name} must be at least 1")
    if maximum is not None and number > maximum:
        raise MsiQueryError(f"{name} cannot be more than {maximum}")
    return number


def _date(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> str:
    raise MsiQueryError(f"{name} must be a date in the format YYYY-MM-DD")


def parse_msi_query(query: Mapping[str, str], jenis_values: Sequence[str]) -> MsiQuery:
    """Validate an MSI query string.

    ``query`` maps each parameter to its (first) value and ``jenis_values`` holds every
    ``jenis_sarana`` value (the key repeats for several types). Empty values count as absent.

    Raises:
        MsiQueryError: a parameter is missing or malformed.
    """

    def get(name: str) -> str | None:
        value = query.get(name)
        return value.strip() or None if value is not None else None

    limit = _positive("limit", get("limit"), MAX_LIMIT)
    page = _positive("page", get("page"))
    jenis: set[str] = set()
    for raw in jenis_values:
        value = raw.strip()
        if not value:
            continue
        if not value.isdigit():  # "104,103" included: the key repeats instead
            raise MsiQueryError("jenis_sarana must be a number (repeat the key for several)")
        jenis.add(str(int(value)))
    if not jenis:
        raise MsiQueryError("jenis_sarana is required")
    codes: dict[str, str | None] = {}
    for name, digits in _DIGITS.items():
        code = get(name)
        if code is not None and (len(code) != digits or not code.isdigit()):
            raise MsiQueryError(f"{name} must be {digits} digits")
        codes[name] = code
    aktif_text = get("status_aktif")
    if aktif_text is not None and aktif_text.lower() not in ("true", "false"):
        raise MsiQueryError("status_aktif must be true or false")
    status = get("status_sarana")
    if status is not None and status.lower() not in STATUS_SARANA:
        raise MsiQueryError(f"status_sarana must be one of {', '.join(STATUS_SARANA)}")
    sumber, sumber_code = get("sumber_identifier"), get("identifier_kode_sarana")
    if (sumber is None) != (sumber_code is None):
        raise MsiQueryError("sumber_identifier and identifier_kode_sarana must be used together")
    if sumber is not None and sumber not in SOURCES:
        raise MsiQueryError(f"sumber_identifier must be one of {', '.join(SOURCES)}")
    nama = get("nama")
    filter_ = MsiFilter(
        jenis_sarana=frozenset(jenis),
        kode_satusehat=codes["kode_satusehat"],
        kode_sarana=get("kode_sarana"),
        nama=nama.lower() if nama is not None else None,
        kode_provinsi=codes["kode_provinsi"],
        kode_kabkota=codes["kode_kabkota"],
        kode_kecamatan=codes["kode_kecamatan"],
        status_aktif=None if aktif_text is None else aktif_text.lower() == "true",
        status_sarana=status.lower() if status is not None else None,
        sumber_identifier=sumber,
        identifier_kode_sarana=sumber_code,
        lower_bound_updated_at=_date("lower_bound_updated_at", get("lower_bound_updated_at")),
        upper_bound_updated_at=_date("upper_bound_updated_at", get("upper_bound_updated_at")),
    )
    return MsiQuery(filter=filter_, limit=limit, page=page)
