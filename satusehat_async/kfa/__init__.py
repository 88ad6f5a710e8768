"""The KFA (Kamus Farmasi dan Alat Kesehatan): products, the catalogue, JKN prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["KFA"]


class KFA:
    """Placeholder (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
