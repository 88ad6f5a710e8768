"""The organization's structure: sub-organizations, locations, and the tree under them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["Locations", "Organizations"]


class Organizations:
    """Sub-organizations (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)


class Locations:
    """Locations (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
