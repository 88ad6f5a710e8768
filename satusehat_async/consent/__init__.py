"""A patient's consent (OPTIN / OPTOUT) at SATUSEHAT's consent endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["ConsentAPI"]


class ConsentAPI:
    """Placeholder (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
