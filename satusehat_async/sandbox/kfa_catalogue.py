"""The sandbox's KFA catalogue: product numbers in per-type order, lookups, filters, prices.

Products are numbers (:mod:`.kfa_records` computes each one's record from its number):
the first three fifths of ``count`` are farmasi, the rest alkes, and each type's list is
its range of numbers, after the products added at its front (:meth:`KfaCatalogue.add`,
which shifts the rows of every page of a crawl in progress, as a live catalogue does).
A filtered list is computed once per filter and kept (until the catalogue changes). The
catalogue lives in ``sandbox.extensions["kfa"]`` (:func:`catalogue_of`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from satusehat_async.sandbox.kfa_records import (
    Facts,
    detail_record,
    facts,
    list_record,
    lkpp_code,
    mix,
    template_name,
)

if TYPE_CHECKING:
    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["KfaCatalogue", "ProductFilter", "catalogue_of"]

NotFoundStyle = Literal["empty", "null", "absent", "404"]
_CACHED = 16
_encode = msgspec.json.Encoder().encode
_MAX_NUMBER = 1_000_000  # codes embed the number in 6 digits
_NIE_NUMBER = re.compile(r"(?:GKL|DKI)([0-9]{10})A1|AK[DL] ([0-9]{11})")
_REGIONS = (
    ("Regional 1", (("31", "DKI Jakarta"), ("32", "Jawa Barat"), ("33", "Jawa Tengah"))),
    ("Regional 2", (("12", "Sumatera Utara"), ("13", "Sumatera Barat"), ("51", "Bali"))),
    ("Regional 3", (("61", "Kalimantan Barat"), ("73", "Sulawesi Selatan"))),
    ("Regional 4", (("63", "Kalimantan Selatan"), ("72", "Sulawesi Tengah"))),
    ("Regional 5", (("81", "Maluku"), ("53", "Nusa Tenggara Timur"))),
    ("Regional 6", (("91", "Papua"), ("92", "Papua Barat"))),
)


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """The optional filters of ``/kfa-v2/products/all`` (None: not filtered)."""

    farmalkes_type: str | None = None
    keyword: str | None = None
    template_code: str | None = None
    packaging_code: str | None = None
    from_date: str | None = None
    to_date: str | None = None

    def matches(self, f: Facts) -> bool:
        """Whether product ``f`` passes every filter."""
        day = f.updated_at[:10]
        return (
            (self.farmalkes_type is None or f.kind == self.farmalkes_type)
            and (self.template_code is None or str(f.template) == self.template_code)
            and (self.packaging_code is None or str(f.packaging) == self.packaging_code)
            and (self.from_date is None or day >= self.from_date)
            and (self.to_date is None or day <= self.to_date)
            and (self.keyword is None or self.keyword.lower() in f.name.lower())
        )


class _Order(Sequence[int]):
    """One type's product numbers in list order: the added ones, then the initial range."""

    def __init__(self, numbers: range) -> None:
        self.front: list[int] = []
        self.base = numbers

    def __len__(self) -> int:
        return len(self.front) + len(self.base)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        front = self.front
        return front[index] if index < len(front) else self.base[index - len(front)]

    def __contains__(self, number: object) -> bool:
        return number in self.base or number in self.front


class KfaCatalogue:
    """``count`` products drawn from ``seed`` (see the module documentation).

    Attributes:
        not_found: how ``/kfa-v2/products`` answers an unknown code: 200 with
            ``"result": {}`` (``"empty"``), ``null`` or no ``result`` (``"absent"``), or a
            404 with a JSON body (``"404"``). The real answer is not documented.
    """

    def __init__(self, count: int, seed: int) -> None:
        if not 0 <= count < _MAX_NUMBER:
            raise ValueError(f"the KFA catalogue holds 0 to {_MAX_NUMBER - 1} products")
        self.seed = seed
        self._farmasi = count * 3 // 5
        self._count = count
        self._next = count
        self._orders = {
            "farmasi": _Order(range(self._farmasi)),
            "alkes": _Order(range(self._farmasi, count)),
        }
        self._added: dict[int, tuple[str, str | None]] = {}  # number -> (group, updated_at)
        self._cache: OrderedDict[tuple[str, ProductFilter], list[int]] = OrderedDict()
        self.not_found: NotFoundStyle = "empty"
        self._encoded: dict[int, bytes] | None = None  # list records, once warmed

    def warm(self) -> None:
        """Encode every list record now and keep the bytes (a benchmark's server does,
        so that serving a page costs a join, not a draw): memory for speed."""
        self._encoded = {}
        for order in self._orders.values():
            for number in order:
                self._encoded[number] = _encode(self.record(number))

    def listed(self, numbers: Sequence[int]) -> bytes:
        """The JSON array of the list records of ``numbers``."""
        cache = self._encoded
        if cache is None:
            return _encode([self.record(n) for n in numbers])
        parts = [cache.get(n) or _encode(self.record(n)) for n in numbers]
        return b"[" + b",".join(parts) + b"]"

    def __len__(self) -> int:
        return sum(len(order) for order in self._orders.values())

    def group_of(self, number: int) -> str | None:
        """``"farmasi"`` or ``"alkes"`` for a product of the catalogue, else None."""
        if 0 <= number < self._farmasi:
            return "farmasi"
        if self._farmasi <= number < self._count:
            return "alkes"
        added = self._added.get(number)
        return added[0] if added is not None else None

    def facts(self, number: int) -> Facts:
        """The facts of product ``number`` (which must be in the catalogue)."""
        group = self.group_of(number)
        if group is None:
            raise KeyError(number)
        updated = self._added[number][1] if number in self._added else None
        return facts(self.seed, number, group, updated)

    def record(self, number: int, *, detail: bool = False) -> dict[str, Any]:
        """The JSON record of product ``number``: as listed, or as the detail answers."""
        build = detail_record if detail else list_record
        return build(self.seed, self.facts(number))

    def numbers(self, product_type: str, where: ProductFilter | None = None) -> Sequence[int]:
        """The product numbers ``/kfa-v2/products/all`` lists for a type, in order."""
        order = self._orders[product_type]
        if where is None or where == ProductFilter():
            return order
        key = (product_type, where)
        found = self._cache.get(key)
        if found is None:
            found = [n for n in order if where.matches(self.facts(n))]
            self._cache[key] = found
            while len(self._cache) > _CACHED:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found

    def records(self, product_type: str) -> list[dict[str, Any]]:
        """Every product of a type as listed, in list order (for tests)."""
        return [self.record(n) for n in self._orders[product_type]]

    def add(
        self, count: int, product_type: str = "alkes", *, updated_at: str | None = None
    ) -> list[int]:
        """Add ``count`` products at the front of ``product_type``'s list; their numbers.

        Every page of a crawl in progress then shifts by ``count`` rows.
        """
        if product_type not in self._orders or count < 0 or self._next + count > _MAX_NUMBER:
            raise ValueError("add: a known product type and a count that fits")
        numbers = list(range(self._next, self._next + count))
        self._next += count
        for number in numbers:
            self._added[number] = (product_type, updated_at)
        self._orders[product_type].front[0:0] = numbers
        self._cache.clear()
        return numbers

    # -- lookups (/kfa-v2/products) ---------------------------------------------------
    def find(self, identifier: str, code: str) -> int | None:
        """The number of the product with ``code`` in ``identifier``'s system, or None."""
        number = self._number_of(identifier, code)
        if number is None or self.group_of(number) is None:
            return None
        f = self.facts(number)
        if identifier == "kfa":
            return number if f.kfa_code == code else None
        if identifier == "lkpp":
            return number if lkpp_code(f) == code else None
        return number if self.record(number).get("nie") == code else None

    @staticmethod
    def _number_of(identifier: str, code: str) -> int | None:
        if identifier == "kfa" and code.isdigit() and len(code) == 8:
            return int(code[2:]) if code[:2] in ("93", "33") else None
        if identifier == "lkpp" and code.isdigit():
            return int(code) - 45_000_000 if int(code) >= 45_000_000 else None
        found = _NIE_NUMBER.fullmatch(code) if identifier == "nie" else None
        if found is None:
            return None
        digits = found.group(1) or found.group(2)
        base = 2_012_000_000 if found.group(1) else 20_000_000_000
        return int(digits) - base if int(digits) >= base else None

    # -- JKN prices -------------------------------------------------------------------
    def prices(self, kfa_code: str, region_code: str | None) -> list[dict[str, Any]]:
        """The JKN price rows of a farmasi template (``92…``) or variant (``93…``)."""
        template = self._template_of(kfa_code)
        if template is None:
            return []
        name = template_name(self.seed, template)
        h = mix(self.seed + 11, template)
        periods: list[tuple[str, str, str | None, bool]] = [
            ("HK.01.07/MENKES/1905/2023", "2023-08-23", None, True)
        ]
        if template % 3 == 0:  # an earlier decree, no longer in force
            periods.insert(0, ("HK.01.07/MENKES/1234/2022", "2022-03-01", "2023-08-22", False))
        rows = []
        for ref, start, end, active in periods:
            for index, (region_name, provinces) in enumerate(_REGIONS, start=1):
                code = f"regional{index}"
                if region_code is not None and code != region_code:
                    continue
                price = float(100 + h % 9000) * (1 + index / 20) * (0.9 if not active else 1)
                rows.append({
                    "product_template_name": name, "kfa_code": str(92_000_000 + template),
                    "document_ref": ref, "active": active, "region_name": region_name,
                    "region_code": code, "start_date": start, "end_date": end,
                    "price_unit": round(price, 1), "uom_name": "Tablet",
                    "updated_at": f"{start} 04:11:02", "uom_pack": ["Blister", "Strip"],
                    "province": [{"province_code": c, "province_name": n} for c, n in provinces],
                })  # fmt: skip
        return rows

    def _template_of(self, kfa_code: str) -> int | None:
        if not (kfa_code.isdigit() and len(kfa_code) == 8):
            return None
        if kfa_code.startswith("93"):
            number = int(kfa_code[2:])
            return number // 4 if self.group_of(number) == "farmasi" else None
        if kfa_code.startswith("92"):
            template = int(kfa_code[2:])
            return template if self.group_of(template * 4) == "farmasi" else None
        return None


def catalogue_of(sandbox: LocalSandbox) -> KfaCatalogue:
    """The sandbox's KFA catalogue (``sandbox.kfa_products`` products), made on first use."""
    state = sandbox.extensions.setdefault("kfa", {})
    catalogue = state.get("catalogue")
    if catalogue is None:
        catalogue = state["catalogue"] = KfaCatalogue(sandbox.kfa_products, sandbox.seed)
    assert isinstance(catalogue, KfaCatalogue)
    return catalogue
