"""Master Sarana Index (MSI): the national health-facility registry.

``client.msi`` is an :class:`MSI`; see :meth:`MSI.facilities` and :meth:`MSI.pages`.
"""

from __future__ import annotations

from satusehat_async.msi.api import MSI
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
    "CrawlStats",
    "Facility",
    "FacilityPage",
    "FacilityPages",
    "FacilityQuery",
    "FacilityStream",
    "FacilityType",
    "JenisSarana",
    "KelasSarana",
    "SaranaAdministrasi",
    "SubJenis",
    "TotalPageChange",
    "Wilayah",
]
