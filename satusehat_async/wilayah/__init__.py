"""The Kemendagri region codes (master wilayah v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["Wilayah"]


class Wilayah:
    """The Kemendagri region codes (master wilayah v2) (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
