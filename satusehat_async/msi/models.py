"""Typed Master Sarana Index records, decoded leniently where the real API is sloppy.

The documentation and the live registry disagree (see ``reference/satusehat-api.md`` §3):
codes documented as numbers arrive as strings, coordinates arrive as strings, numbers or
null, any field may be null and extra fields appear. Every field therefore defaults to
``None`` and unknown fields are ignored. Three kinds of field are widened on the wire and
normalised in ``__post_init__`` (cheap: a class check per field), so after decoding:

* codes (``kode``, ``kode_bps``, ``kode_satusehat``...) are always ``str | None``;
* ``latitude`` / ``longitude`` are always ``float | None`` (numeric strings, comma decimals
  and numbers are converted; ``""`` and junk become ``None``; swapped pairs are put back);
* flags (``operasional``, ``status_aktif``) are always ``bool | None``.

Anything else that does not fit (a number where text belongs, a string where an object
belongs) is repaired record by record by :func:`decode_page` instead of failing the page.
The Structs use ``gc=False`` (they never form cycles) and ``kw_only=True``, following
msgspec's performance tips; the wire format is objects, so ``array_like`` is not an option.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import msgspec

__all__ = [
    "Facility",
    "FacilityPage",
    "JenisSarana",
    "KelasSarana",
    "SaranaAdministrasi",
    "SubJenis",
    "Wilayah",
]

if TYPE_CHECKING:
    # What callers see: the normalised types.
    _Code = str
    _Coordinate = float
    _Flag = bool
    _Count = int
else:
    # What the decoder accepts; __post_init__ narrows each to the type above.
    _Code = str | int | float
    _Coordinate = float | int | str
    _Flag = bool | int | str
    _Count = int | float | str

_TRUE = frozenset({"true", "1", "t", "y", "yes", "ya"})
_FALSE = frozenset({"false", "0", "f", "n", "no", "tidak"})


def _code(value: Any) -> str | None:
    """A code as text: ``32`` -> ``"32"``, ``3271.0`` -> ``"3271"``."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, int):  # bool is an int too
        return bool(value) if value in (0, 1) else None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    return False if text in _FALSE else None


def _coordinate(value: Any) -> float | None:
    """A coordinate as a finite float, or None for empty or junk text."""
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".", 1)
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


class _Record(msgspec.Struct, kw_only=True, gc=False):
    """Common base: keyword-only, no GC tracking, unknown fields ignored."""


class Wilayah(_Record):
    """A region (``provinsi`` or ``kabkota``): Kemendagri code, name, BPS and pre-split codes."""

    kode: _Code | None = None
    nama: str | None = None
    kode_bps: _Code | None = None
    kode_lama: _Code | None = None

    def __post_init__(self) -> None:
        if self.kode is not None and self.kode.__class__ is not str:
            self.kode = _code(self.kode)
        if self.kode_bps is not None and self.kode_bps.__class__ is not str:
            self.kode_bps = _code(self.kode_bps)
        if self.kode_lama is not None and self.kode_lama.__class__ is not str:
            self.kode_lama = _code(self.kode_lama)


class JenisSarana(_Record):
    """The facility type (``kode`` ``"101"``-``"104"`` or another code), with its names."""

    kode: _Code | None = None
    nama: str | None = None
    nama_alt: str | None = None

    def __post_init__(self) -> None:
        if self.kode is not None and self.kode.__class__ is not str:
            self.kode = _code(self.kode)


class SubJenis(JenisSarana):
    """The facility sub-type, e.g. ``"10301"`` Klinik Pratama."""


class KelasSarana(_Record):
    """The facility class, e.g. ``"nakes"``."""

    kode: _Code | None = None
    nama: str | None = None

    def __post_init__(self) -> None:
        if self.kode is not None and self.kode.__class__ is not str:
            self.kode = _code(self.kode)


class SaranaAdministrasi(_Record):
    """The facility that is the administrative parent of this one (often all null)."""

    kode: _Code | None = None
    nama: str | None = None
    kode_sarana: _Code | None = None
    status_aktif: _Flag | None = None
    status_sarana: str | None = None

    def __post_init__(self) -> None:
        if self.kode is not None and self.kode.__class__ is not str:
            self.kode = _code(self.kode)
        if self.kode_sarana is not None and self.kode_sarana.__class__ is not str:
            self.kode_sarana = _code(self.kode_sarana)
        if self.status_aktif is not None and self.status_aktif.__class__ is not bool:
            self.status_aktif = _flag(self.status_aktif)


class Facility(_Record):
    """One health facility (FASYANKES) of the registry: the 47 documented fields."""

    kode_satusehat: _Code | None = None
    kode_sarana: _Code | None = None
    nama: str | None = None
    telp: str | None = None
    email: str | None = None
    website: str | None = None
    longitude: _Coordinate | None = None
    latitude: _Coordinate | None = None
    operasional: _Flag | None = None
    wilayah_perairan_darat: str | None = None
    wilayah_karakteristik: str | None = None
    sarana_administrasi: SaranaAdministrasi | None = None
    alamat: str | None = None
    provinsi: Wilayah | None = None
    kabkota: Wilayah | None = None
    jenis_sarana: JenisSarana | None = None
    subjenis: SubJenis | None = None
    kelas_sarana: KelasSarana | None = None
    status_sarana: str | None = None
    status_aktif: _Flag | None = None

    def __post_init__(self) -> None:
        if self.kode_satusehat is not None and self.kode_satusehat.__class__ is not str:
            self.kode_satusehat = _code(self.kode_satusehat)
        if self.kode_sarana is not None and self.kode_sarana.__class__ is not str:
            self.kode_sarana = _code(self.kode_sarana)
        if self.operasional is not None and self.operasional.__class__ is not bool:
            self.operasional = _flag(self.operasional)
        if self.status_aktif is not None and self.status_aktif.__class__ is not bool:
            self.status_aktif = _flag(self.status_aktif)
        latitude, longitude = self.latitude, self.longitude
        if latitude is None and longitude is None:
            return
        if latitude is not None and latitude.__class__ is not float:
            latitude = _coordinate(latitude)
        if longitude is not None and longitude.__class__ is not float:
            longitude = _coordinate(longitude)
        # A latitude beyond +-90 with a longitude that would fit is a swapped pair.
        if latitude is not None and not -90.0 <= latitude <= 90.0:
            if longitude is not None and -90.0 <= longitude <= 90.0 and -180 <= latitude <= 180:
                latitude, longitude = longitude, latitude
            else:
                latitude = None
        if longitude is not None and not -180.0 <= longitude <= 180.0:
            longitude = None
        self.latitude, self.longitude = latitude, longitude


class FacilityPage(_Record):
    """One answer of the MSI endpoint: the envelope and its facilities.

    ``page`` is the page number that was requested; ``total_page`` the number of pages the
    server reported for the query at the time (there is no record count).
    """

    status_code: _Count | None = None
    message: str | None = None
    page: _Count | None = None
    total_page: _Count | None = None
    data: list[Facility] | None = None

    def __post_init__(self) -> None:
        if self.status_code is not None and self.status_code.__class__ is not int:
            self.status_code = _count(self.status_code)
        if self.page is not None and self.page.__class__ is not int:
            self.page = _count(self.page)
        if self.total_page is not None and self.total_page.__class__ is not int:
            self.total_page = _count(self.total_page)

    @property
    def facilities(self) -> list[Facility]:
        """The facilities of this page (``data``, or an empty list when it was null)."""
        return self.data if self.data is not None else []
