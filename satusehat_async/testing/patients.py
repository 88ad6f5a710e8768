"""Deprecated path: the sandbox's patient store has moved.

Its new home is :mod:`satusehat_async.sandbox.patients`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.fhir import (
    IHS,
    NIK,
    NIK_IBU,
    SearchLag,
    check_lag,
)
from satusehat_async.sandbox.patient_rules import (
    PROFILE,
)
from satusehat_async.sandbox.patients import (
    CreateAnswer,
    PatientStore,
)

__all__ = [
    "IHS",
    "NIK",
    "NIK_IBU",
    "PROFILE",
    "CreateAnswer",
    "PatientStore",
    "SearchLag",
    "check_lag",
]

warnings.warn(
    "satusehat_async.testing.patients has moved to satusehat_async.sandbox.patients",
    DeprecationWarning,
    stacklevel=2,
)
