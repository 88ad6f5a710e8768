"""Deterministic, realistic facility records for the sandbox's Master Sarana Index.

:class:`FacilityGenerator` draws facilities from a seeded RNG and hands each one out
already encoded as JSON bytes (the sandbox serves pages by joining them) together with a
compact :data:`Row` of the fields its filters need. The records carry the 47 documented
fields and the quirks real answers show: nulls in nested codes, coordinates as numbers,
strings or null, phone numbers with junk, missing names and e-mails.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from satusehat_async.testing.geography import (
    Kabkota,
    Kecamatan,
    Province,
    build_map,
    person_name,
    pick,
    place_name,
)

__all__ = ["JENIS_SARANA", "STATUS_SARANA", "FacilityGenerator", "Row"]


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


JENIS_SARANA: dict[str, dict[str, str]] = {
    "101": {"kode": "101", "nama": "Praktik Mandiri", "nama_alt": "Praktik Mandiri"},
    "102": {"kode": "102", "nama": "Puskesmas", "nama_alt": "PKM"},
    "103": {"kode": "103", "nama": "Klinik", "nama_alt": "Klinik"},
    "104": {"kode": "104", "nama": "Rumah Sakit", "nama_alt": "RS"},
}
_SUBJENIS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "101": (
        ("10101", "Praktik Mandiri Dokter", None),
        ("10102", "Praktik Mandiri Dokter Spesialis", None),
        ("10103", "Praktik Mandiri Dokter Gigi", None),
        ("10104", "Praktik Mandiri Bidan", None),
        ("10105", "Praktik Mandiri Perawat", None),
    ),
    "102": (("10201", "Puskesmas Rawat Inap", None), ("10202", "Puskesmas Non Rawat Inap", None)),
    "103": (("10301", "Klinik Pratama", None), ("10302", "Klinik Utama", None)),
    "104": (("10401", "Rumah Sakit Umum", "RSU"), ("10402", "Rumah Sakit Khusus", "RSK")),
}
_SUBJENIS_JSON = {
    jenis: tuple({"kode": k, "nama": n, "nama_alt": a} for k, n, a in entries)
    for jenis, entries in _SUBJENIS.items()
}
_JENIS = ("101", "102", "103", "104")
_JENIS_CUMULATIVE = (0.36, 0.52, 0.86, 1.0)
STATUS_SARANA = ("valid", "verified", "reverified", "draft", "review")
_STATUS_CUMULATIVE = (0.62, 0.78, 0.86, 0.95, 1.0)
_KELAS_RS = (
    {"kode": "A", "nama": "Kelas A"},
    {"kode": "B", "nama": "Kelas B"},
    {"kode": "C", "nama": "Kelas C"},
    {"kode": "C", "nama": "Kelas C"},
    {"kode": "D", "nama": "Kelas D"},
    {"kode": "D", "nama": "Kelas D"},
    {"kode": "nakes", "nama": "Pendidikan & Pelatihan Tenaga Kesehatan"},
    {"kode": "other", "nama": "Sarana Kesehatan Lainnya"},
)
_NULL_KELAS: dict[str, None] = {"kode": None, "nama": None}
_NULL_ADMIN: dict[str, None] = {
    "kode": None,
    "nama": None,
    "kode_sarana": None,
    "status_aktif": None,
    "status_sarana": None,
}
_KARAKTERISTIK = ("Perkotaan", "Perdesaan", "Terpencil", "Sangat Terpencil")
_SPESIALIS = ("Sp.PD", "Sp.A", "Sp.OG", "Sp.B", "Sp.M", "Sp.THT-KL", "Sp.KK", "Sp.JP")
_KLINIK_SUFFIX = ("Medika", "Husada", "Sehat", "Farma", "Medical Center", "Utama", "Sentosa")
_EMAIL_HOSTS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.co.id", "yahoo.com", "go.id")
_FIRST_DAY = dt.date(2022, 1, 1)
_DAYS = tuple((_FIRST_DAY + dt.timedelta(days=d)).isoformat() for d in range(4 * 365 + 1))
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

    def _one(self, updated_at: str | None) -> tuple[bytes, Row]:
        rng = self._rng
        random_ = rng.random
        province = self.provinces[bisect_left(self._province_cumulative, random_())]
        kabkota = province.kabkota
        kab = kabkota[int(random_() * len(kabkota))]
        kecamatan = kab.kecamatan
        kec = kecamatan[int(random_() * len(kecamatan))]
        jenis = _JENIS[bisect_left(_JENIS_CUMULATIVE, random_())]
        self._next_kode += 1 + int(random_() * 12)
        kode_satusehat = str(self._next_kode)
        nama, subjenis, kode_sarana = self._identity(jenis, kab, kec)
        status = STATUS_SARANA[bisect_left(_STATUS_CUMULATIVE, random_())]
        aktif = random_() < 0.93
        record: dict[str, Any] = {
            "kode_satusehat": kode_satusehat,
            "kode_sarana": kode_sarana,
            "nama": nama,
            "telp": self._phone(),
            "email": self._email(nama),
            "website": self._website(nama),
        }
        record["longitude"], record["latitude"] = self._coordinates(province)
        record["operasional"] = random_() < 0.96
        record["wilayah_perairan_darat"] = (
            None if random_() < 0.85 else ("Darat" if random_() < 0.9 else "Perairan")
        )
        record["wilayah_karakteristik"] = (
            pick(rng.random, _KARAKTERISTIK) if jenis == "102" and random_() < 0.5 else None
        )
        record["sarana_administrasi"] = self._administrator(jenis)
        record["alamat"] = self._address(kab, kec.nama)
        record["provinsi"] = province.json
        record["kabkota"] = kab.json
        record["jenis_sarana"] = JENIS_SARANA[jenis]
        record["subjenis"] = subjenis
        record["kelas_sarana"] = (
            pick(rng.random, _KELAS_RS) if jenis == "104" and random_() < 0.9 else _NULL_KELAS
        )
        record["status_sarana"] = status
        record["status_aktif"] = aktif
        if jenis != "101" and nama is not None and random_() < 0.1:
            parent = {
                "kode": kode_satusehat,
                "nama": nama,
                "kode_sarana": kode_sarana,
                "status_aktif": aktif,
                "status_sarana": status,
            }
            if len(self._parents) < 64:
                self._parents.append(parent)
            else:
                self._parents[int(rng.random() * 64)] = parent
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
            updated_at or _DAYS[int(random_() * len(_DAYS))],
        )
        return _encode(record), row

    def _identity(
        self, jenis: str, kab: Kabkota, kec: Kecamatan
    ) -> tuple[str | None, dict[str, str | None], str]:
        """Name, subjenis object and source-system code (kode_sarana) for a new facility."""
        rng = self._rng
        options = _SUBJENIS_JSON[jenis]
        if jenis == "101":
            index = int(rng.random() * len(options))
            person = person_name(rng)
            nama: str | None = (
                f"Praktik Mandiri dr. {person}",
                f"Praktik dr. {person}, {pick(rng.random, _SPESIALIS)}",
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
                f"Klinik {word} {pick(rng.random, _KLINIK_SUFFIX)}"
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
        return f"{local}{_between(rng.random, 1, 99)}@{pick(rng.random, _EMAIL_HOSTS)}"

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
        return _NULL_ADMIN

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
