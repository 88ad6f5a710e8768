"""Deprecated path: the sandbox's FHIR helpers has moved.

Its new home is :mod:`satusehat_async.sandbox.fhir`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.fhir import (
    IHS,
    MASKED_NIK,
    NIK,
    NIK_IBU,
    Answer,
    PatchError,
    SearchLag,
    apply_replace,
    check_lag,
    copy_json,
    display_name,
    mask_line,
    mask_name,
    mask_nik,
    name_matches,
    outcome,
    search_view,
)

__all__ = [
    "IHS",
    "MASKED_NIK",
    "NIK",
    "NIK_IBU",
    "Answer",
    "PatchError",
    "SearchLag",
    "apply_replace",
    "check_lag",
    "copy_json",
    "display_name",
    "mask_line",
    "mask_name",
    "mask_nik",
    "name_matches",
    "outcome",
    "search_view",
]

warnings.warn(
    "satusehat_async.testing.fhir has moved to satusehat_async.sandbox.fhir",
    DeprecationWarning,
    stacklevel=2,
)
