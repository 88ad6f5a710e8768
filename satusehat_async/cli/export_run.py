"""Running a library export for a command: its output flags, Ctrl-C, a closed pipe.

``satusehat msi crawl`` and ``satusehat kfa export`` are thin layers over the library's
resumable export (:mod:`satusehat_async.export`): both take the same output flags and
check them here, and await the export here, so an interrupted export says the same
thing (how far it got, how to resume) and exits the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from satusehat_async.export.formats import FORMATS

if TYPE_CHECKING:
    from satusehat_async.export import Export, ExportResult

__all__ = [
    "add_output_arguments",
    "await_export",
    "check_output_options",
    "ctrl_c_cancels_this_task",
]


def _format(value: str) -> str:
    return value.strip().lower()


def add_output_arguments(
    parser: argparse.ArgumentParser, *, page_size: int, max_page_size: int, what: str
) -> argparse._ArgumentGroup:
    """Add the "crawl and output" flags (``--page-size`` defaulting to ``page_size``,
    ``--concurrency``, ``--format``, ``-o/--output``, ``--resume``, ``--force``); ``what``
    names the command's work in the help (``"crawl"``). Returns the group, for more."""
    group = parser.add_argument_group("crawl and output")
    group.add_argument(
        "--page-size", type=int, default=page_size, help=f"rows per page, 1-{max_page_size}"
    )
    group.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    group.add_argument(
        "--format",
        default="ndjson",
        type=_format,
        metavar="{" + ",".join(FORMATS) + "}",
        help=f"output format: {' or '.join(FORMATS)}, any case (default ndjson)",
    )
    group.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here (default stdout)"
    )
    group.add_argument("--resume", action="store_true", help=f"continue an interrupted {what}")
    group.add_argument("--force", action="store_true", help="overwrite an existing output")
    return group


def check_output_options(args: argparse.Namespace, *, max_page_size: int) -> None:
    """Refuse output flags that cannot work together (a usage error: exit 2, one line)."""
    from satusehat_async.cli.main import fail

    if args.format not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    if not 1 <= args.page_size <= max_page_size:
        raise fail(f"--page-size must be between 1 and {max_page_size}, got {args.page_size}")
    if args.concurrency < 1:
        raise fail(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.output is None and (args.resume or args.force):
        raise fail("--resume and --force need --output FILE")
    if args.resume and args.force:
        raise fail("--resume and --force exclude each other")


@contextlib.contextmanager
def ctrl_c_cancels_this_task() -> Iterator[None]:
    """Make Ctrl-C cancel the running task (as ``asyncio.run`` does itself from 3.11).

    On 3.10 a KeyboardInterrupt would surface anywhere in the loop, and the one-line
    message with the resume hint would be followed by the main entry point's own.
    """
    task = asyncio.current_task()
    if sys.version_info >= (3, 11) or task is None:
        yield
        return
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def await_export(
    export: Export[Any], *, target: str, rows_name: str, to_file: bool
) -> ExportResult | int:
    """The export's result, or the exit code once it was interrupted: 130 after Ctrl-C
    (one line: how far it got, and ``--resume`` when it wrote to a file), 0 when the
    reader of stdout went away (``| head``)."""
    try:
        with ctrl_c_cancels_this_task():
            return await export
    except asyncio.CancelledError:
        # Ctrl-C: the checkpoint already covers every page written; say so in one line.
        done = export.result
        hint = "; run again with --resume to continue" if to_file else ""
        print(
            f"satusehat: interrupted after {done.stats.pages} pages"
            f" ({done.rows_total:,} {rows_name} in {target}){hint}",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # Stop quietly, like other command-line tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        os.close(devnull)
        return 0
