"""``satusehat msi sync DB``: keep a SQLite mirror of the facility registry up to date.

The report (what was added, changed and closed since the last sync) goes to stdout as
text or JSON; progress goes to stderr on a terminal (a rich bar with the ``cli`` extra,
plain lines without). The library half is :func:`satusehat_async.msi.mirror.sync`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from satusehat_async.cli.msi_progress import PlainProgress, advance_progress, crawl_progress
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery

if TYPE_CHECKING:
    from satusehat_async.msi.mirror import PageCallback
    from satusehat_async.msi.stats import CrawlStats

__all__ = ["register", "sync_command"]

_FORMATS = ("text", "json")


def register(msi_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sync`` to the ``msi`` command (``msi_subparsers``: its subparsers action)."""
    parser = msi_subparsers.add_parser(
        "sync",
        help="keep a SQLite mirror of the registry up to date",
        description="Mirror the matching facilities into the SQLite database DB (created "
        "on first use) and report what was added, changed and closed since the last sync. "
        "The first sync crawls everything; later ones only what the registry updated since "
        "(a day of overlap). --full crawls everything again (and finds facilities that "
        "left the registry); with other filters than the database's it rebuilds it.",
    )
    parser.add_argument("database", type=Path, metavar="DB", help="the SQLite file")
    from satusehat_async.cli.msi_cmd import add_filter_arguments  # msi_cmd imports us

    add_filter_arguments(parser)
    o = parser.add_argument_group("sync and output")
    o.add_argument("--full", action="store_true", help="crawl everything (rebuild for new filters)")
    o.add_argument(
        "--format",
        default="text",
        type=lambda value: value.strip().lower(),
        metavar="{text,json}",
        help="the report: text for a person (default) or json for programs",
    )
    o.add_argument(
        "--page-size", type=int, default=MAX_PAGE_SIZE, help=f"rows per page, 1-{MAX_PAGE_SIZE}"
    )
    o.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.set_defaults(func=sync_command)


def _usage(message: str) -> Exception:
    from satusehat_async.cli.main import fail

    return fail(message)


def _check(args: argparse.Namespace) -> FacilityQuery:
    if args.format not in _FORMATS:
        raise _usage(f"--format must be one of {', '.join(_FORMATS)}, got {args.format!r}")
    if not 1 <= args.page_size <= MAX_PAGE_SIZE:
        raise _usage(f"--page-size must be between 1 and {MAX_PAGE_SIZE}, got {args.page_size}")
    if args.concurrency < 1:
        raise _usage(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.lower_bound_updated_at is not None or args.upper_bound_updated_at is not None:
        raise _usage("--updated-from and --updated-to are set by the mirror itself: leave them out")
    from satusehat_async.cli.msi_cmd import query_from_args

    return query_from_args(args)


class _Lines:
    """Progress as plain lines on stderr (no ``rich``): at most one every ``interval`` s."""

    def __init__(self, stream: TextIO, interval: float = 2.0) -> None:
        self.stream, self.interval = stream, interval
        self._shown: tuple[str, float] | None = None

    def show(self, name: str, stats: CrawlStats) -> None:
        now = time.monotonic()
        total = stats.total_page or stats.pages
        last = self._shown
        recent = last is not None and last[0] == name and now - last[1] < self.interval
        if recent and stats.pages < total:
            return
        self._shown = (name, now)
        print(
            f"msi sync: {name} pass, page {stats.pages}/{total}, {stats.facilities:,} facilities",
            file=self.stream,
            flush=True,
        )


@contextmanager
def _progress(enabled: bool) -> Iterator[PageCallback | None]:
    """An ``on_page`` callback drawing progress on stderr, or None when disabled."""
    with crawl_progress(enabled) as display:
        if display is None:
            yield None
            return
        if isinstance(display, PlainProgress):
            yield _Lines(sys.stderr).show
            return
        tasks: dict[str, Any] = {}

        def on_page(name: str, stats: CrawlStats) -> None:
            tasks[name] = advance_progress(display, tasks.get(name), stats, 1)

        yield on_page


async def sync_command(args: argparse.Namespace) -> int:
    """Run ``satusehat msi sync``; returns the exit code."""
    from satusehat_async.cli.main import client_from_args
    from satusehat_async.msi.mirror import MirrorFilterMismatch

    query = _check(args)
    client = client_from_args(args)
    try:
        async with client:
            with _progress(sys.stderr.isatty()) as on_page:
                report = await client.msi.sync(
                    args.database,
                    query=query,
                    full=args.full,
                    page_size=args.page_size,
                    concurrency=args.concurrency,
                    on_page=on_page,
                )
    except MirrorFilterMismatch as exc:
        raise _usage(str(exc).replace("full=True", "--full")) from None
    print(report.to_json() if args.format == "json" else report.summary())
    return 0
