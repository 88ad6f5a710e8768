"""Master Sarana Index (MSI): the national health-facility registry.

``client.msi`` is an :class:`MSI`; see :meth:`MSI.facilities` and :meth:`MSI.pages`
(their filters: :class:`FacilityFilters`, validated into a :class:`FacilityQuery`).
:class:`CrawlStats` says what offset paging can and cannot promise. :meth:`MSI.export`
writes a crawl to an NDJSON or CSV file with checkpoints (resumable; the ``msi crawl``
command is a thin layer over it) and returns an :class:`ExportResult`; it refuses an
output it cannot resume safely with :class:`ResumeRefused`, and a checkpoint that does
not match its file with :class:`CheckpointError` (both
:class:`~satusehat_async.errors.ValidationError`).
"""

from __future__ import annotations

from typing import Any

from satusehat_async.export.job import ExportResult
from satusehat_async.msi.api import MSI
from satusehat_async.msi.checkpoint import CheckpointError, ResumeRefused
from satusehat_async.msi.filters import FacilityFilters
from satusehat_async.msi.models import (
    Facility,
    FacilityPage,
    JenisSarana,
    KelasSarana,
    SaranaAdministrasi,
    SubJenis,
    Wilayah,
)
from satusehat_async.msi.pager import CrawlStats, FacilityPages, FacilityStream, TotalPageChange
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery, FacilityType

__all__ = [
    "MAX_PAGE_SIZE",
    "MSI",
    "CheckpointError",
    "CrawlStats",
    "ExportResult",
    "Facility",
    "FacilityFilters",
    "FacilityPage",
    "FacilityPages",
    "FacilityQuery",
    "FacilityStream",
    "FacilityType",
    "JenisSarana",
    "KelasSarana",
    "MirrorError",
    "MirrorFilterMismatch",
    "PassReport",
    "ResumeRefused",
    "SaranaAdministrasi",
    "SubJenis",
    "SyncReport",
    "TotalPageChange",
    "Wilayah",
]

# The local mirror (sqlite3) is loaded when first named, not with every crawl.
_MIRROR = {
    "MirrorError": "satusehat_async.msi.mirror_store",
    "MirrorFilterMismatch": "satusehat_async.msi.mirror",
    "PassReport": "satusehat_async.msi.mirror_report",
    "SyncReport": "satusehat_async.msi.mirror_report",
}


def __getattr__(name: str) -> Any:
    """The mirror's names (``SyncReport``...), imported on first use."""
    home = _MIRROR.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
