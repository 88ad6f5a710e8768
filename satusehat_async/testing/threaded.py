"""Deprecated path: the threaded sandbox has moved.

Its new home is :mod:`satusehat_async.sandbox.threaded`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.threaded import (
    ThreadedSandbox,
)

__all__ = [
    "ThreadedSandbox",
]

warnings.warn(
    "satusehat_async.testing.threaded has moved to satusehat_async.sandbox.threaded",
    DeprecationWarning,
    stacklevel=2,
)
