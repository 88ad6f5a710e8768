"""Master Sarana Index (MSI): the national health-facility registry.

``client.msi`` is an :class:`MSI`; see :meth:`MSI.facilities` and :meth:`MSI.pages`.
"""

from __future__ import annotations

from satusehat_async.msi.models import (
    Facility,
    FacilityPage,
    JenisSarana,
    KelasSarana,
    SaranaAdministrasi,
    SubJenis,
    Wilayah,
)
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery, FacilityType

__all__ = [
    "MAX_PAGE_SIZE",
    "Facility",
    "FacilityPage",
    "FacilityQuery",
    "FacilityType",
    "JenisSarana",
    "KelasSarana",
    "SaranaAdministrasi",
    "SubJenis",
    "Wilayah",
]
