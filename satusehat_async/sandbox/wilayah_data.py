"""The sandbox's region codes (master wilayah): the registry's map, plus villages.

Provinces, regencies/cities (``kabkota``) and districts (``kecamatan``) are the map of
:mod:`.geography` drawn with the sandbox's seed exactly as the facility registry draws it
(``build_map(random.Random(seed))``), so the region codes of MSI facilities and of the
wilayah endpoints agree. Villages (``kelurahan``/``desa``, 10 digits: the district's code,
``1`` for a kelurahan or ``2`` for a desa, and a 3-digit number) are generated here, per
district from a seed of their own (so asking for one district draws the same villages as
asking for all), on first use.

``bps_code``: the province's and kabkota's BPS codes from the map (``""`` for the Papua
provinces created in 2022, as the real data shows), below them the kabkota's BPS code
followed by the rest of the Kemendagri code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from satusehat_async.sandbox.geography import Province, build_map, place_name

__all__ = ["LEVELS", "Row", "WilayahData"]

LEVELS = ("provinces", "cities", "districts", "sub-districts")
"""The four levels, by their URL names; code lengths 2, 4, 6 and 10."""


@dataclass(frozen=True, slots=True)
class Row:
    """One region as the endpoints answer it (every field a string)."""

    code: str
    parent_code: str
    bps_code: str
    name: str

    def json(self) -> dict[str, str]:
        """The answer's object for this row."""
        return {
            "code": self.code,
            "parent_code": self.parent_code,
            "bps_code": self.bps_code,
            "name": self.name,
        }


def _tree(provinces: tuple[Province, ...]) -> tuple[list[Row], list[Row], list[Row]]:
    top: list[Row] = []
    cities: list[Row] = []
    districts: list[Row] = []
    for province in provinces:
        top.append(Row(province.kode, "", province.json.get("kode_bps") or "", province.nama))
        for kabkota in province.kabkota:
            bps = kabkota.json.get("kode_bps") or ""
            cities.append(Row(kabkota.kode, province.kode, bps, kabkota.nama))
            for kecamatan in kabkota.kecamatan:
                district_bps = bps + kecamatan.kode[4:] if bps else ""
                districts.append(Row(kecamatan.kode, kabkota.kode, district_bps, kecamatan.nama))
    return top, cities, districts


class WilayahData:
    """Every region of the sandbox, by level, sorted by code."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        provinces, cities, districts = _tree(build_map(random.Random(seed)))
        self._rows: dict[str, list[Row]] = {
            "provinces": provinces,
            "cities": cities,
            "districts": districts,
        }
        self._district = {row.code: row for row in districts}
        self._children: dict[str, dict[str, list[Row]]] = {}
        self._villages: dict[str, list[Row]] = {}
        self._all_villages: list[Row] | None = None

    def villages(self, district_code: str) -> list[Row]:
        """The villages of one district (none for a code that is not a district)."""
        found = self._villages.get(district_code)
        if found is None:
            district = self._district.get(district_code)
            found = self._villages[district_code] = [] if district is None else self._draw(district)
        return found

    def _draw(self, district: Row) -> list[Row]:
        rng = random.Random(f"wilayah:{self._seed}:{district.code}")
        rows = []
        for kind, count in (("1", rng.randint(0, 4)), ("2", rng.randint(3, 14))):
            for number in range(1, count + 1):
                code = f"{district.code}{kind}{number:03d}"
                bps = district.bps_code + code[6:] if district.bps_code else ""
                rows.append(Row(code, district.code, bps, place_name(rng)))
        return rows

    def rows(self, level: str, parents: list[str] | None = None) -> list[Row]:
        """The regions of ``level`` (sorted by code), only under ``parents`` if given."""
        if level == "sub-districts":
            if parents is None:
                if self._all_villages is None:
                    self._all_villages = [
                        v for d in self._rows["districts"] for v in self.villages(d.code)
                    ]
                return self._all_villages
            return [v for p in sorted(set(parents)) for v in self.villages(p)]
        every = self._rows[level]
        if parents is None:
            return every
        children = self._children.get(level)
        if children is None:
            children = self._children[level] = {}
            for row in every:
                children.setdefault(row.parent_code, []).append(row)
        return [row for p in sorted(set(parents)) for row in children.get(p, ())]
