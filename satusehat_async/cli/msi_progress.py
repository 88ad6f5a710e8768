"""Progress of a crawl on a terminal: a rich bar with the ``cli`` extra, plain lines without.

Shared by ``satusehat msi crawl`` and ``satusehat demo`` (re-exported by
:mod:`satusehat_async.cli.msi_cmd`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, Union, cast

from satusehat_async.msi.stats import CrawlStats

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["PlainProgress", "ProgressDisplay", "advance_progress", "crawl_progress"]


class PlainProgress:
    """Crawl progress as plain lines on stderr: for a terminal without ``rich``.

    At most one line every ``interval`` seconds (and always the first and the last).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.clock = clock
        self._shown_at: float | None = None

    def show(self, stats: CrawlStats, start: int) -> None:
        """Print a line for the crawl's progress unless one was printed a moment ago."""
        total = max((stats.total_page or stats.pages) - start + 1, stats.pages, 1)
        now = self.clock()
        recent = self._shown_at is not None and now - self._shown_at < self.interval
        if recent and stats.pages < total:
            return
        self._shown_at = now
        rate = stats.facilities / stats.elapsed if stats.elapsed else 0.0
        print(
            f"msi crawl: page {stats.pages}/{total}, {stats.facilities:,} facilities "
            f"({rate:,.0f}/s)",
            file=self.stream,
            flush=True,
        )


#: What :func:`crawl_progress` yields: a rich progress bar, or plain lines without rich.
ProgressDisplay = Union["Progress", PlainProgress]


@contextlib.contextmanager
def crawl_progress(enabled: bool) -> Iterator[ProgressDisplay | None]:
    """A progress display on stderr (pages, facilities, rate, ETA), or None when disabled.

    A rich progress bar with the ``cli`` extra installed; plain lines
    (:class:`PlainProgress`) without ``rich``.
    """
    if not enabled:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
    except ImportError:  # installed without the cli extra
        yield PlainProgress()
        return

    with Progress(
        TextColumn("pages"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[facilities]:,} facilities ({task.fields[rate]:,.0f}/s)"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        yield progress


def advance_progress(
    progress: ProgressDisplay, task: TaskID | None, stats: CrawlStats, start: int
) -> TaskID:
    """Show a crawl's progress (adding its task on the first page); returns the task."""
    if isinstance(progress, PlainProgress):
        progress.show(stats, start)
        return cast("TaskID", 0)  # plain lines have no task; rich's TaskID is an int
    total = (stats.total_page or stats.pages) - start + 1
    fields: dict[str, Any] = {
        "facilities": stats.facilities,
        "rate": stats.facilities / stats.elapsed if stats.elapsed else 0.0,
    }
    if task is None:
        task = progress.add_task("crawl", total=max(total, 1), **fields)
    progress.update(task, completed=stats.pages, total=max(total, stats.pages), **fields)
    return task
