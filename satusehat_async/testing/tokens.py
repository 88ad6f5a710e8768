"""Deprecated path: the sandbox's token endpoint has moved.

Its new home is :mod:`satusehat_async.sandbox.tokens`.

This module re-exports the names for one release (with a DeprecationWarning);
import them from the new home, or the sandbox's names from :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

import warnings

from satusehat_async.sandbox.tokens import (
    OMIT,
    TokenIssuer,
    application_name,
)

__all__ = [
    "OMIT",
    "TokenIssuer",
    "application_name",
]

warnings.warn(
    "satusehat_async.testing.tokens has moved to satusehat_async.sandbox.tokens",
    DeprecationWarning,
    stacklevel=2,
)
