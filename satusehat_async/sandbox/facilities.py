"""Deterministic, realistic facility records for the sandbox's Master Sarana Index.

:class:`FacilityGenerator` draws facilities from a seeded RNG and hands each one out
already encoded as JSON bytes (the sandbox serves pages by joining them) together with a
compact :data:`Row` of the fields its filters need. The records carry the 47 documented
fields and the quirks real answers show: nulls in nested codes, coordinates as numbers,
strings or null, phone numbers with junk, missing names and e-mails. The code lists and
shares come from :mod:`~satusehat_async.sandbox.facility_tables`.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from satusehat_async.sandbox.facility_tables import (
    DAYS,
    EMAIL_HOSTS,
    JENIS,
    JENIS_CUMULATIVE,
    JENIS_SARANA,
    KARAKTERISTIK,
    KELAS_RS,
    KLINIK_SUFFIX,
    NULL_ADMIN,
    NULL_KELAS,
    SPESIALIS,
    STATUS_CUMULATIVE,
    STATUS_SARANA,
    SUBJENIS_JSON,
)
from satusehat_async.sandbox.geography import (
    Kabkota,
    Kecamatan,
    Province,
    build_map,
    person_name,
    pick,
    place_name,
)

__all__ = [  # the tables' two, too
    "JENIS_SARANA",
    "STATUS_SARANA",
    "FacilityGenerator",
    "Row",
    "row_after_change",
]


class Row(NamedTuple):
    """What the MSI filters look at, for one facility (the record itself is JSON bytes)."""

    jenis: str
    kode_satusehat: str
    kode_sarana: str
    nama: str | None
    provinsi: str
    kabkota: str
    kecamatan: str
    status_aktif: bool
    status_sarana: str
    updated_at: str  # YYYY-MM-DD


def _code(record: dict[str, Any], key: str, default: str) -> str:
    value = record.get(key)
    code = value.get("kode") if isinstance(value, dict) else None
    return code if isinstance(code, str) else default


def row_after_change(row: Row, record: dict[str, Any], updated_at: str) -> Row:
    """The filter row of a facility whose record became ``record`` on ``updated_at``.

    The filters follow the record: a new name, status, type or region moves the facility
    in or out of the queries that ask for them (the kecamatan stays, it is not in the
    record).
    """
    aktif = record.get("status_aktif")
    status = record.get("status_sarana")
    kode_sarana = record.get("kode_sarana")
    nama = record.get("nama")
    return row._replace(
        jenis=_code(record, "jenis_sarana", row.jenis),
        kode_sarana=kode_sarana if isinstance(kode_sarana, str) else row.kode_sarana,
        nama=nama if isinstance(nama, str) or nama is None else row.nama,
        provinsi=_code(record, "provinsi", row.provinsi),
        kabkota=_code(record, "kabkota", row.kabkota),
        status_aktif=aktif if isinstance(aktif, bool) else row.status_aktif,
        status_sarana=status if isinstance(status, str) else row.status_sarana,
        updated_at=updated_at,
    )


_PARENTS_KEPT = 64  # recent facilities a new one may name as its administrator
_NOT_ALNUM = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isalnum()))
_encode = msgspec.json.Encoder().encode


def _between(random: Callable[[], float], low: int, high: int) -> int:
    """``random.randint`` without its overhead."""
    return low + int(random() * (high - low + 1))


class FacilityGenerator:
    """Draws facilities one after another from ``seed``; the same seed, the same records."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.provinces: tuple[Province, ...] = build_map(self._rng)
        total = sum(p.weight for p in self.provinces)
        running = 0.0
        cumulative = []
        for province in self.provinces:
            running += province.weight / total
            cumulative.append(running)
        cumulative[-1] = 1.0
        self._province_cumulative = tuple(cumulative)
        self._next_kode = 1_000_000_000 + _between(self._rng.random, 100_000, 199_999)
        self._counters: dict[str, int] = {}
        self._parents: list[dict[str, Any]] = []  # recent facilities that can administer others

    def generate(self, count: int, updated_at: str | None = None) -> list[tuple[bytes, Row]]:
        """``count`` new facilities as (JSON bytes, filter row); ``updated_at`` forces the date."""
        return [self._one(updated_at) for _ in range(count)]

    def _counter(self, key: str) -> int:
        value = self._counters.get(key, 0) + 1
        self._counters[key] = value
        return value

    # The draws below happen in a fixed order: changing it changes every seeded registry.
    def _one(self, updated_at: str | None) -> tuple[bytes, Row]:
        random_ = self._rng.random
        province, kab, kec = self._place()
        jenis = JENIS[bisect_left(JENIS_CUMULATIVE, random_())]
        self._next_kode += 1 + int(random_() * 12)
        kode_satusehat = str(self._next_kode)
        nama, subjenis, kode_sarana = self._identity(jenis, kab, kec)
        status = STATUS_SARANA[bisect_left(STATUS_CUMULATIVE, random_())]
        aktif = random_() < 0.93
        record: dict[str, Any] = {
            "kode_satusehat": kode_satusehat,
            "kode_sarana": kode_sarana,
            "nama": nama,
            "telp": self._phone(),
            "email": self._email(nama),
            "website": self._website(nama),
        }
        record.update(self._situation(province, kab, kec, jenis))
        record["jenis_sarana"] = JENIS_SARANA[jenis]
        record["subjenis"] = subjenis
        record["kelas_sarana"] = (
            pick(random_, KELAS_RS) if jenis == "104" and random_() < 0.9 else NULL_KELAS
        )
        record["status_sarana"] = status
        record["status_aktif"] = aktif
        if jenis != "101" and nama is not None and random_() < 0.1:
            self._remember_parent(
                {
                    "kode": kode_satusehat,
                    "nama": nama,
                    "kode_sarana": kode_sarana,
                    "status_aktif": aktif,
                    "status_sarana": status,
                }
            )
        day = updated_at or DAYS[int(random_() * len(DAYS))]
        row = Row(
            jenis,
            kode_satusehat,
            kode_sarana,
            nama,
            province.kode,
            kab.kode,
            kec.kode,
            aktif,
            status,
            day,
        )
        return _encode(record), row

    def _place(self) -> tuple[Province, Kabkota, Kecamatan]:
        """A province (weighted by population), one of its kabkota, one of its kecamatan."""
        random_ = self._rng.random
        province = self.provinces[bisect_left(self._province_cumulative, random_())]
        kabkota = province.kabkota
        kab = kabkota[int(random_() * len(kabkota))]
        kecamatan = kab.kecamatan
        return province, kab, kecamatan[int(random_() * len(kecamatan))]

    def _situation(
        self, province: Province, kab: Kabkota, kec: Kecamatan, jenis: str
    ) -> dict[str, Any]:
        """Where the facility is and how it runs: coordinates to ``kabkota``, in record order."""
        random_ = self._rng.random
        situation: dict[str, Any] = {}
        situation["longitude"], situation["latitude"] = self._coordinates(province)
        situation["operasional"] = random_() < 0.96
        situation["wilayah_perairan_darat"] = (
            None if random_() < 0.85 else ("Darat" if random_() < 0.9 else "Perairan")
        )
        situation["wilayah_karakteristik"] = (
            pick(random_, KARAKTERISTIK) if jenis == "102" and random_() < 0.5 else None
        )
        situation["sarana_administrasi"] = self._administrator(jenis)
        situation["alamat"] = self._address(kab, kec.nama)
        situation["provinsi"] = province.json
        situation["kabkota"] = kab.json
        return situation

    def _remember_parent(self, parent: dict[str, Any]) -> None:
        """Keep ``parent`` among the recent facilities that may administer new ones."""
        if len(self._parents) < _PARENTS_KEPT:
            self._parents.append(parent)
        else:
            self._parents[int(self._rng.random() * _PARENTS_KEPT)] = parent

    def _identity(
        self, jenis: str, kab: Kabkota, kec: Kecamatan
    ) -> tuple[str | None, dict[str, str | None], str]:
        """Name, subjenis object and source-system code (kode_sarana) for a new facility."""
        rng = self._rng
        options = SUBJENIS_JSON[jenis]
        if jenis == "101":
            index = int(rng.random() * len(options))
            person = person_name(rng)
            nama: str | None = (
                f"Praktik Mandiri dr. {person}",
                f"Praktik dr. {person}, {pick(rng.random, SPESIALIS)}",
                f"Praktik Mandiri drg. {person}",
                f"Praktik Mandiri Bidan {person}, S.Tr.Keb",
                f"Praktik Mandiri Perawat {person}, S.Kep., Ners",
            )[index]
            kode_sarana = str(50_000_000 + self._counter("101"))
        elif jenis == "102":
            index = 0 if rng.random() < 0.35 else 1
            nama = f"Puskesmas {kec.nama}"
            if rng.random() < 0.15:
                nama = nama.upper()
            kode_sarana = f"P{kec.kode}{self._counter(kec.kode):02d}"
        elif jenis == "103":
            index = 0 if rng.random() < 0.82 else 1
            word = place_name(rng)
            nama = (
                f"Klinik {word} {pick(rng.random, KLINIK_SUFFIX)}"
                if rng.random() < 0.6
                else f"Klinik {('Pratama', 'Utama')[index]} {word} {_between(rng.random, 1, 60)}"
            )
            kode_sarana = str(9_700_000 + self._counter("103"))
        else:
            index = 0 if rng.random() < 0.75 else 1
            word = place_name(rng)
            region = kab.nama.split(". ", 1)[-1]
            nama = (
                (f"RS Umum Daerah {region}", f"RSU {word} Husada", f"Rumah Sakit {word}")
                if index == 0
                else (f"RS Ibu dan Anak {word}", f"RS Khusus Bedah {word}", f"RS Mata {word}")
            )[int(rng.random() * 3)]
            kode_sarana = f"{kab.kode}{self._counter(kab.kode + 'r'):03d}"
        subjenis = options[index]
        r = rng.random()
        if r < 0.03:  # the quirk: a subtype with no code
            subjenis = {"kode": None, "nama": subjenis["nama"], "nama_alt": None}
        if r > 0.996:
            nama = None
        return nama, subjenis, kode_sarana

    def _phone(self) -> str | None:
        rng = self._rng
        r = rng.random()
        if r < 0.2:
            return None
        if r < 0.26:
            return f"(0{_between(rng.random, 21, 779)}) {_between(rng.random, 100_000, 9_999_999)}"
        number = f"08{_between(rng.random, 100_000_000, 99_999_999_999)}"
        if r < 0.38:
            return number + "_"
        if r < 0.41:
            return number + "___"
        if r < 0.42:
            return "-"
        return number

    def _email(self, nama: str | None) -> str | None:
        rng = self._rng
        if nama is None or rng.random() < 0.3:
            return None
        local = nama.lower().translate(_NOT_ALNUM)[:20]
        return f"{local}{_between(rng.random, 1, 99)}@{pick(rng.random, EMAIL_HOSTS)}"

    def _website(self, nama: str | None) -> str | None:
        rng = self._rng
        r = rng.random()
        if nama is None or r < 0.9:
            return None
        if r < 0.91:
            return "-"
        slug = nama.lower().translate(_NOT_ALNUM)[:24]
        return f"https://www.{slug}.co.id"

    def _coordinates(self, province: Province) -> tuple[Any, Any]:
        """(longitude, latitude): null, numbers, strings, and now and then swapped."""
        rng = self._rng
        r = rng.random()
        if r < 0.35:
            return None, None
        lat = round(province.lat + rng.uniform(-1.0, 1.0), 6)
        lon = round(province.lon + rng.uniform(-1.5, 1.5), 6)
        if r < 0.65:
            return lon, lat
        if r < 0.995:
            return f"{lon:.6f}", f"{lat:.6f}"
        return f"{lat:.6f}", f"{lon:.6f}"

    def _administrator(self, jenis: str) -> dict[str, Any]:
        if jenis in ("101", "103") and self._parents and self._rng.random() < 0.06:
            return pick(self._rng.random, self._parents)
        return NULL_ADMIN

    def _address(self, kab: Kabkota, kecamatan: str) -> str | None:
        rng = self._rng
        r = rng.random()
        if r < 0.04:
            return None
        street = place_name(rng)
        number = _between(rng.random, 1, 350)
        if r < 0.5:
            return (
                f"Jl. {street} No. {number}, RT. {_between(rng.random, 1, 12):02d}/ RW. "
                f"{_between(rng.random, 1, 9):02d}, Kelurahan {place_name(rng)}, "
                f"Kecamatan {kecamatan}, {kab.nama}"
            )
        if r < 0.8:
            return f"Jl. Raya {street} No {number} {kecamatan}"
        return f"JL. {street.upper()} KEC. {kecamatan.upper()}"
