"""The KFA's arguments, checked before anything is sent.

Every check raises :class:`~satusehat_async.errors.ValidationError` (nothing is sent):
identifiers and codes must have their documented form, dates are ``YYYY-MM-DD`` (or a
``datetime.date``), sizes and counts are positive integers in range.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Literal, TypedDict

from satusehat_async.errors import ValidationError

__all__ = [
    "IDENTIFIERS",
    "MAX_PAGE_SIZE",
    "PRODUCT_TYPES",
    "REGION_CODES",
    "DateArg",
    "Identifier",
    "ProductFilters",
    "ProductQuery",
    "ProductType",
    "validate_code",
    "validate_kfa_code",
    "validate_page_size",
    "validate_region",
]

DateArg = str | dt.date
Identifier = Literal["kfa", "nie", "lkpp"]
ProductType = Literal["farmasi", "alkes"]
IDENTIFIERS: tuple[str, ...] = ("kfa", "nie", "lkpp")


class ProductFilters(TypedDict, total=False):
    """The catalogue's filter arguments (all optional), by the API's parameter names:
    :meth:`KFA.pages <satusehat_async.kfa.KFA.pages>`, ``products`` and ``export`` take
    them as ``**filters``, and :meth:`ProductQuery.build` checks them."""

    product_type: ProductType | None
    farmalkes_type: str | None
    keyword: str | None
    template_code: str | None
    packaging_code: str | None
    from_date: DateArg | None
    to_date: DateArg | None


#: The product types, in the order a crawl of every type follows.
PRODUCT_TYPES: tuple[str, ...] = ("farmasi", "alkes")
REGION_CODES: tuple[str, ...] = tuple(f"regional{n}" for n in range(1, 7))
#: The largest page asked for (peers cap ``size`` at 1000; the server documents none).
MAX_PAGE_SIZE = 1000

# KFA codes are 8 digits in every document (91… ingredients, 92…/82… templates, 93…
# variants, 94…/84… packagings, 3… devices); a little room is left for longer ones.
_KFA = re.compile(r"[0-9]{8,12}")
_NIE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{2,39}")  # GKL2012431917A1, AKD 21603020231
_LKPP = re.compile(r"[0-9]{1,16}")
_WORD = re.compile(r"[a-z][a-z_]{0,39}")  # farmalkes_type: medicine, vaccine, device...
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_KEYWORD = 200


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    return value


def validate_kfa_code(value: object, name: str = "kfa_code") -> str:
    """A KFA code: 8 (to 12) ASCII digits (``"/"`` is not a code one can look up)."""
    code = _text(name, value)
    if not _KFA.fullmatch(code):
        raise ValidationError(f"{name} must be a KFA code of 8 digits, got {code!r}")
    return code


def validate_code(identifier: object, code: object) -> tuple[str, str]:
    """``(identifier, code)`` for ``/kfa-v2/products``: the code in that system's form."""
    if identifier not in IDENTIFIERS:
        raise ValidationError(f"identifier must be one of {IDENTIFIERS}, got {identifier!r}")
    assert isinstance(identifier, str)
    if identifier == "kfa":
        return identifier, validate_kfa_code(code, "code")
    text = _text("code", code)
    pattern, what = (_NIE, "a BPOM NIE") if identifier == "nie" else (_LKPP, "an LKPP code")
    if not pattern.fullmatch(text):
        raise ValidationError(f"code must be {what} (identifier={identifier!r}), got {text!r}")
    return identifier, text


def validate_page_size(value: object, name: str = "page_size") -> int:
    """A page size in 1..:data:`MAX_PAGE_SIZE`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(f"{name} must be an integer from 1 to {MAX_PAGE_SIZE}, got {value!r}")
    return value


def validate_region(value: object) -> str | None:
    """A JKN price region (``regional1``..``regional6``) or None."""
    if value is None or value in REGION_CODES:
        return value
    raise ValidationError(f"region_code must be one of regional1..regional6, got {value!r}")


def _date(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD), not a datetime")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _text(name, value)
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ValidationError(f"{name} must be a date YYYY-MM-DD, got {text!r}")


def _prefixed(name: str, value: object, prefixes: tuple[str, str]) -> str | None:
    if value is None:
        return None
    code = validate_kfa_code(value, name)
    if not code.startswith(prefixes):
        raise ValidationError(f"{name} must start with {' or '.join(prefixes)}, got {code!r}")
    return code


def _keyword(value: object) -> str | None:
    if value is None:
        return None
    text = _text("keyword", value).strip()
    if not text or len(text) > _MAX_KEYWORD or not text.isprintable():
        raise ValidationError(
            f"keyword must be printable text of 1 to {_MAX_KEYWORD} characters, got {value!r}"
        )
    return text


def _types(value: object) -> tuple[str, ...]:
    if value is None:
        return PRODUCT_TYPES
    if value not in PRODUCT_TYPES:
        raise ValidationError(f"product_type must be 'farmasi', 'alkes' or None, got {value!r}")
    return (str(value),)


@dataclasses.dataclass(frozen=True, slots=True)
class ProductQuery:
    """The validated filters of a catalogue crawl (``/kfa-v2/products/all``).

    ``product_types`` are crawled one after the other (both, in :data:`PRODUCT_TYPES`
    order, when ``product_type`` is None).
    """

    product_types: tuple[str, ...] = PRODUCT_TYPES
    farmalkes_type: str | None = None
    keyword: str | None = None
    template_code: str | None = None
    packaging_code: str | None = None
    from_date: str | None = None
    to_date: str | None = None

    @classmethod
    def build(
        cls,
        *,
        product_type: object = None,
        farmalkes_type: object = None,
        keyword: object = None,
        template_code: object = None,
        packaging_code: object = None,
        from_date: object = None,
        to_date: object = None,
    ) -> ProductQuery:
        """The query of these filters, each checked (ValidationError on the first bad one)."""
        types = _types(product_type)
        kind = None
        if farmalkes_type is not None:
            kind = _text("farmalkes_type", farmalkes_type)
            if not _WORD.fullmatch(kind):
                raise ValidationError(
                    f"farmalkes_type must be a type code like 'medicine', got {kind!r}"
                )
        start, end = _date("from_date", from_date), _date("to_date", to_date)
        if start is not None and end is not None and start > end:
            raise ValidationError(f"from_date {start} is after to_date {end}")
        return cls(
            product_types=types,
            farmalkes_type=kind,
            keyword=_keyword(keyword),
            template_code=_prefixed("template_code", template_code, ("92", "82")),
            packaging_code=_prefixed("packaging_code", packaging_code, ("94", "84")),
            from_date=start,
            to_date=end,
        )

    def params(self, product_type: str, *, page: int, size: int) -> Mapping[str, str | int]:
        """The query parameters of page ``page`` of ``product_type``."""
        params: dict[str, str | int] = {"page": page, "size": size, "product_type": product_type}
        for name in ("farmalkes_type", "keyword", "template_code", "packaging_code"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.from_date is not None:
            params["from_date"] = self.from_date
        if self.to_date is not None:
            params["to_date"] = self.to_date
        return params
