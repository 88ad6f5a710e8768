"""Facilities as NDJSON or CSV (nested fields flattened as ``provinsi.kode`` columns).

The MSI's binding of the generic export engine (:mod:`satusehat_async.export`): the
layout of :class:`Facility` rows (or of a caller's projection, ``model=``), their
identity (``kode_satusehat``) and the crawl the engine reads
(:class:`FacilityExportSource`). :meth:`MSI.export <satusehat_async.msi.MSI.export>`
puts them together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic

import msgspec

from satusehat_async.export import scan
from satusehat_async.export.formats import FORMATS, Encoder, RecordLayout
from satusehat_async.export.job import Position
from satusehat_async.export.scan import DamagedExport, count_records_after
from satusehat_async.msi.models import Facility, FacilityPage, FacilityT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from satusehat_async.msi.pager import FacilityPages
    from satusehat_async.msi.query import FacilityQuery

__all__ = [
    "CSV_COLUMNS",
    "FACILITIES",
    "FORMATS",
    "DamagedExport",
    "Encoder",
    "FacilityExportSource",
    "count_records_after",
    "csv_header",
    "encode_csv",
    "encode_ndjson",
    "encoder_for",
    "export_fingerprint",
    "layout_for",
    "read_keys",
    "scan_export",
]


class _Key(msgspec.Struct, gc=False):
    """A facility's identity as read back from an export."""

    kode_satusehat: str | None = None


def _code(record: Any) -> Hashable | None:
    code: str | None = record.kode_satusehat
    return code


def layout_for(model: type[msgspec.Struct] | None = None) -> RecordLayout:
    """The export layout of ``model`` rows (None: :class:`Facility`), cached."""
    cls = Facility if model is None else model
    layout = _LAYOUTS.get(cls)
    if layout is None:
        if len(_LAYOUTS) >= 64:  # projections made on the fly must not pile up
            _LAYOUTS.clear()
        layout = _LAYOUTS[cls] = RecordLayout(
            cls, _Key, _code, noun="facilities", source="registry"
        )
    return layout


_LAYOUTS: dict[type[msgspec.Struct], RecordLayout] = {}
#: The layout of full :class:`Facility` rows.
FACILITIES = layout_for(Facility)
#: The CSV header: every facility field, nested ones as ``parent.child``.
CSV_COLUMNS: tuple[str, ...] = FACILITIES.columns


def csv_header() -> bytes:
    """The CSV header line of full facilities."""
    return FACILITIES.csv_header()


def encode_csv(facilities: Sequence[Facility]) -> bytes:
    """CSV rows (no header) for the facilities; every cell reads back as written (see
    :meth:`RecordLayout.encode_csv <satusehat_async.export.RecordLayout.encode_csv>`)."""
    return FACILITIES.encode_csv(facilities)


def encode_ndjson(facilities: Sequence[Any]) -> bytes:
    """One JSON object per line (normalised values: codes as text, coordinates as numbers)."""
    return RecordLayout.encode_ndjson(facilities)


def encoder_for(fmt: str) -> tuple[bytes, Encoder]:
    """The header (empty for NDJSON) and the page encoder of full facilities in ``fmt``.

    Raises:
        ValidationError: an unknown format (also a ValueError).
    """
    return FACILITIES.encoder(fmt)


def scan_export(path: Path, fmt: str, size: int) -> list[Hashable | None]:
    """The ``kode_satusehat`` of each record in the first ``size`` bytes of an export."""
    return scan.scan_export(path, fmt, size, FACILITIES)


def read_keys(path: Path, fmt: str) -> Iterator[Hashable]:
    """The ``kode_satusehat`` of every facility in an NDJSON or CSV export file.

    Raises:
        DamagedExport: the file does not read back as whole records.
    """
    return scan.read_keys(path, fmt, FACILITIES)


def export_fingerprint(query: FacilityQuery, model: type[msgspec.Struct] | None) -> str:
    """What a checkpoint must match to be resumed: the query, and the row columns of a
    projection (full facilities keep the query's own fingerprint, as before)."""
    if model is None or model is Facility:
        return query.fingerprint()
    columns = ",".join(layout_for(model).columns)
    return hashlib.sha256(f"{query.fingerprint()}|{columns}".encode()).hexdigest()[:16]


class FacilityExportSource(Generic[FacilityT]):
    """The MSI crawl as the export engine reads it.

    ``pages(start_page, seen)`` opens the crawl (``MSI.pages`` with the export's query,
    page size, concurrency and model).
    """

    def __init__(
        self,
        pages: Callable[[int, list[Hashable]], FacilityPages[FacilityT]],
        model: type[FacilityT] | None,
    ) -> None:
        self._pages = pages
        self.layout = layout_for(model)

    def open(self, start: Position, seen: list[Hashable]) -> FacilityPages[FacilityT]:
        """The crawl from ``start`` (the page; an MSI crawl has one part)."""
        return self._pages(start[1], seen)

    def rows(self, page: FacilityPage[FacilityT]) -> list[FacilityT]:
        """The page's new facilities."""
        return page.facilities

    def after(self, page: FacilityPage[FacilityT], crawl: object) -> Position:
        """A resume continues with the next page."""
        return None, (page.page or 0) + 1
