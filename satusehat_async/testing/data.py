"""Deprecated path: the sandbox's facility generator has moved.

Its new home is :mod:`satusehat_async.sandbox.facilities`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.facilities import (
    FacilityGenerator,
    Row,
)
from satusehat_async.sandbox.facility_tables import (
    JENIS_SARANA,
    STATUS_SARANA,
)

__all__ = [
    "JENIS_SARANA",
    "STATUS_SARANA",
    "FacilityGenerator",
    "Row",
]

warnings.warn(
    "satusehat_async.testing.data has moved to satusehat_async.sandbox.facilities",
    DeprecationWarning,
    stacklevel=2,
)
