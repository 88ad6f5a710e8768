"""Deprecated path: the sandbox's map of Indonesia has moved.

Its new home is :mod:`satusehat_async.sandbox.geography`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.geography import (
    Kabkota,
    Kecamatan,
    Province,
    build_map,
    person_name,
    pick,
    place_name,
)

__all__ = [
    "Kabkota",
    "Kecamatan",
    "Province",
    "build_map",
    "person_name",
    "pick",
    "place_name",
]

warnings.warn(
    "satusehat_async.testing.geography has moved to satusehat_async.sandbox.geography",
    DeprecationWarning,
    stacklevel=2,
)
