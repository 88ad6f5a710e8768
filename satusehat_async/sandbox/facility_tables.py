"""The code lists and frequencies the sandbox draws its facility records from (pure data).

The facility types (``jenis_sarana``) and subtypes with their real codes, hospital
classes, statuses with roughly the shares real answers show, and the words names,
e-mails and dates are drawn from. :mod:`~satusehat_async.sandbox.facilities` uses them.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "DAYS",
    "EMAIL_HOSTS",
    "JENIS",
    "JENIS_CUMULATIVE",
    "JENIS_SARANA",
    "KARAKTERISTIK",
    "KELAS_RS",
    "KLINIK_SUFFIX",
    "NULL_ADMIN",
    "NULL_KELAS",
    "SPESIALIS",
    "STATUS_CUMULATIVE",
    "STATUS_SARANA",
    "SUBJENIS_JSON",
]

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
SUBJENIS_JSON = {
    jenis: tuple({"kode": k, "nama": n, "nama_alt": a} for k, n, a in entries)
    for jenis, entries in _SUBJENIS.items()
}
"""Each type's subtypes as the JSON objects MSI answers with."""
JENIS = ("101", "102", "103", "104")
JENIS_CUMULATIVE = (0.36, 0.52, 0.86, 1.0)
"""Cumulative shares of :data:`JENIS` in the registry."""
STATUS_SARANA = ("valid", "verified", "reverified", "draft", "review")
STATUS_CUMULATIVE = (0.62, 0.78, 0.86, 0.95, 1.0)
"""Cumulative shares of :data:`STATUS_SARANA`."""
KELAS_RS = (
    {"kode": "A", "nama": "Kelas A"},
    {"kode": "B", "nama": "Kelas B"},
    {"kode": "C", "nama": "Kelas C"},
    {"kode": "C", "nama": "Kelas C"},
    {"kode": "D", "nama": "Kelas D"},
    {"kode": "D", "nama": "Kelas D"},
    {"kode": "nakes", "nama": "Pendidikan & Pelatihan Tenaga Kesehatan"},
    {"kode": "other", "nama": "Sarana Kesehatan Lainnya"},
)
NULL_KELAS: dict[str, None] = {"kode": None, "nama": None}
NULL_ADMIN: dict[str, None] = {
    "kode": None,
    "nama": None,
    "kode_sarana": None,
    "status_aktif": None,
    "status_sarana": None,
}
KARAKTERISTIK = ("Perkotaan", "Perdesaan", "Terpencil", "Sangat Terpencil")
SPESIALIS = ("Sp.PD", "Sp.A", "Sp.OG", "Sp.B", "Sp.M", "Sp.THT-KL", "Sp.KK", "Sp.JP")
KLINIK_SUFFIX = ("Medika", "Husada", "Sehat", "Farma", "Medical Center", "Utama", "Sentosa")
EMAIL_HOSTS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.co.id", "yahoo.com", "go.id")
_FIRST_DAY = dt.date(2022, 1, 1)
DAYS = tuple((_FIRST_DAY + dt.timedelta(days=d)).isoformat() for d in range(4 * 365 + 1))
"""The update dates a facility may carry: every day from 2022 to 2025."""
