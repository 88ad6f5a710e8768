"""Progress of ``satusehat onboard`` on stderr: a rich bar with the ``cli`` extra, plain
lines without it (at most one every ``interval`` seconds, and always the last)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from satusehat_async.cli.onboard_run import OnboardSummary

__all__ = ["PlainRows", "row_progress"]


class PlainRows:
    """``onboard: 12/40 rows (10 created, 2 already there, 0 refused)`` lines."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.interval, self.clock = total, interval, clock
        self.stream = stream if stream is not None else sys.stderr
        self._shown_at: float | None = None

    def show(self, summary: OnboardSummary) -> None:
        """A line for the progress, unless one was printed a moment ago (the last always)."""
        done, now = len(summary.outcomes), self.clock()
        recent = self._shown_at is not None and now - self._shown_at < self.interval
        if recent and done < self.total:
            return
        self._shown_at = now
        counts = summary.line().split(": ", 1)[1]
        print(f"onboard: {done}/{self.total} rows ({counts})", file=self.stream, flush=True)


class _RichRows:
    def __init__(self, progress: Any, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task("onboard", total=max(total, 1), created=0, existed=0)

    def show(self, summary: OnboardSummary) -> None:
        self._progress.update(
            self._task,
            completed=len(summary.outcomes),
            created=summary.count("created"),
            existed=summary.count("existed"),
            refused=summary.count("refused"),
        )


@contextlib.contextmanager
def row_progress(mode: str | None, total: int) -> Iterator[PlainRows | _RichRows | None]:
    """A progress display of ``total`` rows on stderr: ``"bar"`` (rich when installed,
    else plain lines), ``"plain"`` (lines), None (nothing)."""
    if mode is None:
        yield None
        return
    if mode == "plain":
        yield PlainRows(total)
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:  # installed without the cli extra
        yield PlainRows(total)
        return
    with Progress(
        TextColumn("rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[created]} created, {task.fields[existed]} already there"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        yield _RichRows(progress, total)
