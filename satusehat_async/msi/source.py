"""The MSI as a :class:`~satusehat_async.paging.PageSource`: the paging engine's policy.

How to ask for page ``n`` of a :class:`FacilityQuery`, decode the answer (one cached
msgspec decoder per row model, record repair on the slow path), read ``total_page`` and
the rows, and key each facility by its ``kode_satusehat`` for the per-crawl
deduplication. The rows are :class:`~satusehat_async.msi.Facility` or a caller's
projection of it (``model=``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Generic, cast

from satusehat_async.msi.decode import PageDecoder, page_decoder
from satusehat_async.msi.models import FacilityPage, FacilityT
from satusehat_async.msi.query import FacilityQuery
from satusehat_async.paging.source import PageRequest

if TYPE_CHECKING:
    from satusehat_async.http.response import Response

__all__ = ["FacilityPageSource", "facility_keys"]

logger = logging.getLogger("satusehat_async.msi")

# Longer all-digit codes keep their text: int() refuses over 4,300 digits, and no real code
# comes near (they have 10).
_INT_KEY_DIGITS = 18


def facility_keys(codes: list[str | None]) -> list[int | str | None]:
    """The dedupe keys of ``kode_satusehat`` codes: ints for the usual all-digit codes.

    New ints rather than the pages' own strings: keeping 500,000 of those alive would pin
    the memory of every page they came from (fragmenting the allocator and measurably
    slowing every later decode), and an int is smaller. A code with a leading zero, a
    sign or anything but ASCII digits keeps its text, so distinct codes never collide.
    """
    if codes and None not in codes:
        # The usual page, checked in bulk (C loops): all ASCII digits, and every int as long
        # as the first code while the total length allows no more: so every code has that
        # length and no leading zero.
        # (bytes.isdigit is a plain C loop; str.isdigit consults Unicode tables per char.)
        texts = cast("list[str]", codes)
        joined = "".join(texts)
        width = len(texts[0])
        if (
            0 < width <= _INT_KEY_DIGITS
            and len(joined) == width * len(texts)
            and joined.isascii()
            and joined.encode().isdigit()
        ):
            try:
                numbers = list(map(int, texts))
            except ValueError:  # an empty code, its length made up by a longer one
                return _keys_one_by_one(codes)
            if min(numbers) >= 10 ** (width - 1):
                return cast("list[int | str | None]", numbers)
    return _keys_one_by_one(codes)


def _keys_one_by_one(codes: list[str | None]) -> list[int | str | None]:
    return [
        int(c)
        if c is not None
        and 0 < len(c) <= _INT_KEY_DIGITS
        and c.isdigit()
        and c.isascii()
        and c[0] != "0"
        else c
        for c in codes
    ]


class FacilityPageSource(Generic[FacilityT]):
    """The pages of one MSI query at ``url``, ``page_size`` facilities each, as ``model``
    rows (default :class:`Facility`; a projection is checked here, before any request)."""

    __slots__ = ("_decoder", "page_size", "query", "url")

    label = "MSI"
    rows_name = "facilities"
    logger = logger

    def __init__(
        self,
        url: str,
        query: FacilityQuery,
        page_size: int,
        model: type[FacilityT] | None = None,
    ) -> None:
        self.url = url
        self.query = query
        self.page_size = page_size
        self._decoder: PageDecoder[FacilityT] = page_decoder(model)

    @property
    def model(self) -> type[FacilityT]:
        """The row Struct pages decode into."""
        return self._decoder.model

    def request(self, number: int) -> PageRequest:
        """``GET url?limit=...&page=number&jenis_sarana=...`` with the query's filters."""
        return PageRequest(self.url, self.query.params(page=number, page_size=self.page_size))

    def decode(self, response: Response, number: int) -> tuple[FacilityPage[FacilityT], int]:
        """The page (numbered ``number``) and the count of repaired records."""
        page, repaired = self._decoder.decode(response.body, headers=response.headers, url=self.url)
        page.page = number
        return page, repaired

    def total_pages(self, page: FacilityPage[FacilityT]) -> int | None:
        """The page's ``total_page``."""
        return page.total_page

    def rows(self, page: FacilityPage[FacilityT]) -> list[FacilityT]:
        """The page's facilities."""
        return page.data or []

    def keep_rows(self, page: FacilityPage[FacilityT], rows: list[FacilityT]) -> None:
        """Keep only ``rows`` (the new facilities) in the page."""
        page.data = rows

    def keys(self, rows: list[FacilityT]) -> list[Hashable | None]:
        """Each facility's ``kode_satusehat`` as a dedupe key (see :func:`facility_keys`)."""
        return cast("list[Hashable | None]", facility_keys(self._decoder.keys(rows)))
