"""A validated MSI query, built from the API's own parameter names.

Everything is checked before any request is sent: a bad code length, an unknown status,
half of the ``sumber_identifier`` + ``identifier_kode_sarana`` pair or a page size over the
API's 2000 raises :class:`~satusehat_async.errors.ValidationError` (also a ``ValueError``).
The filters themselves are declared in :mod:`satusehat_async.msi.filters`: each field of
:class:`FacilityQuery` carries its :class:`~satusehat_async.msi.filters.FilterSpec`, and
:data:`FILTERS` (derived from the fields) drives validation, the query string, the
command line and the FastAPI example.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.msi.filters import (
    ALL_NAMED_TYPES,
    SOURCE_SYSTEMS,
    STATUS_SARANA,
    TYPE_NAMES,
    DateLike,
    FacilityFilters,
    FacilityType,
    FilterSpec,
    JenisSaranaArg,
    boolean,
    cli_bool,
    cli_jenis,
    date,
    digits,
    filter_field,
    jenis,
    status,
    text,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ALL_NAMED_TYPES",
    "FILTERS",
    "MAX_PAGE_SIZE",
    "SOURCE_SYSTEMS",
    "STATUS_SARANA",
    "DateLike",
    "FacilityFilters",
    "FacilityQuery",
    "FacilityType",
    "JenisSaranaArg",
    "validate_page_size",
]

#: The most rows the API returns per page (``limit``); more is answered with 400.
MAX_PAGE_SIZE = 2000


def validate_page_size(page_size: object) -> int:
    """Check a page size (the API's ``limit``): an int from 1 to :data:`MAX_PAGE_SIZE`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValidationError(f"page_size must be an integer, got {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


_TYPES = ", ".join(f"{name} ({code})" for name, code in TYPE_NAMES.items())


@dataclasses.dataclass(frozen=True)
class FacilityQuery:
    """The filters of one MSI crawl, validated. Build it with :meth:`build`.

    Without ``jenis_sarana`` the query covers the four named facility types. A new
    filter is one field here (its validated type and its spec) plus its argument type
    in :class:`~satusehat_async.msi.filters.FacilityFilters`.
    """

    jenis_sarana: tuple[int, ...] = filter_field(
        FilterSpec(
            jenis,
            f"facility type, repeatable: a code or a name: {_TYPES} (default: all four)",
            metavar="TYPE",
            repeated=True,
            query_type=int,
            from_cli=cli_jenis,
        ),
        default=ALL_NAMED_TYPES,
    )
    kode_provinsi: str | None = filter_field(
        FilterSpec(digits(2), "2-digit province code", metavar="CODE")
    )
    kode_kabkota: str | None = filter_field(
        FilterSpec(digits(4), "4-digit regency/city code", metavar="CODE")
    )
    kode_kecamatan: str | None = filter_field(
        FilterSpec(digits(6), "6-digit district code", metavar="CODE")
    )
    kode_satusehat: str | None = filter_field(
        FilterSpec(digits(10), "10-digit SATUSEHAT code", metavar="CODE")
    )
    kode_sarana: str | None = filter_field(
        FilterSpec(text, "facility code in its source system", metavar="CODE")
    )
    nama: str | None = filter_field(FilterSpec(text, "name contains", metavar="TEXT"))
    status_aktif: bool | None = filter_field(
        FilterSpec(boolean, "true or false", metavar="BOOL", query_type=bool, from_cli=cli_bool)
    )
    status_sarana: str | None = filter_field(
        FilterSpec(status, "draft, verified, valid, ...", metavar="STATUS")
    )
    sumber_identifier: str | None = filter_field(
        FilterSpec(text, "source system of the code", metavar="SOURCE")
    )
    identifier_kode_sarana: str | None = filter_field(
        FilterSpec(text, "code in that source", metavar="CODE")
    )
    lower_bound_updated_at: str | None = filter_field(
        FilterSpec(date, "updated on or after (YYYY-MM-DD)", metavar="DATE", flag="--updated-from")
    )
    upper_bound_updated_at: str | None = filter_field(
        FilterSpec(date, "updated on or before (YYYY-MM-DD)", metavar="DATE", flag="--updated-to")
    )

    @classmethod
    def build(cls, **filters: Unpack[FacilityFilters]) -> FacilityQuery:
        """Validate the filters (official parameter names) into a query.

        Raises:
            ValidationError: for any value the API would refuse or misread.
            TypeError: a name that is not a filter (as for any unknown keyword).
        """
        unknown = sorted(set(filters) - _NAMES)
        if unknown:
            raise TypeError(f"FacilityQuery.build() got an unexpected filter {unknown[0]!r}")
        arguments: Mapping[str, object] = filters
        values = {
            spec.name: spec.normalise(spec.name, arguments.get(spec.name)) for spec in FILTERS
        }
        for check in _CHECKS:
            check(values)
        return cls(**values)

    def params(self, *, page: int, page_size: int) -> dict[str, str | int | list[int]]:
        """The query string of one page request (``jenis_sarana`` repeats its key)."""
        params: dict[str, str | int | list[int]] = {"limit": page_size, "page": page}
        for spec in FILTERS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, tuple):
                value = list(value)
            params[spec.name] = value
        return params

    def fingerprint(self) -> str:
        """A stable digest of the filters (for checkpoints: resume only the same query)."""
        encoded = msgspec.json.encode(dataclasses.asdict(self), order="sorted")
        return hashlib.sha256(encoded).hexdigest()[:16]


# -- rules across filters (run after each filter is valid on its own) ----------------------


def _regions(values: dict[str, Any]) -> None:
    """The region codes nest: a regency in its province, a district in both."""
    provinsi, kabkota = values["kode_provinsi"], values["kode_kabkota"]
    kecamatan = values["kode_kecamatan"]
    if provinsi and kabkota and not kabkota.startswith(provinsi):
        raise ValidationError(f"kode_kabkota {kabkota} is not in kode_provinsi {provinsi}")
    if kabkota and kecamatan and not kecamatan.startswith(kabkota):
        raise ValidationError(f"kode_kecamatan {kecamatan} is not in kode_kabkota {kabkota}")
    if provinsi and kecamatan and not kecamatan.startswith(provinsi):
        raise ValidationError(f"kode_kecamatan {kecamatan} is not in kode_provinsi {provinsi}")


def _source(values: dict[str, Any]) -> None:
    """``sumber_identifier`` and ``identifier_kode_sarana``: both or neither."""
    source = values["sumber_identifier"]
    if (source is None) != (values["identifier_kode_sarana"] is None):
        raise ValidationError("sumber_identifier and identifier_kode_sarana must be given together")
    if source is not None and source not in SOURCE_SYSTEMS:
        raise ValidationError(
            f"sumber_identifier must be one of {', '.join(sorted(SOURCE_SYSTEMS))}, got {source!r}"
        )


def _date_range(values: dict[str, Any]) -> None:
    """The ``updated_at`` bounds in order."""
    lower, upper = values["lower_bound_updated_at"], values["upper_bound_updated_at"]
    if lower and upper and lower > upper:
        raise ValidationError(
            f"lower_bound_updated_at {lower} is after upper_bound_updated_at {upper}"
        )


_CHECKS: tuple[Callable[[dict[str, Any]], None], ...] = (_regions, _source, _date_range)


def _specs() -> tuple[FilterSpec, ...]:
    """The filter specs in field order, each named after its field; checks that
    :class:`FacilityFilters` declares the same filters in the same order."""
    specs = tuple(
        dataclasses.replace(field.metadata["filter"], name=field.name)
        for field in dataclasses.fields(FacilityQuery)
    )
    names = [spec.name for spec in specs]
    if names != list(FacilityFilters.__annotations__):
        raise TypeError(
            "FacilityFilters and FacilityQuery declare different filters: "
            f"{list(FacilityFilters.__annotations__)} != {names}"
        )
    return specs


#: Every filter's spec, in the order of FacilityQuery's fields.
FILTERS: tuple[FilterSpec, ...] = _specs()
_NAMES = frozenset(spec.name for spec in FILTERS)
