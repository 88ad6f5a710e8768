"""The link-following FHIR search: :class:`SearchResults`, an async iterator over every match.

Pages are followed by their ``link[next]``, and only on our own configured FHIR base: a
link on another host (Google's store names ``healthcare.googleapis.com``; a gateway its
own public host) is rewritten onto our base with the link's query, so the bearer token
never goes to a host an answer names. An answer without ``next`` is the last page.

SATUSEHAT's store answers at most 100 entries with the true ``total`` and **no** ``next``
link (an Encounter search: ``total: 722``, 100 entries). A result that ends short of its
``total`` never passes for complete: :attr:`SearchResults.stats` says ``incomplete``, a
WARNING is logged, and with ``strict=True`` :class:`IncompleteSearchError` is raised
before the last page's matches are handed out.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlsplit

from satusehat_async.errors import SatuSehatError
from satusehat_async.paging.closing import Closing
from satusehat_async.resource.answers import decode_searchset
from satusehat_async.resource.errors import NARROWER, IncompleteSearchError

if TYPE_CHECKING:
    from satusehat_async.http.response import Response
    from satusehat_async.params import Params

__all__ = ["SearchPage", "SearchResults", "SearchStats", "on_our_base"]

R = TypeVar("R")
Fetch = Callable[[str, "Params | None"], Awaitable["Response"]]
logger = logging.getLogger("satusehat_async.resource")


@dataclass
class SearchStats:
    """What a search has received so far.

    Attributes:
        total: the server's ``total`` (None when it sent none).
        received: matches handed out or about to be (every page so far).
        pages: pages fetched.
        exhausted: the last page was reached (no ``next`` link, or one that could not be
            followed).
        incomplete: the search ended short of ``total``, or stopped at a ``next`` link it
            could not follow: the result is not everything that matched.
    """

    total: int | None = None
    received: int = 0
    pages: int = 0
    exhausted: bool = False
    incomplete: bool = False

    @property
    def complete(self) -> bool:
        """The whole result was received (exhausted and not incomplete)."""
        return self.exhausted and not self.incomplete


@dataclass(frozen=True)
class SearchPage(Generic[R]):
    """One page of a search: its matches, its number (1, 2, ...), the server's ``total``,
    and whether it is the last."""

    resources: list[R]
    number: int
    total: int | None
    last: bool


def on_our_base(link: str, base: str, fallback: str) -> str | None:
    """The URL to fetch for a ``next`` link: on ``base`` as it is, else its query on
    ``fallback`` (our own ``{base}/{Type}``); None when it has no query to carry over."""
    ours, theirs = urlsplit(base), urlsplit(link)
    same_origin = (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)
    prefix = ours.path.rstrip("/")
    if same_origin and (theirs.path == prefix or theirs.path.startswith(prefix + "/")):
        return link
    if not theirs.query:
        return None
    return f"{fallback}?{theirs.query}"


class SearchResults(Closing, Generic[R]):
    """Every resource a search matches, page after page (``async for``).

    Use ``async for resource in results``, or ``async for page in results.pages()``
    (one or the other), or ``await results.all()``. Stop early with ``break`` and
    :meth:`aclose` (or ``async with``): nothing more is fetched. :attr:`stats` tells
    whether what was received is the whole result. ``max_pages`` (default: no bound)
    stops following ``next`` links after that many pages (``stats.incomplete``).
    """

    def __init__(
        self,
        fetch: Fetch,
        cls: type[R],
        *,
        url: str,
        base: str,
        params: Params | None,
        resource_type: str,
        strict: bool = False,
        max_pages: int | None = None,
    ) -> None:
        self._fetch, self._cls, self._url, self._base = fetch, cls, url, base
        self._params, self._strict, self.resource_type = params, strict, resource_type
        self._max_pages = max_pages
        self.stats = SearchStats()
        """What this search received so far (see :class:`SearchStats`)."""
        self._pages: AsyncIterator[SearchPage[R]] | None = None
        self._mode: str | None = None
        self._buffer: deque[R] = deque()

    def __repr__(self) -> str:
        return f"SearchResults({self.resource_type}, {self.stats})"

    def _start(self, mode: str) -> AsyncIterator[SearchPage[R]]:
        if self._mode not in (None, mode):
            raise SatuSehatError(
                "this search is already iterated by "
                + ("resource" if self._mode == "items" else "page")
                + "; start a new search() for the other view"
            )
        self._mode = mode
        if self._pages is None:
            self._pages = self._walk()
        return self._pages

    def pages(self) -> AsyncIterator[SearchPage[R]]:
        """The search page by page (instead of resource by resource)."""
        return self._start("pages")

    def __aiter__(self) -> SearchResults[R]:
        self._start("items")
        return self

    async def __anext__(self) -> R:
        pages = self._start("items")
        while not self._buffer:
            page = await pages.__anext__()  # StopAsyncIteration ends the iteration
            self._buffer.extend(page.resources)
        return self._buffer.popleft()

    async def all(self) -> list[R]:
        """Every match, as a list (mind :attr:`stats` ``.incomplete`` unless strict)."""
        return [resource async for resource in self]

    async def aclose(self) -> None:
        """Stop: nothing more is fetched."""
        self._buffer.clear()
        pages = self._pages
        if pages is not None and hasattr(pages, "aclose"):
            await pages.aclose()

    async def _walk(self) -> AsyncIterator[SearchPage[R]]:
        url: str | None = self._url
        params: Params | None = self._params
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            response = await self._fetch(url, params)
            found, bundle = decode_searchset(
                self._cls, response.body, status=response.status, headers=response.headers
            )
            stats = self.stats
            stats.pages += 1
            stats.received += len(found)
            if stats.total is None and bundle.total is not None:
                stats.total = bundle.total
            url, params = self._next(bundle.next_url(), seen), None
            if url is None:
                self._finish()
            yield SearchPage(found, stats.pages, stats.total, last=url is None)

    def _next(self, link: str | None, seen: set[str]) -> str | None:
        """The next URL to fetch (on our base), or None: this page is the last."""
        if link is None:
            return None
        target = on_our_base(link, self._base, self._url)
        if target is None:
            why = "without a query"
        elif target in seen:
            why = "that repeats an earlier page"
        elif self._max_pages is not None and self.stats.pages >= self._max_pages:
            why = f"after {self.stats.pages} pages"
        else:
            return target
        logger.warning("%s search: not following a next link %s", self.resource_type, why)
        self.stats.incomplete = True
        return None

    def _finish(self) -> None:
        stats = self.stats
        stats.exhausted = True
        short = stats.total is not None and stats.received < stats.total
        if short:
            stats.incomplete = True
        if not stats.incomplete:
            return
        logger.warning(
            "%s search incomplete: total=%s, received %d in %d page(s) and no next link; %s",
            self.resource_type,
            stats.total,
            stats.received,
            stats.pages,
            NARROWER,
        )
        if self._strict and short:
            assert stats.total is not None
            raise IncompleteSearchError(
                self.resource_type, total=stats.total, received=stats.received
            )
