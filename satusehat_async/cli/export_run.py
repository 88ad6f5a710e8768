"""Running a library export for a command: Ctrl-C, a closed pipe, and their one line.

``satusehat msi crawl`` and ``satusehat kfa export`` are thin layers over the library's
resumable export (:mod:`satusehat_async.export`); both await it here, so an interrupted
export says the same thing (how far it got, how to resume) and exits the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from satusehat_async.export import Export, ExportResult

__all__ = ["await_export", "ctrl_c_cancels_this_task"]


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
