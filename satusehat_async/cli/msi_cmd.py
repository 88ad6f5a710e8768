"""``satusehat msi crawl``: export the facility registry as NDJSON or CSV, resumably."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from satusehat_async.cli.msi_progress import (
    PlainProgress,
    ProgressDisplay,
    advance_progress,
    crawl_progress,
)
from satusehat_async.errors import ValidationError
from satusehat_async.msi.checkpoint import (
    CheckpointError,
    ExportFile,
    ResumeRefused,
    checkpoint_path,
)
from satusehat_async.msi.export import FORMATS, Encoder, encoder_for
from satusehat_async.msi.query import MAX_PAGE_SIZE, FacilityQuery, FacilityType
from satusehat_async.msi.stats import CrawlStats

if TYPE_CHECKING:
    from satusehat_async.msi.models import FacilityPage
    from satusehat_async.msi.pager import FacilityPages

__all__ = ["PlainProgress", "ProgressDisplay", "advance_progress", "crawl_progress", "register"]

_TYPE_NAMES = {t.name.lower().replace("_", "-"): int(t) for t in FacilityType}

# The library's messages name its parameters; the command line's name the flags.
_FLAGS = {
    "jenis_sarana": "--jenis-sarana",
    "kode_provinsi": "--kode-provinsi",
    "kode_kabkota": "--kode-kabkota",
    "kode_kecamatan": "--kode-kecamatan",
    "kode_satusehat": "--kode-satusehat",
    "identifier_kode_sarana": "--identifier-kode-sarana",
    "kode_sarana": "--kode-sarana",
    "nama": "--nama",
    "status_aktif": "--status-aktif",
    "status_sarana": "--status-sarana",
    "sumber_identifier": "--sumber-identifier",
    "lower_bound_updated_at": "--updated-from",
    "upper_bound_updated_at": "--updated-to",
    "page_size": "--page-size",
    "concurrency": "--concurrency",
}
_PARAMETER = re.compile(r"\b(" + "|".join(sorted(_FLAGS, key=len, reverse=True)) + r")\b")


def _flag_names(message: str) -> str:
    """``lower_bound_updated_at must be...`` -> ``--updated-from must be...``."""
    return _PARAMETER.sub(lambda match: _FLAGS[match.group(1)], message)


def _jenis(value: str) -> str:
    text = value.strip()
    code = _TYPE_NAMES.get(text.lower())
    if code is not None:
        return str(code)
    if not (text.isascii() and text.isdigit()):
        names = "|".join(_TYPE_NAMES)
        raise argparse.ArgumentTypeError(
            f"--jenis-sarana takes a facility type code or {names}, got {value!r}"
        )
    return text


def _format(value: str) -> str:
    return value.strip().lower()


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes", "ya"):
        return True
    if text in ("false", "0", "no", "tidak"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``msi crawl`` to the ``satusehat`` command line."""
    msi = subparsers.add_parser("msi", help="Master Sarana Index (health facilities)")
    commands = msi.add_subparsers(dest="msi_command", metavar="SUBCOMMAND")
    commands.required = True
    crawl = commands.add_parser(
        "crawl",
        help="export matching facilities as NDJSON or CSV",
        description="Crawl the facility registry concurrently and write every matching "
        "facility once. With --output, progress is checkpointed beside the file "
        "(FILE.checkpoint.json) so an interrupted crawl continues with --resume.",
    )
    names = ", ".join(f"{n} ({c})" for n, c in _TYPE_NAMES.items())
    q = crawl.add_argument_group("filters (the API's query parameters)")
    q.add_argument(
        "--jenis-sarana",
        action="append",
        metavar="TYPE",
        help=f"facility type, repeatable: a code or a name: {names} (default: all four)",
    )
    q.add_argument("--kode-provinsi", metavar="CODE", help="2-digit province code")
    q.add_argument("--kode-kabkota", metavar="CODE", help="4-digit regency/city code")
    q.add_argument("--kode-kecamatan", metavar="CODE", help="6-digit district code")
    q.add_argument("--kode-satusehat", metavar="CODE", help="10-digit SATUSEHAT code")
    q.add_argument("--kode-sarana", metavar="CODE", help="facility code in its source system")
    q.add_argument("--nama", metavar="TEXT", help="name contains")
    q.add_argument("--status-aktif", type=_bool, metavar="BOOL", help="true or false")
    q.add_argument("--status-sarana", metavar="STATUS", help="draft, verified, valid, ...")
    q.add_argument("--sumber-identifier", metavar="SOURCE", help="source system of the code")
    q.add_argument("--identifier-kode-sarana", metavar="CODE", help="code in that source")
    q.add_argument("--updated-from", metavar="DATE", help="updated on or after (YYYY-MM-DD)")
    q.add_argument("--updated-to", metavar="DATE", help="updated on or before (YYYY-MM-DD)")
    o = crawl.add_argument_group("crawl and output")
    o.add_argument(
        "--page-size", type=int, default=MAX_PAGE_SIZE, help=f"rows per page, 1-{MAX_PAGE_SIZE}"
    )
    o.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    o.add_argument(
        "--format",
        default="ndjson",
        type=_format,
        metavar="{" + ",".join(FORMATS) + "}",
        help=f"output format: {' or '.join(FORMATS)}, any case (default ndjson)",
    )
    o.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default stdout)")
    o.add_argument("--resume", action="store_true", help="continue an interrupted crawl")
    o.add_argument("--force", action="store_true", help="overwrite an existing output")
    crawl.set_defaults(func=crawl_command)


def _usage(message: str) -> Exception:
    from satusehat_async.cli.main import fail

    return fail(message)


def _query(args: argparse.Namespace) -> FacilityQuery:
    try:
        jenis = [_jenis(value) for value in args.jenis_sarana] if args.jenis_sarana else None
    except argparse.ArgumentTypeError as exc:
        raise _usage(str(exc)) from None
    try:
        return FacilityQuery.build(
            jenis_sarana=jenis,
            kode_provinsi=args.kode_provinsi,
            kode_kabkota=args.kode_kabkota,
            kode_kecamatan=args.kode_kecamatan,
            kode_satusehat=args.kode_satusehat,
            kode_sarana=args.kode_sarana,
            nama=args.nama,
            status_aktif=args.status_aktif,
            status_sarana=args.status_sarana,
            sumber_identifier=args.sumber_identifier,
            identifier_kode_sarana=args.identifier_kode_sarana,
            lower_bound_updated_at=args.updated_from,
            upper_bound_updated_at=args.updated_to,
        )
    except ValidationError as exc:
        raise _usage(_flag_names(str(exc))) from None


def _check_options(args: argparse.Namespace) -> None:
    if args.format not in FORMATS:
        raise _usage(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    if not 1 <= args.page_size <= MAX_PAGE_SIZE:
        raise _usage(f"--page-size must be between 1 and {MAX_PAGE_SIZE}, got {args.page_size}")
    if args.concurrency < 1:
        raise _usage(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.output is None and (args.resume or args.force):
        raise _usage("--resume and --force need --output FILE")
    if args.resume and args.force:
        raise _usage("--resume and --force exclude each other")


def _summary(stats: CrawlStats, total: int, target: str, note: str = "") -> str:
    changed = " (total_page changed during the crawl)" if stats.total_page_changed else ""
    if stats.stale_total_page:
        changed += (
            f" (total_page {stats.total_page} was over-reported: stopped after "
            f"{stats.empty_pages} empty page(s) past the data)"
        )
    if stats.possibly_incomplete:
        note += (
            "; WARNING: the registry shrank during the crawl, so some facilities may be "
            "missing (offset paging): crawl again to be sure"
        )
    return (
        f"msi crawl: {total:,} facilities in {target} ({stats.facilities:,} new from "
        f"{stats.pages} pages, {stats.duplicates_skipped} duplicates skipped, "
        f"{stats.retries} retries) in {stats.elapsed:.1f}s{changed}{note}"
    )


async def crawl_command(args: argparse.Namespace) -> int:
    """Run ``satusehat msi crawl``; returns the exit code."""
    query = _query(args)
    _check_options(args)
    header, encode = encoder_for(args.format)
    export: ExportFile | None = None
    if args.output is not None:
        try:
            export = ExportFile.open(
                args.output,
                fingerprint=query.fingerprint(),
                fmt=args.format,
                page_size=args.page_size,
                header=header,
                resume=args.resume,
                force=args.force,
            )
        except ResumeRefused as exc:
            raise _usage(str(exc)) from None
        if export.checkpoint.complete:
            export.abandon()
            print(f"msi crawl: {args.output} is already complete", file=sys.stderr)
            return 0
    try:
        with _ctrl_c_cancels_this_task():
            return await _crawl(args, query, encode, header, export)
    except CheckpointError as exc:  # found out from the first answer of a resumed crawl
        if export is not None:
            export.abandon()  # not a byte changed
        raise _usage(str(exc)) from None
    finally:
        if export is not None:
            export.close()


@contextlib.contextmanager
def _ctrl_c_cancels_this_task() -> Iterator[None]:
    """Make Ctrl-C cancel the crawl (as ``asyncio.run`` does itself from Python 3.11).

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


async def _crawl(
    args: argparse.Namespace,
    query: FacilityQuery,
    encode: Encoder,
    header: bytes,
    export: ExportFile | None,
) -> int:
    from satusehat_async.cli.main import client_from_args

    client = client_from_args(args)
    start = export.checkpoint.next_page if export else 1
    before = export.checkpoint.facilities if export else 0
    target = str(args.output) if args.output is not None else "stdout"
    if export is None and header:
        sys.stdout.buffer.write(header)
    stats = CrawlStats()
    try:
        async with client:
            pages = client.msi.pages(
                query=query,
                page_size=args.page_size,
                concurrency=args.concurrency,
                start_page=start,
                seen=export.seen if export else None,
            )
            if export is not None:
                export.seen.clear()  # the crawl keeps its own compact copy
            stats = pages.stats
            async with pages:
                await _write_pages(pages, encode, export, start)
        if export is not None:
            export.finish()
    except asyncio.CancelledError:
        # Ctrl-C: the checkpoint already covers every page written; say so in one line.
        hint = "; run again with --resume to continue" if export is not None else ""
        print(
            f"satusehat: interrupted after {stats.pages} pages"
            f" ({before + stats.facilities:,} facilities in {target}){hint}",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like other command-line tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is quiet
        os.close(devnull)
        return 0
    print(_summary(stats, before + stats.facilities, target), file=sys.stderr)
    return 0


async def _write_pages(
    pages: FacilityPages, encode: Encoder, export: ExportFile | None, start: int
) -> None:
    """Write each page as it comes: committed to the export file, or to stdout."""
    stats = pages.stats
    stdout = sys.stdout.buffer
    with crawl_progress(sys.stderr.isatty()) as progress:
        task = None
        async for page in pages:
            if export is not None:
                _check_resumed_page(export, stats, start)
                if _past_the_end(page, stats):
                    continue  # nothing to write, and next_page stays in range
                await _commit(export, encode(page.facilities), page, stats)
            else:
                stdout.write(encode(page.facilities))
                stdout.flush()
            if progress is not None:
                task = advance_progress(progress, task, stats, start)


def _check_resumed_page(export: ExportFile, stats: CrawlStats, start: int) -> None:
    """A resumed crawl's first answer: is its next page within the registry's pages?"""
    total = stats.total_page
    if export.resumed and stats.pages == 1 and total is not None and start > total + 1:
        raise CheckpointError(
            f"{checkpoint_path(export.path).name} says the next page is {start}, but the "
            f"registry has {total} pages of this size: the checkpoint is damaged, or the "
            f"registry shrank since; nothing was touched (use --force to start over)"
        )


def _past_the_end(page: FacilityPage, stats: CrawlStats) -> bool:
    total = stats.total_page
    return not page.facilities and total is not None and (page.page or 0) > total


async def _commit(export: ExportFile, data: bytes, page: FacilityPage, stats: CrawlStats) -> None:
    # Disk writes and fsync run off the event loop, so fetching goes on meanwhile. A Ctrl-C
    # arriving now lets the commit finish first: the file is never closed under the thread.
    commit = asyncio.ensure_future(
        asyncio.to_thread(
            export.commit,
            data,
            next_page=(page.page or 0) + 1,
            facilities=len(page.facilities),
            total_page=stats.total_page,
        )
    )
    try:
        await asyncio.shield(commit)
    except asyncio.CancelledError:
        await commit
        raise
