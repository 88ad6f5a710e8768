"""Typed Master Sarana Index records, decoded leniently where the real API is sloppy.

The documentation and the live registry disagree (see ``reference/satusehat-api.md`` §3):
codes documented as numbers arrive as strings, coordinates arrive as strings, numbers or
null, any field may be null and extra fields appear. Every field therefore defaults to
``None`` and unknown fields are ignored. After decoding:

* codes (``kode``, ``kode_bps``, ``kode_satusehat``...) are always ``str | None``;
* ``latitude`` / ``longitude`` are always ``float | None`` (numeric strings, comma decimals
  and numbers are converted; ``""`` and junk become ``None``; swapped pairs are put back);
* flags (``operasional``, ``status_aktif``) are always ``bool | None``.

Pages are decoded in msgspec's lax mode (``strict=False``), which already turns numeric
strings into floats and ints and ``"true"``/``"false"`` into bools, in C; one cheap pass
(:func:`normalise_coordinates`) then puts swapped or out-of-range coordinates right.
Rarer sloppiness (a number where a code belongs, junk where a number belongs, text where
an object belongs) makes the fast decoder refuse the page, and
:func:`~satusehat_async.msi.decode.decode_page` repairs that page record by record with
the normalisers below, so no record and no page is lost. The Structs use ``gc=False``
(they never form cycles) and ``kw_only=True``, following msgspec's performance tips; the
wire format is objects, so ``array_like`` is not an option.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic

import msgspec

__all__ = [
    "Facility",
    "FacilityPage",
    "FacilityT",
    "JenisSarana",
    "KelasSarana",
    "SaranaAdministrasi",
    "SubJenis",
    "Wilayah",
    "normalise_coordinates",
    "to_code",
    "to_coordinate",
    "to_count",
    "to_flag",
]

_TRUE = frozenset({"true", "1", "t", "y", "yes", "ya"})
_FALSE = frozenset({"false", "0", "f", "n", "no", "tidak"})


def to_code(value: Any) -> str | None:
    """A code as text: ``32`` -> ``"32"``, ``3271.0`` -> ``"3271"``; None for a bool or NaN."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    try:
        return str(value)
    except ValueError:  # an int of more digits than Python converts (over 4,300)
        return None


def to_flag(value: Any) -> bool | None:
    """A flag as a bool: ``"true"``, ``"1"``, ``1``, ``"ya"`` -> True; anything else -> None."""
    if isinstance(value, int):  # bool is an int too
        return bool(value) if value in (0, 1) else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    return False if text in _FALSE else None


def to_coordinate(value: Any) -> float | None:
    """A coordinate as a finite float, or None for empty or junk text."""
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".", 1)
        try:
            number = float(text)
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float: no place on Earth
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def to_count(value: Any) -> int | None:
    """A count as an int (``"1849"`` -> 1849); None for junk."""
    if isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


class _Record(msgspec.Struct, kw_only=True, gc=False):
    """Common base: keyword-only, no GC tracking, unknown fields ignored."""


class Wilayah(_Record):
    """A region (``provinsi`` or ``kabkota``): Kemendagri code, name, BPS and pre-split codes."""

    kode: str | None = None
    nama: str | None = None
    kode_bps: str | None = None
    kode_lama: str | None = None


class JenisSarana(_Record):
    """The facility type (``kode`` ``"101"``-``"104"`` or another code), with its names."""

    kode: str | None = None
    nama: str | None = None
    nama_alt: str | None = None


class SubJenis(JenisSarana):
    """The facility sub-type, e.g. ``"10301"`` Klinik Pratama."""


class KelasSarana(_Record):
    """The facility class, e.g. ``"nakes"``."""

    kode: str | None = None
    nama: str | None = None


class SaranaAdministrasi(_Record):
    """The facility that is the administrative parent of this one (often all null)."""

    kode: str | None = None
    nama: str | None = None
    kode_sarana: str | None = None
    status_aktif: bool | None = None
    status_sarana: str | None = None


class Facility(_Record):
    """One health facility (FASYANKES) of the registry: the 47 documented fields."""

    kode_satusehat: str | None = None
    kode_sarana: str | None = None
    nama: str | None = None
    telp: str | None = None
    email: str | None = None
    website: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    operasional: bool | None = None
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
    status_aktif: bool | None = None


def _fix_coordinates(facility: Facility) -> None:
    latitude = to_coordinate(facility.latitude) if facility.latitude is not None else None
    longitude = to_coordinate(facility.longitude) if facility.longitude is not None else None
    # A latitude beyond +-90 with a longitude that would fit is a swapped pair.
    if latitude is not None and not -90.0 <= latitude <= 90.0:
        if longitude is not None and -90.0 <= longitude <= 90.0 and -180.0 <= latitude <= 180.0:
            latitude, longitude = longitude, latitude
        else:
            latitude = None
    if longitude is not None and not -180.0 <= longitude <= 180.0:
        longitude = None
    facility.latitude, facility.longitude = latitude, longitude


def normalise_coordinates(facilities: Sequence[Any]) -> None:
    """Put swapped pairs back and drop out-of-range or non-finite coordinates (in place).

    One cheap pass that only reads in the common case (floats in range, or nulls); NaN
    fails the range test, so it is caught too. Works on any record with float
    ``latitude`` and ``longitude`` attributes (a projection of :class:`Facility` too).
    """
    for facility in facilities:
        latitude = facility.latitude
        longitude = facility.longitude
        if (latitude is None or -90.0 <= latitude <= 90.0) and (
            longitude is None or -180.0 <= longitude <= 180.0
        ):
            continue
        _fix_coordinates(facility)


# The row type of a page: Facility, or a caller's projection (a msgspec Struct holding only
# the fields it needs, ``kode_satusehat`` among them). Type checkers see a default
# (a bare ``FacilityPage`` is a page of Facility); at run time msgspec reads the bound
# when the class is used unparameterised, so ``FacilityPage`` decodes Facility rows.
if TYPE_CHECKING:
    from typing_extensions import TypeVar

    FacilityT = TypeVar("FacilityT", bound=msgspec.Struct, default=Facility)
else:
    from typing import TypeVar

    FacilityT = TypeVar("FacilityT", bound=Facility)


class FacilityPage(_Record, Generic[FacilityT]):
    """One answer of the MSI endpoint: the envelope and its facilities.

    ``page`` is the page number that was requested; ``total_page`` the number of pages the
    server reported for the query at the time (there is no record count). Generic in the
    row type: ``FacilityPage`` (= ``FacilityPage[Facility]``) holds :class:`Facility`
    rows, ``FacilityPage[MyFacility]`` a projection's (``client.msi.pages(model=...)``).
    """

    status_code: int | None = None
    message: str | None = None
    page: int | None = None
    total_page: int | None = None
    data: list[FacilityT] | None = None

    @property
    def facilities(self) -> list[FacilityT]:
        """The facilities of this page (``data``, or an empty list when it was null)."""
        return self.data if self.data is not None else []
