"""The sandbox's KFA products, computed from their number: nothing is stored per product.

Product ``n`` (of a catalogue drawn from ``seed``) is a pure function of ``(seed, n)``:
its type, codes, names, dates and prices come from a 64-bit mix of the two, so a
catalogue of 60,000 products costs nothing until a page is asked for, and every answer
is the same on every run. Shapes follow ``reference/satusehat-clinical.md`` §6:
medicines and vaccines (farmasi: templates ``92…``, variants ``93…``, packagings
``94…``), devices (alkes: templates ``82…``, variants ``33…`` or ``"/"`` for those without
a variant code, packagings ``84…``, ``dosage_form: {"code": false, "name": false}``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["Facts", "detail_record", "facts", "list_record", "mix", "template_name"]

_MASK = (1 << 64) - 1
_EPOCH = dt.datetime(2022, 1, 1)

# (ingredient, strength, ATC code, ATC level-1 name, route)
_INGREDIENTS = (
    ("Paracetamol", "500 mg", "N02BE01", "NERVOUS SYSTEM", "O"),
    ("Amoxicillin", "500 mg", "J01CA04", "ANTIINFECTIVES FOR SYSTEMIC USE", "O"),
    ("Abacavir Sulfate", "300 mg", "J05AF06", "ANTIINFECTIVES FOR SYSTEMIC USE", "O"),
    ("Acarbose", "100 mg", "A10BF01", "ALIMENTARY TRACT AND METABOLISM", "O"),
    ("Metformin Hydrochloride", "500 mg", "A10BA02", "ALIMENTARY TRACT AND METABOLISM", "O"),
    ("Amlodipine Besilate", "10 mg", "C08CA01", "CARDIOVASCULAR SYSTEM", "O"),
    ("Captopril", "25 mg", "C09AA01", "CARDIOVASCULAR SYSTEM", "O"),
    ("Ceftriaxone Sodium", "1 g", "J01DD04", "ANTIINFECTIVES FOR SYSTEMIC USE", "IV"),
    ("Omeprazole", "20 mg", "A02BC01", "ALIMENTARY TRACT AND METABOLISM", "O"),
    ("Ibuprofen", "400 mg", "M01AE01", "MUSCULO-SKELETAL SYSTEM", "O"),
    ("Salbutamol Sulfate", "2 mg", "R03CC02", "RESPIRATORY SYSTEM", "O"),
    ("Cetirizine Dihydrochloride", "10 mg", "R06AE07", "RESPIRATORY SYSTEM", "O"),
    ("Simvastatin", "20 mg", "C10AA01", "CARDIOVASCULAR SYSTEM", "O"),
    ("Ranitidine Hydrochloride", "150 mg", "A02BA02", "ALIMENTARY TRACT AND METABOLISM", "O"),
    ("Ondansetron Hydrochloride", "4 mg", "A04AA01", "ALIMENTARY TRACT AND METABOLISM", "IV"),
    ("Dexamethasone", "0.5 mg", "H02AB02", "SYSTEMIC HORMONAL PREPARATIONS", "O"),
)
_FORMS = (
    ("BS066", "Tablet", "Tablet"),
    ("BS077", "Tablet Salut Selaput", "Tablet"),
    ("BS019", "Kapsul", "Kapsul"),
    ("BS069", "Sirup", "Botol"),
    ("BS041", "Serbuk Injeksi", "Vial"),
)
_VACCINES = (
    ("Vaksin BCG", "0.05 mL", "J07AN01"),
    ("Vaksin Campak Rubela", "0.5 mL", "J07BD52"),
    ("Vaksin Hepatitis B", "0.5 mL", "J07BC01"),
    ("Vaksin DTP-HB-Hib", "0.5 mL", "J07CA11"),
    ("Vaksin Polio Oral", "0.1 mL", "J07BF02"),
)
_FARMASI_MAKERS = (
    ("KIMIA FARMA TBK", "KIMIA FARMA"),
    ("KALBE FARMA TBK", "KALBE"),
    ("SANBE FARMA", "SANBE"),
    ("DEXA MEDICA", "DEXA"),
    ("PHAPROS TBK", "PHAPROS"),
    ("INDOFARMA TBK", "INDOFARMA"),
    ("BIO FARMA", "BIO FARMA"),
)
_DEVICES = (
    ("IV Catheter With Vialon Material", "Units"),
    ("Disposable Syringe 3 mL", "Pcs"),
    ("Surgical Gown Non Steril", "Pcs"),
    ("Sarung Tangan Pemeriksaan Lateks", "Box"),
    ("Kateter Urin Foley 2 Way", "Pcs"),
    ("Masker Bedah 3 Ply", "Box"),
    ("Kasa Steril 16 x 16 cm", "Pack"),
    ("Hematology Analyzer 3 Diff", "Units"),
)
_DEVICE_MAKERS = ("BECTON DICKINSON", "TERUMO", "ONEMED", "B. BRAUN", "SENSI", "MINDRAY")
_CONTROL = (("3", "Obat Keras"), ("2", "Obat Bebas Terbatas"), ("1", "Obat Bebas"))
_ROUTES = {"O": "Oral", "IV": "Intravena", "IM": "Intramuskular"}


def mix(seed: int, number: int) -> int:
    """A 64-bit hash of ``(seed, number)`` (splitmix64): the product's dice."""
    z = (seed * 0x9E3779B97F4A7C15 + number * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@dataclass(frozen=True, slots=True)
class Facts:
    """The filterable facts of one product (what the list endpoint's filters read)."""

    number: int
    group: str  # farmasi | alkes
    kind: str  # medicine | vaccine | device
    kfa_code: str
    template: int
    packaging: int
    updated_at: str  # "YYYY-MM-DD HH:MM:SS"
    name: str
    template_name: str
    maker: str | None


def _updated(seed: int, number: int) -> str:
    seconds = mix(seed + 7, number) % (1000 * 86400)
    return (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def template_name(seed: int, template: int) -> str:
    """The name of farmasi template ``template`` (a medicine's or a vaccine's)."""
    if template % 10 == 7:
        vaccine, strength, _ = _VACCINES[mix(seed, template) % len(_VACCINES)]
        return f"{vaccine} {strength} Suspensi Injeksi"
    ingredient, strength, *_ = _INGREDIENTS[mix(seed, template) % len(_INGREDIENTS)]
    return f"{ingredient} {strength} {_FORMS[mix(seed + 1, template) % len(_FORMS)][1]}"


def facts(seed: int, number: int, group: str, updated_at: str | None = None) -> Facts:
    """The facts of product ``number`` (a ``group`` product)."""
    when = updated_at or _updated(seed, number)
    if group == "farmasi":
        template = number // 4  # four variants (makers) per template
        kind = "vaccine" if template % 10 == 7 else "medicine"
        maker, short = _FARMASI_MAKERS[mix(seed + 2, number) % len(_FARMASI_MAKERS)]
        label = template_name(seed, template)
        code = str(93_000_000 + number)
        return Facts(
            number, group, kind, code, 92_000_000 + template, 94_000_000 + number, when,
            f"{label} ({short})", label, maker,
        )  # fmt: skip
    template = number // 10
    label = _DEVICES[mix(seed, template) % len(_DEVICES)][0]
    catalogue_no = f"{number * 7919 % 1_000_000:06d}"  # unique per product below 10**6
    device_maker: str | None = _DEVICE_MAKERS[mix(seed + 3, number) % len(_DEVICE_MAKERS)]
    name = f"{label} ({device_maker} REF {catalogue_no})"
    if number % 10 == 2:  # a "/" device with no NIE and no maker (as documented)
        device_maker, name = None, f"{label} (REF {catalogue_no})"
    code = "/" if number % 10 in (1, 2) else str(33_000_000 + number)  # no variant code: "/"
    return Facts(
        number, group, "device", code, 82_000_000 + template, 84_000_000 + number, when,
        name, label, device_maker,
    )  # fmt: skip


def _nie(f: Facts, h: int) -> str | None:
    if f.group == "farmasi":
        prefix = "DKI" if f.kind == "vaccine" or h % 5 == 0 else "GKL"
        return f"{prefix}{2_012_000_000 + f.number:010d}A1"
    if f.maker is None:
        return None
    return f"AK{'L' if h % 3 else 'D'} {20_000_000_000 + f.number:011d}"


def lkpp_code(f: Facts) -> str | None:
    """The product's LKPP e-catalogue code (two products in three have one)."""
    return str(45_000_000 + f.number) if f.number % 3 != 2 else None


_TYPES = {
    "medicine": {"code": "medicine", "name": "Obat", "group": "farmasi"},
    "vaccine": {"code": "vaccine", "name": "Vaksin", "group": "farmasi"},
    "device": {"code": "device", "name": "Alat Kesehatan", "group": "alkes"},
}
_NO_FORM = {"code": False, "name": False}


def _form_and_uom(seed: int, f: Facts) -> tuple[dict[str, Any], str]:
    if f.group == "farmasi":
        code, name, uom = _FORMS[mix(seed + 1, f.template - 92_000_000) % len(_FORMS)]
        return {"code": code, "name": name}, uom
    return dict(_NO_FORM), _DEVICES[mix(seed, f.template - 82_000_000) % len(_DEVICES)][1]


def list_record(seed: int, f: Facts) -> dict[str, Any]:
    """Product ``f`` as ``/kfa-v2/products/all`` lists it."""
    h = mix(seed + 5, f.number)
    farmasi = f.group == "farmasi"
    price = float(500 + (h >> 8) % 400 * 100) if farmasi else float(8000 + (h >> 8) % 90 * 1000)
    form, uom = _form_and_uom(seed, f)
    kode_lkpp = lkpp_code(f)
    label = f.template_name
    return {
        "name": f.name, "kfa_code": f.kfa_code, "active": h % 50 != 0,
        "state": "valid", "image": None, "updated_at": f.updated_at,
        "farmalkes_type": dict(_TYPES[f.kind]),
        "produksi_buatan": "import" if h % 4 == 0 else "lokal", "nie": _nie(f, h),
        "nama_dagang": label.split(" ")[0].upper() if farmasi else label,
        "manufacturer": f.maker,
        "registrar": None if f.maker is None else f"PT {f.maker}",
        "generik": (h % 2 == 0) if farmasi else None,
        "rxterm": label.split(" ")[0].lower() if farmasi else None,
        "dose_per_unit": 1, "fix_price": price,
        "het_price": round(price * 1.8, 1) if farmasi else None,
        "farmalkes_hscode": None, "tayang_lkpp": kode_lkpp is not None, "kode_lkpp": kode_lkpp,
        "net_weight": None, "net_weight_uom_name": "g", "volume": None, "volume_uom_name": "mL",
        "uom": {"name": uom}, "dosage_form": form,
        "product_template": {
            "kfa_code": str(f.template), "name": label, "state": "valid",
            "active": True, "display_name": label,
            "updated_at": _updated(seed + 13, f.template),
        },
        "active_ingredients": _ingredients(seed, f) if farmasi else [],
        "replacement": {"product": None, "template": None},
        "tags": [],
    }  # fmt: skip


def _ingredients(seed: int, f: Facts) -> list[dict[str, Any]]:
    template = f.template - 92_000_000
    if f.kind == "vaccine":
        vaccine, strength, _ = _VACCINES[mix(seed, template) % len(_VACCINES)]
        name = vaccine.replace("Vaksin ", "")
    else:
        name, strength, *_ = _INGREDIENTS[mix(seed, template) % len(_INGREDIENTS)]
    return [
        {"kfa_code": str(91_000_000 + mix(seed, template) % 16), "active": True, "state": "valid",
         "zat_aktif": name, "kekuatan_zat_aktif": strength, "updated_at": "2022-11-17 10:56:16"}
    ]  # fmt: skip


def _atc(seed: int, f: Facts) -> dict[str, Any]:
    template = f.template - 92_000_000
    if f.kind == "vaccine":
        code, top, route = (
            _VACCINES[mix(seed, template) % len(_VACCINES)][2],
            "ANTIINFECTIVES",
            "IM",
        )
    else:
        _, _, code, top, route = _INGREDIENTS[mix(seed, template) % len(_INGREDIENTS)]
    cuts = (1, 3, 4, 5, 7)
    levels: dict[str, Any] = {}
    for level, cut in enumerate(cuts, start=1):
        parent: str | bool = code[: cuts[level - 2]] if level > 1 else False
        name = top if level == 1 else f"ATC {code[:cut]}"
        levels[f"atc_l{level}"] = {"name": name, "code": code[:cut], "level": str(level),
                                   "parent_code": parent, "comment": None}  # fmt: skip
    levels["rute_pemberian"] = {"code": route, "name": _ROUTES.get(route, route)}
    return levels


_KFA_SOURCE = "Kamus Farmalkes (KFA \u2013 IHS)"  # the API's own en dash
_UCUM = {True: {"cs_code": "mg", "name": "milligram"}, False: {"cs_code": "[IU]", "name": "unit"}}


def detail_record(seed: int, f: Facts) -> dict[str, Any]:
    """Product ``f`` as ``/kfa-v2/products`` answers it (the list's fields and more)."""
    record = list_record(seed, f)
    farmasi = f.group == "farmasi"
    identifiers = []
    if record["nie"] is not None:
        source = "NIE BPOM" if farmasi else "NIE REGALKES"
        identifiers.append({"name": record["nama_dagang"], "code": record["nie"],
                            "source_name": source, "url": None})  # fmt: skip
    if f.kfa_code != "/":
        identifiers.append({"name": record["product_template"]["name"], "code": f.kfa_code,
                            "source_name": _KFA_SOURCE, "url": None})  # fmt: skip
    qty = 10.0 * (1 + mix(seed + 9, f.number) % 10)
    record.update(
        ucum=dict(_UCUM[farmasi]),
        controlled_drug=(
            dict(zip(("code", "name"), _CONTROL[f.number % 3], strict=True)) if farmasi else None
        ),
        identifier_ids=identifiers,
        packaging_ids=[{"name": f"Dus isi {int(qty)}", "kfa_code": str(f.packaging),
                        "pack_price": 0.0, "uom_id": record["uom"]["name"], "qty": qty}],
        description="<p>" + f.name + "</p>", indication=None, warning=None, side_effect=None,
        dosage_usage=[], cvx_info={},
        med_dev_kelas_risiko=None if farmasi else "AB"[f.number % 2],
        score_tkdn=None, score_bmp=None, score_tkdn_bmp=None,
    )  # fmt: skip
    if farmasi:
        record.update(_atc(seed, f))
        record["atc_ddd"] = {"name": None}
    return record
