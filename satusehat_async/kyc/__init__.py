"""Identity verification in SATUSEHAT Mobile (production only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["KYC"]


class KYC:
    """Identity verification in SATUSEHAT Mobile (production only) (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
