"""Deprecated path: the sandbox's faults has moved.

Its new home is :mod:`satusehat_async.sandbox.faults`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.faults import (
    AFTER_COMMIT,
    FAULT_KINDS,
    RANDOM_FAULT_KINDS,
    TOKEN_PATH,
    TRANSIENT_FAULT_KINDS,
    FaultKind,
    FaultPlan,
    FaultRule,
    auth_fault,
    fault_response,
)

__all__ = [
    "AFTER_COMMIT",
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "TOKEN_PATH",
    "TRANSIENT_FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "auth_fault",
    "fault_response",
]

warnings.warn(
    "satusehat_async.testing.faults has moved to satusehat_async.sandbox.faults",
    DeprecationWarning,
    stacklevel=2,
)
