"""Deprecated path: the sandbox's MSI query has moved.

Its new home is :mod:`satusehat_async.sandbox.msi`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.facility_tables import (
    STATUS_SARANA,
)
from satusehat_async.sandbox.msi import (
    MAX_LIMIT,
    SOURCES,
    MsiFilter,
    MsiQuery,
    MsiQueryError,
    parse_msi_query,
    source_code,
)

__all__ = [
    "MAX_LIMIT",
    "SOURCES",
    "STATUS_SARANA",
    "MsiFilter",
    "MsiQuery",
    "MsiQueryError",
    "parse_msi_query",
    "source_code",
]

warnings.warn(
    "satusehat_async.testing.msi has moved to satusehat_async.sandbox.msi",
    DeprecationWarning,
    stacklevel=2,
)
