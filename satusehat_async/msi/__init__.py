"""Master Sarana Index (MSI): the national health-facility registry.

``client.msi`` is an :class:`MSI`; see :meth:`MSI.facilities` and :meth:`MSI.pages`.
:class:`CrawlStats` says what offset paging can and cannot promise. Exports to files
(the ``msi crawl`` command) refuse an output they cannot resume safely with
:class:`ResumeRefused`, and a checkpoint that does not match its file with
:class:`CheckpointError` (both :class:`~satusehat_async.errors.ValidationError`).
"""

from __future__ import annotations

from satusehat_async.msi.api import MSI
from satusehat_async.msi.checkpoint import CheckpointError, ResumeRefused
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
    "Facility",
    "FacilityPage",
    "FacilityPages",
    "FacilityQuery",
    "FacilityStream",
    "FacilityType",
    "JenisSarana",
    "KelasSarana",
    "ResumeRefused",
    "SaranaAdministrasi",
    "SubJenis",
    "TotalPageChange",
    "Wilayah",
]
