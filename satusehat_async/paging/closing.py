"""What every crawl iterator shares: it is its own async iterator, and ``async with``
closes it (``aclose()``: cancel what is in flight and wait until it has unwound)."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closing"]

_Self = TypeVar("_Self", bound="Closing")


class Closing:
    """Mixin: ``__aiter__`` returns the object, ``async with`` awaits :meth:`aclose` on exit."""

    __slots__ = ()

    def __aiter__(self: _Self) -> _Self:
        return self

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the crawl (each class says how)."""
        raise NotImplementedError
