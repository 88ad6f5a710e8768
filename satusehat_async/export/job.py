"""The resumable crawl-to-file pipeline, for any ordered pager of msgspec-Struct rows.

An :class:`Export` writes each page of a crawl as it comes — to a file, with a checkpoint
after every page so an interrupted export resumes where it stopped (``resume=True``), or
to a binary stream — and returns an :class:`ExportResult`. What it crawls is an
:class:`ExportSource`: it opens the crawl at a position with the identities already
written, says which rows a page holds and where a resume continues after it, and gives
the :class:`~satusehat_async.export.RecordLayout` (columns, identity). The MSI's is
:meth:`client.msi.export <satusehat_async.msi.MSI.export>`.

Disk writes and ``fsync`` run off the event loop, so fetching goes on meanwhile; a
cancellation (Ctrl-C) arriving during a write lets the write and its checkpoint finish
first, so the checkpoint always covers every byte written.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Generator, Hashable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Generic, Protocol, TypeVar, cast

from satusehat_async.errors import CheckpointError, ValidationError
from satusehat_async.export.checkpoint import ExportFile, checkpoint_path
from satusehat_async.export.formats import RecordLayout, check_format
from satusehat_async.paging.stats import PageStats

__all__ = ["Crawl", "Export", "ExportResult", "ExportSource", "Position"]

PageT = TypeVar("PageT")
PageT_co = TypeVar("PageT_co", covariant=True)
T = TypeVar("T")

#: Where a crawl starts or continues: (part, page). ``part`` names the segment of a crawl
#: made of several (a KFA product type); None for a crawl of one.
Position = tuple["str | None", int]


class Crawl(Protocol[PageT_co]):
    """What an export reads: pages in order, with live statistics (an OrderedPager)."""

    @property
    def stats(self) -> PageStats:
        """The crawl's live statistics (``total_page`` among them)."""
        ...

    def __anext__(self) -> Awaitable[PageT_co]:
        """The next page (StopAsyncIteration after the last)."""
        ...

    async def aclose(self) -> None:
        """Stop the crawl and wait for its requests to unwind."""
        ...


class ExportSource(Protocol[PageT]):
    """What the export engine needs from a paged endpoint."""

    @property
    def layout(self) -> RecordLayout:
        """The rows' columns and identity."""
        ...

    def open(self, start: Position, seen: list[Hashable]) -> Crawl[PageT]:
        """The crawl from ``start``, skipping rows whose identity is in ``seen``."""
        ...

    def rows(self, page: PageT) -> Sequence[Any]:
        """The new rows of a page."""
        ...

    def after(self, page: PageT, crawl: Crawl[PageT]) -> Position:
        """Where a resume continues once ``page`` is written."""
        ...


@dataclasses.dataclass
class ExportResult:
    """What an export did (live while it runs; ``on_page`` gets it after every page).

    Attributes:
        path: the output file (None for a stream).
        format: ``ndjson`` or ``csv``.
        stats: this run's crawl statistics (empty until the crawl starts).
        rows_written: rows this run wrote.
        rows_before: rows already in the file when this run resumed it.
        resumed_from: where this run resumed, ``(part, page)``; None for a fresh export.
        complete: the export has every row (its checkpoint says so).
        already_complete: it was complete before this run; nothing was sent.
    """

    path: Path | None
    format: str
    stats: PageStats = dataclasses.field(default_factory=PageStats)
    rows_written: int = 0
    rows_before: int = 0
    resumed_from: Position | None = None
    complete: bool = False
    already_complete: bool = False

    @property
    def rows_total(self) -> int:
        """Rows in the output now."""
        return self.rows_before + self.rows_written

    @property
    def resumed_from_page(self) -> int | None:
        """The page this run resumed from (None for a fresh export)."""
        return None if self.resumed_from is None else self.resumed_from[1]


async def _uninterrupted(call: Callable[[], T]) -> T:
    """Run ``call`` in a thread; a cancellation waits for it to finish, then propagates."""
    future = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait((future,))
        raise


class Export(Generic[PageT]):
    """One export: build it (arguments checked, nothing touched), then ``await`` it.

    Args:
        output: a file path (checkpointed, resumable) or a binary stream (``write`` and
            ``flush``; no checkpoint).
        source: what to crawl (see :class:`ExportSource`).
        fingerprint: identifies the crawl (query and row columns): a checkpoint of
            another crawl is refused on resume.
        format: ``"ndjson"`` (one JSON object per line) or ``"csv"`` (a header, then one
            row per record, nested fields as ``parent.child`` columns).
        page_size: rows per page (a checkpoint of another page size is refused).
        resume: continue the interrupted export of the same crawl in ``output``.
        force: overwrite an existing ``output`` (only once the first page arrives).
        on_page: called with the live :class:`ExportResult` after each page is written.

    Raises:
        ValidationError: a bad format, or ``resume``/``force`` without a file, or both.
    """

    def __init__(
        self,
        output: str | Path | BinaryIO,
        source: ExportSource[PageT],
        *,
        fingerprint: str,
        format: str = "ndjson",
        page_size: int,
        resume: bool = False,
        force: bool = False,
        on_page: Callable[[ExportResult], object] | None = None,
    ) -> None:
        fmt = check_format(format)
        path = Path(output) if isinstance(output, (str, Path)) else None
        if path is None and not callable(getattr(output, "write", None)):
            raise ValidationError(f"output must be a path or a binary stream, got {output!r}")
        if path is None and (resume or force):
            raise ValidationError("resume and force need output to be a file path")
        if resume and force:
            raise ValidationError("resume=True and force=True exclude each other")
        self.source = source
        self.stream: BinaryIO | None = None if path is not None else cast("BinaryIO", output)
        self.fingerprint, self.page_size = fingerprint, page_size
        self.resume, self.force, self.on_page = bool(resume), bool(force), on_page
        self.header, self.encode = source.layout.encoder(fmt)
        #: The live result (also what awaiting the export returns).
        self.result = ExportResult(path, fmt)

    def __await__(self) -> Generator[Any, None, ExportResult]:
        return self.run().__await__()

    async def run(self) -> ExportResult:
        """Crawl and write; returns the :attr:`result`.

        Raises:
            ResumeRefused: the output exists and neither ``resume`` nor ``force`` allows
                touching it, or its checkpoint is another crawl's (nothing sent).
            CheckpointError: the checkpoint does not match the file (nothing touched).
        """
        export = await self._open()
        if export is not None and export.checkpoint.complete:
            export.abandon()
            self.result.complete = self.result.already_complete = True
            return self.result
        try:
            await self._crawl(export)
        except CheckpointError:  # found out from the first answer of a resumed crawl
            if export is not None:
                export.abandon()  # not a byte changed
            raise
        finally:
            if export is not None:
                export.close()
        return self.result

    async def _open(self) -> ExportFile | None:
        path = self.result.path
        if path is None:
            return None

        def open_file() -> ExportFile:
            return ExportFile.open(
                path,
                fingerprint=self.fingerprint,
                fmt=self.result.format,
                page_size=self.page_size,
                header=self.header,
                resume=self.resume,
                force=self.force,
                layout=self.source.layout,
            )

        future = asyncio.ensure_future(asyncio.to_thread(open_file))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait((future,))
            if not future.cancelled() and future.exception() is None:
                future.result().abandon()
            raise

    async def _crawl(self, export: ExportFile | None) -> None:
        result = self.result
        start: Position = (None, 1)
        seen: list[Hashable] = []
        if export is not None:
            cp = export.checkpoint
            start, result.rows_before = (cp.part, cp.next_page), cp.facilities
            result.resumed_from = start if export.resumed else None
            seen = list(export.seen)
            export.seen.clear()  # the crawl keeps its own compact copy
        elif self.stream is not None and self.header:
            self.stream.write(self.header)
        crawl = self.source.open(start, seen)
        del seen
        result.stats = crawl.stats
        try:
            while True:
                try:
                    page = await crawl.__anext__()
                except StopAsyncIteration:
                    break
                await self._write(page, crawl, export, start)
        finally:
            await crawl.aclose()
        if export is not None:
            await _uninterrupted(export.finish)
        result.complete = export is not None

    async def _write(
        self, page: PageT, crawl: Crawl[PageT], export: ExportFile | None, start: Position
    ) -> None:
        """Write one page: committed to the export file, or to the stream."""
        rows = self.source.rows(page)
        stats = crawl.stats
        if export is None:
            assert self.stream is not None
            self.stream.write(self.encode(rows))
            self.stream.flush()
            self.result.rows_written += len(rows)
        else:
            if export.resumed and stats.pages == 1:
                self._check_resumed(export, stats, start)
            if rows:  # a page with no new rows moves nothing (past the end, say)
                part, next_page = self.source.after(page, crawl)
                data = self.encode(rows)

                def commit() -> None:
                    export.commit(
                        data,
                        next_page=next_page,
                        facilities=len(rows),
                        total_page=stats.total_page,
                        part=part,
                    )
                    # counted with the commit: a cancellation after it still counts them
                    self.result.rows_written += len(rows)

                await _uninterrupted(commit)
        if self.on_page is not None:
            self.on_page(self.result)

    def _check_resumed(self, export: ExportFile, stats: PageStats, start: Position) -> None:
        """A resumed crawl's first answer: is its next page within the source's pages?"""
        part, number = start
        total, source = stats.total_page, self.source.layout.source
        if part is None and total is not None and number > total + 1:
            raise CheckpointError(
                f"{checkpoint_path(export.path).name} says the next page is {number}, but "
                f"the {source} has {total} pages of this size: the checkpoint is damaged, "
                f"or the {source} shrank since; nothing was touched (use force=True to "
                f"start over)"
            )
