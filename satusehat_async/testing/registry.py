"""Deprecated path: the sandbox's facility registry has moved.

Its new home is :mod:`satusehat_async.sandbox.registry`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.msi import (
    SOURCES,
)
from satusehat_async.sandbox.registry import (
    FacilityMeta,
    Registry,
)

__all__ = [
    "SOURCES",
    "FacilityMeta",
    "Registry",
]

warnings.warn(
    "satusehat_async.testing.registry has moved to satusehat_async.sandbox.registry",
    DeprecationWarning,
    stacklevel=2,
)
