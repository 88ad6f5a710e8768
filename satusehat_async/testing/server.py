"""Deprecated path: the sandbox server (now :class:`LocalSandbox`) has moved.

Its new home is :mod:`satusehat_async.sandbox.server`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.faults import (
    AFTER_COMMIT,
    RANDOM_FAULT_KINDS,
    TOKEN_PATH,
    TRANSIENT_FAULT_KINDS,
)
from satusehat_async.sandbox.routes import (
    MSI_PATH,
    PATIENT_PATH,
)
from satusehat_async.sandbox.server import (
    LocalSandbox,
    Sandbox,
)
from satusehat_async.sandbox.stats import (
    SandboxStats,
)

__all__ = [
    "AFTER_COMMIT",
    "MSI_PATH",
    "PATIENT_PATH",
    "RANDOM_FAULT_KINDS",
    "TOKEN_PATH",
    "TRANSIENT_FAULT_KINDS",
    "LocalSandbox",
    "Sandbox",
    "SandboxStats",
]

warnings.warn(
    "satusehat_async.testing.server has moved to satusehat_async.sandbox.server",
    DeprecationWarning,
    stacklevel=2,
)
