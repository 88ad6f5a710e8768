"""Practitioners (health workers) looked up by NIK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from satusehat_async.context import context_of

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext

__all__ = ["Practitioners"]


class Practitioners:
    """Practitioners (health workers) looked up by NIK (being built)."""

    def __init__(self, context: ResourceContext) -> None:
        self._context = context_of(context)
