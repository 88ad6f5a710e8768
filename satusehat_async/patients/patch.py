"""JSON Patch for ``PATCH /Patient/{id}`` — generic, in :mod:`satusehat_async.resource.patch`.

Kept so earlier imports work (``from satusehat_async.patients.patch import replace``):
every public name of the generic module, the same objects.
"""

from __future__ import annotations

from satusehat_async.resource.patch import *  # noqa: F403
from satusehat_async.resource.patch import SUPPORTED_OPS as SUPPORTED_OPS
from satusehat_async.resource.patch import __all__ as __all__
