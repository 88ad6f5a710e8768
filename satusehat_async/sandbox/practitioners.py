"""The sandbox's practitioner directory: the health workers SATUSEHAT already knows.

A facility does not register its doctors: SATUSEHAT's Practitioner registry is filled
from the health-worker registries (SISDMK, the STR of the councils), and a facility looks
its staff up by NIK to get their IHS number (``reference/satusehat-clinical.md`` §4). The
directory holds the 10 dummy practitioners SATUSEHAT publishes for its sandbox (§12, real
NIK -> IHS table) and ``generated`` more drawn from the seed (deterministic), each a
Practitioner as the 2022 capture shows it: the IHS number as ``id`` and as the
``nakes-his-number`` identifier, the NIK identifier, an official name, gender, birth date,
and a qualification.

Answers mask the NIK (``################``, as the patient index does) unless ``mask_nik``
is off: nothing shows whether SATUSEHAT masks practitioners' NIKs today, so a client must
never depend on reading it back. Pure (no server); the resource store
(:mod:`~satusehat_async.sandbox.resources`) answers reads and searches of Practitioner
from it as well as from what was POSTed.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from satusehat_async.sandbox.resource_search import ResourceSearch

__all__ = ["IHS_SYSTEM", "NIK_SYSTEM", "PUBLISHED", "PractitionerDirectory"]

NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
IHS_SYSTEM = "https://fhir.kemkes.go.id/id/nakes-his-number"
_MASK = "#" * 16
_QUALIFICATION_SYSTEM = "https://terminology.kemkes.go.id/v1-0302"

#: SATUSEHAT's published sandbox practitioners: (NIK, name, gender, birthDate, IHS).
PUBLISHED: tuple[tuple[str, str, str, str, str], ...] = (
    ("7209061211900001", "dr. Alexander", "male", "1994-01-01", "10009880728"),
    ("3322071302900002", "dr. Yoga Yandika, Sp.A", "male", "1995-02-02", "10006926841"),
    ("3171071609900003", "dr. Syarifuddin, Sp.Pd.", "male", "1988-03-03", "10001354453"),
    ("3207192310600004", "dr. Nicholas Evan, Sp.B.", "male", "1986-04-04", "10010910332"),
    ("6408130207800005", "dr. Dito Arifin, Sp.M.", "male", "1985-05-05", "10018180913"),
    ("3217040109800006", "dr. Olivia Kirana, Sp.OG", "female", "1984-06-06", "10002074224"),
    ("3519111703800007", "dr. Alicia Chrissy, Sp.N.", "female", "1982-07-07", "10012572188"),
    ("5271002009700008", "dr. Nathalie Tan, Sp.PK.", "female", "1981-08-08", "10018452434"),
    ("3313096403900009", "Sheila Annisa S.Kep", "female", "1980-09-09", "10014058550"),
    ("3578083008700010", "apt. Aditya Pradhana, S.Farm.", "female", "1980-10-10", "10001915884"),
)

_PROVINCES = (11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61)
_MEN = ("Budi", "Agus", "Hendra", "Rizky", "Fajar", "Dimas", "Yusuf", "Arif", "Bayu", "Iqbal")
_WOMEN = ("Siti", "Dewi", "Ayu", "Rina", "Putri", "Intan", "Nadia", "Fitri", "Lestari", "Maya")
_FAMILY = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Nugroho", "Pratama", "Kusuma", "Halim")
# (prefix, suffix, qualification code, display)
_PROFESSIONS = (
    ("dr.", "", "STR-KKI", "Surat Tanda Registrasi Dokter"),
    ("dr.", "Sp.PD", "STR-KKI", "Surat Tanda Registrasi Dokter Spesialis"),
    ("drg.", "", "STR-KKI", "Surat Tanda Registrasi Dokter Gigi"),
    ("", "S.Kep", "STR-KTKI", "Surat Tanda Registrasi Perawat"),
    ("", "A.Md.Keb", "STR-KTKI", "Surat Tanda Registrasi Bidan"),
    ("apt.", "S.Farm.", "STR-KTKI", "Surat Tanda Registrasi Apoteker"),
)


def _record(nik: str, name: str, gender: str, birth: str, ihs: str, code: str, display: str) -> Any:
    prefix = name.split(" ")[0] if name.split(" ")[0].endswith(".") else None
    official: dict[str, Any] = {"use": "official", "text": name}
    coding = {"system": _QUALIFICATION_SYSTEM, "code": code, "display": display}
    if prefix:
        official["prefix"] = [prefix]
    return {
        "resourceType": "Practitioner",
        "id": ihs,
        "meta": {"lastUpdated": "2022-08-20T16:27:02.097059+00:00", "versionId": "MTY2MTAxMjgy"},
        "identifier": [
            {"system": IHS_SYSTEM, "use": "official", "value": ihs},
            {"system": NIK_SYSTEM, "use": "official", "value": nik},
        ],
        "name": [official],
        "gender": gender,
        "birthDate": birth,
        "qualification": [
            {
                "code": {"coding": [coding]},
                "identifier": [
                    {"system": f"https://fhir.kemkes.go.id/id/{code.lower()}-number", "value": ihs}
                ],
            }
        ],
    }


def _published_qualification(name: str) -> tuple[str, str]:
    if name.startswith("dr."):
        return "STR-KKI", "Surat Tanda Registrasi Dokter"
    return "STR-KTKI", "Surat Tanda Registrasi Tenaga Kesehatan"


def _generated(seed: int, count: int, taken: set[str]) -> Iterator[dict[str, Any]]:
    """``count`` practitioners drawn from ``seed``: valid NIKs (their birth date segment
    matching the birth date, +40 on the day for women), unique NIKs and IHS numbers."""
    draw = random.Random(seed * 7919 + 101)
    made = 0
    while made < count:
        female = draw.random() < 0.5
        year, month, day = draw.randint(1960, 1999), draw.randint(1, 12), draw.randint(1, 28)
        region = f"{draw.choice(_PROVINCES)}{draw.randint(1, 30):02d}{draw.randint(1, 20):02d}"
        nik = (
            f"{region}{day + 40 * female:02d}{month:02d}{year % 100:02d}{draw.randint(1, 9999):04d}"
        )
        ihs = f"100{draw.randint(0, 99_999_999):08d}"
        if nik in taken or ihs in taken:
            continue
        taken.update((nik, ihs))
        prefix, suffix, code, display = draw.choice(_PROFESSIONS)
        given = draw.choice(_WOMEN if female else _MEN)
        name = " ".join(p for p in (prefix, given, draw.choice(_FAMILY)) if p)
        name = f"{name}, {suffix}" if suffix else name
        gender = "female" if female else "male"
        made += 1
        yield _record(nik, name, gender, f"{year}-{month:02d}-{day:02d}", ihs, code, display)


class PractitionerDirectory:
    """The practitioners the sandbox knows before any request: the published ones and
    ``generated`` more, built on first use.

    Attributes:
        mask_nik: answers carry the NIK as ``################`` (default), as the patient
            index's do; False serves it as stored (as the 2022 capture did).
    """

    def __init__(self, seed: int, *, generated: int = 400) -> None:
        self.seed, self.generated = seed, generated
        self.mask_nik = True
        self._by_id: dict[str, dict[str, Any]] | None = None
        self._by_nik: dict[str, str] = {}

    def _records(self) -> dict[str, dict[str, Any]]:
        if self._by_id is None:
            records = [
                _record(nik, name, gender, birth, ihs, *_published_qualification(name))
                for nik, name, gender, birth, ihs in PUBLISHED
            ]
            taken = {value for row in PUBLISHED for value in (row[0], row[4])}
            records.extend(_generated(self.seed, self.generated, taken))
            self._by_id = {r["id"]: r for r in records}
            self._by_nik = {r["identifier"][1]["value"]: r["id"] for r in records}
        return self._by_id

    def __len__(self) -> int:
        return len(self._records())

    @property
    def niks(self) -> list[str]:
        """Every NIK in the directory (the published ones first)."""
        self._records()
        return list(self._by_nik)

    def ihs_number(self, nik: str) -> str | None:
        """The IHS number of the practitioner with ``nik``, or None."""
        self._records()
        return self._by_nik.get(nik)

    def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = copy.deepcopy(record)
        if self.mask_nik:
            for identifier in shown["identifier"]:
                if identifier["system"] == NIK_SYSTEM:
                    identifier["value"] = _MASK
        return shown

    def read(self, resource_id: str) -> dict[str, Any] | None:
        """The practitioner with id (IHS number) ``resource_id`` as answered, or None."""
        record = self._records().get(resource_id)
        return None if record is None else self._shown(record)

    def find(self, search: ResourceSearch) -> list[dict[str, Any]]:
        """The practitioners matching ``search`` (on their unmasked records), as answered.

        A search without criteria lists none of them: the registry is searched by NIK or
        by name, birth date and gender, never listed whole.
        """
        if not search.criteria:
            return []
        nik_only = _nik_of(search)
        if nik_only is not None:  # the common case, without a scan
            found = self.ihs_number(nik_only)
            candidates = [self._records()[found]] if found else []
        else:
            candidates = list(self._records().values())
        return [self._shown(r) for r in candidates if search.matches(r)]


def _nik_of(search: ResourceSearch) -> str | None:
    """The NIK of a search by ``identifier={NIK_SYSTEM}|{nik}`` alone, if it is one."""
    if len(search.given) != 1 or search.given[0][0] != "identifier":
        return None
    system, _, value = search.given[0][1].partition("|")
    return value if system == NIK_SYSTEM and "," not in value else None
