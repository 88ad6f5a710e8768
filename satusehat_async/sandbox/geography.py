"""Indonesia's administrative map for the sandbox registry.

The 38 provinces carry their real Kemendagri (Ministry of Home Affairs) codes and names
and roughly real centres; each has a few real regencies/cities (``kabkota``) and is filled
up to about its real count with plausible made-up ones, each with made-up districts
(``kecamatan``). Everything is built from a seeded RNG, so the same seed draws the same map.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Kabkota", "Kecamatan", "Province", "build_map", "person_name", "pick", "place_name"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Kecamatan:
    """A district: 6-digit code (its kabkota's code + 2 digits) and name."""

    kode: str
    nama: str


@dataclass(frozen=True, slots=True)
class Kabkota:
    """A regency (``Kab.``) or city (``Kota``), with the JSON object MSI answers for it."""

    kode: str
    nama: str
    kecamatan: tuple[Kecamatan, ...]
    json: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class Province:
    """A province with its MSI JSON object, its weight (≈ population) and its centre."""

    kode: str
    nama: str
    weight: float
    lat: float
    lon: float
    kabkota: tuple[Kabkota, ...]
    json: dict[str, str | None]


# code, name, population (millions, ≈ facility weight), lat, lon, regency/city count
_PROVINCES: tuple[tuple[str, str, float, float, float, int], ...] = (
    ("11", "Aceh", 5.4, 4.70, 96.75, 23),
    ("12", "Sumatera Utara", 15.1, 2.12, 99.55, 33),
    ("13", "Sumatera Barat", 5.6, -0.74, 100.80, 19),
    ("14", "Riau", 6.6, 0.29, 101.71, 12),
    ("15", "Jambi", 3.6, -1.61, 103.61, 11),
    ("16", "Sumatera Selatan", 8.6, -3.32, 104.91, 17),
    ("17", "Bengkulu", 2.0, -3.79, 102.26, 10),
    ("18", "Lampung", 9.1, -4.56, 105.41, 15),
    ("19", "Kepulauan Bangka Belitung", 1.5, -2.74, 106.44, 7),
    ("21", "Kepulauan Riau", 2.1, 0.92, 104.45, 7),
    ("31", "DKI Jakarta", 10.7, -6.21, 106.85, 6),
    ("32", "Jawa Barat", 49.9, -6.90, 107.60, 27),
    ("33", "Jawa Tengah", 37.5, -7.15, 110.14, 35),
    ("34", "Daerah Istimewa Yogyakarta", 3.7, -7.80, 110.36, 5),
    ("35", "Jawa Timur", 41.1, -7.54, 112.24, 38),
    ("36", "Banten", 12.3, -6.41, 106.06, 8),
    ("51", "Bali", 4.3, -8.41, 115.19, 9),
    ("52", "Nusa Tenggara Barat", 5.5, -8.65, 117.36, 10),
    ("53", "Nusa Tenggara Timur", 5.5, -8.66, 121.08, 22),
    ("61", "Kalimantan Barat", 5.5, -0.28, 111.48, 14),
    ("62", "Kalimantan Tengah", 2.7, -1.68, 113.38, 14),
    ("63", "Kalimantan Selatan", 4.1, -3.09, 115.28, 13),
    ("64", "Kalimantan Timur", 3.8, 0.54, 116.42, 10),
    ("65", "Kalimantan Utara", 0.7, 3.07, 116.04, 5),
    ("71", "Sulawesi Utara", 2.6, 0.62, 123.98, 15),
    ("72", "Sulawesi Tengah", 3.0, -1.43, 121.45, 13),
    ("73", "Sulawesi Selatan", 9.2, -3.67, 119.97, 24),
    ("74", "Sulawesi Tenggara", 2.7, -4.14, 122.17, 17),
    ("75", "Gorontalo", 1.2, 0.70, 122.45, 6),
    ("76", "Sulawesi Barat", 1.4, -2.84, 119.23, 6),
    ("81", "Maluku", 1.9, -3.24, 130.15, 11),
    ("82", "Maluku Utara", 1.3, 1.57, 127.81, 10),
    ("91", "Papua", 1.0, -2.53, 140.72, 9),
    ("92", "Papua Barat", 0.6, -1.34, 133.17, 7),
    ("93", "Papua Selatan", 0.5, -7.00, 139.50, 4),
    ("94", "Papua Tengah", 1.4, -3.40, 136.00, 8),
    ("95", "Papua Pegunungan", 1.4, -4.10, 138.90, 8),
    ("96", "Papua Barat Daya", 0.6, -1.00, 131.50, 6),
)

# Provinces split off Papua and Papua Barat in 2022: no BPS code of their own yet (the
# MSI documentation's own example shows ``kode_bps: null``), regencies keep old codes.
_NEW_PROVINCES = {"93": "91", "94": "91", "95": "91", "96": "92"}
# BPS (statistics office) numbers Papua and Papua Barat differently from Kemendagri.
_BPS_CODE = {"91": "94", "92": "91"}

# A few real regencies/cities per province; the rest are generated.
_REAL_KABKOTA: dict[str, tuple[tuple[str, str], ...]] = {
    "11": (("1106", "Kab. Aceh Besar"), ("1171", "Kota Banda Aceh"), ("1173", "Kota Lhokseumawe")),
    "12": (("1207", "Kab. Deli Serdang"), ("1275", "Kota Medan"), ("1276", "Kota Binjai")),
    "13": (("1305", "Kab. Padang Pariaman"), ("1371", "Kota Padang"), ("1375", "Kota Bukittinggi")),
    "14": (("1401", "Kab. Kuantan Singingi"), ("1471", "Kota Pekanbaru"), ("1473", "Kota Dumai")),
    "15": (("1505", "Kab. Muaro Jambi"), ("1571", "Kota Jambi")),
    "16": (("1601", "Kab. Ogan Komering Ulu"), ("1671", "Kota Palembang")),
    "17": (("1701", "Kab. Bengkulu Selatan"), ("1771", "Kota Bengkulu")),
    "18": (("1801", "Kab. Lampung Barat"), ("1871", "Kota Bandar Lampung"), ("1872", "Kota Metro")),
    "19": (("1901", "Kab. Bangka"), ("1971", "Kota Pangkal Pinang")),
    "21": (("2101", "Kab. Karimun"), ("2171", "Kota Batam"), ("2172", "Kota Tanjung Pinang")),
    "31": (
        ("3101", "Kab. Adm. Kepulauan Seribu"),
        ("3171", "Kota Adm. Jakarta Selatan"),
        ("3172", "Kota Adm. Jakarta Timur"),
        ("3173", "Kota Adm. Jakarta Pusat"),
        ("3174", "Kota Adm. Jakarta Barat"),
        ("3175", "Kota Adm. Jakarta Utara"),
    ),
    "32": (
        ("3201", "Kab. Bogor"),
        ("3204", "Kab. Bandung"),
        ("3271", "Kota Bogor"),
        ("3273", "Kota Bandung"),
        ("3275", "Kota Bekasi"),
    ),
    "33": (("3301", "Kab. Cilacap"), ("3372", "Kota Surakarta"), ("3374", "Kota Semarang")),
    "34": (
        ("3401", "Kab. Kulon Progo"),
        ("3402", "Kab. Bantul"),
        ("3403", "Kab. Gunungkidul"),
        ("3404", "Kab. Sleman"),
        ("3471", "Kota Yogyakarta"),
    ),
    "35": (
        ("3507", "Kab. Malang"),
        ("3515", "Kab. Sidoarjo"),
        ("3573", "Kota Malang"),
        ("3578", "Kota Surabaya"),
    ),
    "36": (("3603", "Kab. Tangerang"), ("3671", "Kota Tangerang"), ("3673", "Kota Serang")),
    "51": (("5103", "Kab. Badung"), ("5104", "Kab. Gianyar"), ("5171", "Kota Denpasar")),
    "52": (("5201", "Kab. Lombok Barat"), ("5271", "Kota Mataram"), ("5272", "Kota Bima")),
    "53": (("5301", "Kab. Sumba Barat"), ("5371", "Kota Kupang")),
    "61": (("6101", "Kab. Sambas"), ("6171", "Kota Pontianak")),
    "62": (("6201", "Kab. Kotawaringin Barat"), ("6271", "Kota Palangka Raya")),
    "63": (("6303", "Kab. Banjar"), ("6371", "Kota Banjarmasin"), ("6372", "Kota Banjarbaru")),
    "64": (
        ("6402", "Kab. Kutai Kartanegara"),
        ("6471", "Kota Balikpapan"),
        ("6472", "Kota Samarinda"),
    ),
    "65": (("6501", "Kab. Malinau"), ("6571", "Kota Tarakan")),
    "71": (("7102", "Kab. Minahasa"), ("7171", "Kota Manado"), ("7172", "Kota Bitung")),
    "72": (("7203", "Kab. Donggala"), ("7271", "Kota Palu")),
    "73": (("7306", "Kab. Gowa"), ("7371", "Kota Makassar"), ("7373", "Kota Palopo")),
    "74": (("7401", "Kab. Buton"), ("7471", "Kota Kendari")),
    "75": (("7501", "Kab. Gorontalo"), ("7571", "Kota Gorontalo")),
    "76": (("7601", "Kab. Majene"), ("7604", "Kab. Mamuju")),
    "81": (("8103", "Kab. Maluku Tengah"), ("8171", "Kota Ambon")),
    "82": (("8201", "Kab. Halmahera Barat"), ("8271", "Kota Ternate")),
    "91": (("9103", "Kab. Jayapura"), ("9171", "Kota Jayapura")),
    "92": (("9202", "Kab. Manokwari"), ("9203", "Kab. Fakfak")),
    "93": (("9301", "Kab. Merauke"), ("9302", "Kab. Boven Digoel")),
    "94": (("9401", "Kab. Nabire"), ("9402", "Kab. Mimika")),
    "95": (("9501", "Kab. Jayawijaya"),),
    "96": (("9601", "Kab. Sorong"), ("9605", "Kab. Maybrat"), ("9671", "Kota Sorong")),
}

_PREFIXES = (
    "Suka", "Tanjung ", "Sungai ", "Batu ", "Padang ", "Bukit ", "Air ", "Karang ", "Teluk ",
    "Kuala ", "Muara ", "Lubuk ", "Rantau ", "Pasir ", "Tegal ", "Ci", "Sido", "Wono", "Kali",
    "Banjar", "Pematang ", "Labuhan ", "Koto ", "Mekar", "Simpang ",
)  # fmt: skip
_ROOTS = (
    "maju", "jaya", "sari", "makmur", "indah", "rejo", "harjo", "mulya", "asri", "baru", "raya",
    "agung", "tengah", "permai", "luhur", "damai", "timur", "barat", "utara", "selatan", "mas",
    "wangi", "kencana", "rahayu", "mukti", "anyar", "lestari", "sentosa", "bening", "putih",
)  # fmt: skip
_GIVEN = (
    "Siti", "Nur", "Dewi", "Rina", "Agus", "Budi", "Eko", "Sri", "Andi", "Ahmad", "Muhammad",
    "Putu", "Made", "Wayan", "Yohanes", "Maria", "Fitri", "Indah", "Rudi", "Hendra", "Dian",
    "Ratna", "Bambang", "Yusuf", "Ayu", "Lestari", "Fajar", "Intan", "Rahmat", "Teguh",
)  # fmt: skip
_FAMILY = (
    "Saputra", "Wijaya", "Hidayat", "Kurniawan", "Santoso", "Pratama", "Siregar", "Nasution",
    "Harahap", "Simanjuntak", "Lubis", "Setiawan", "Gunawan", "Susanti", "Rahmawati",
    "Handayani", "Wulandari", "Sihombing", "Pangaribuan", "Tanjung", "Manurung", "Sinaga",
    "Wibowo", "Purnomo", "Utami", "Syahputra", "Ramadhan", "Hasibuan", "Pardede", "Lim",
)  # fmt: skip


def pick(random: Callable[[], float], options: Sequence[T]) -> T:
    """``random.choice`` without its overhead (the generator calls it millions of times)."""
    return options[int(random() * len(options))]


def place_name(rng: random.Random) -> str:
    """A plausible Indonesian place name such as ``Sukamaju`` or ``Tanjung Sari``."""
    random_ = rng.random
    prefix = pick(random_, _PREFIXES)
    root = pick(random_, _ROOTS)
    return prefix + (root.capitalize() if prefix[-1] == " " else root)


def person_name(rng: random.Random) -> str:
    """A plausible Indonesian person name."""
    random_ = rng.random
    return f"{pick(random_, _GIVEN)} {pick(random_, _FAMILY)}"


def _kabkota(rng: random.Random, province: str, kode: str, nama: str, index: int) -> Kabkota:
    count = rng.randint(5, 22)
    kecamatan = tuple(Kecamatan(f"{kode}{i:02d}", place_name(rng)) for i in range(1, count + 1))
    old = _NEW_PROVINCES.get(province)
    if old is None:
        json: dict[str, str | None] = {
            "kode": kode,
            "nama": nama,
            "kode_bps": _BPS_CODE.get(province, province) + kode[2:],
            "kode_lama": kode,
        }
    else:  # a regency of a new Papua province still carries its old codes
        json = {
            "kode": kode,
            "nama": nama,
            "kode_bps": f"{_BPS_CODE[old]}{10 + index:02d}",
            "kode_lama": f"{old}{10 + index:02d}",
        }
    return Kabkota(kode=kode, nama=nama, kecamatan=kecamatan, json=json)


def build_map(rng: random.Random) -> tuple[Province, ...]:
    """All 38 provinces with their regencies/cities and districts, drawn from ``rng``."""
    provinces = []
    for kode, nama, weight, lat, lon, count in _PROVINCES:
        real = _REAL_KABKOTA.get(kode, ())
        taken = {code for code, _ in real}
        named = {name for _, name in real}
        entries = list(real)
        number = 1
        while len(entries) < count:
            code = f"{kode}{number:02d}"
            number += 1
            if code in taken:
                continue
            name = f"Kab. {place_name(rng)}"
            if name in named:
                continue
            named.add(name)
            entries.append((code, name))
        entries.sort()
        kabkota = tuple(
            _kabkota(rng, kode, code, name, i) for i, (code, name) in enumerate(entries)
        )
        json: dict[str, str | None] = {
            "kode": kode,
            "nama": nama,
            "kode_bps": None if kode in _NEW_PROVINCES else _BPS_CODE.get(kode, kode),
            "kode_lama": kode,
        }
        provinces.append(Province(kode, nama, weight, lat, lon, kabkota, json))
    return tuple(provinces)
