"""``satusehat kfa``: the KFA catalogue (medicines and medical devices) on the command line.

``kfa export -o FILE`` writes the whole catalogue (every product type unless
``--product-type``) as NDJSON or CSV, each product once and in order, with a checkpoint
beside the file after every page so an interrupted export continues with ``--resume``;
a thin layer over :meth:`client.kfa.export <satusehat_async.kfa.KFA.export>` (progress
on stderr, a one-line summary). ``kfa product CODE`` prints one product as JSON.

Exit codes: 0 done; 1 a runtime failure, or no such product (one line); 2 a usage error
or an output that may not be touched (one line, nothing sent); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from satusehat_async.cli.export_run import (
    add_output_arguments,
    await_export,
    check_output_options,
)
from satusehat_async.errors import ValidationError
from satusehat_async.kfa.query import IDENTIFIERS, MAX_PAGE_SIZE, PRODUCT_TYPES, ProductQuery

if TYPE_CHECKING:
    from satusehat_async.export.job import ExportResult
    from satusehat_async.kfa.pager import KfaCrawlStats

__all__ = ["PlainProgress", "register"]

HELP = "the KFA catalogue (medicines and medical devices): products, export"
_FILTER_FLAGS = ("farmalkes_type", "keyword", "template_code", "packaging_code")
_DATE_FLAGS = ("from_date", "to_date")


def _add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="export the catalogue as NDJSON or CSV, resumably",
        description="Crawl the KFA catalogue concurrently (farmasi, then alkes, unless "
        "--product-type) and write every product once, in order. With --output, progress "
        "is checkpointed beside the file (FILE.checkpoint.json) after every page so an "
        "interrupted export continues with --resume.",
    )
    f = export.add_argument_group("filters (the API's query parameters)")
    f.add_argument("--product-type", choices=PRODUCT_TYPES, help="one product type only")
    f.add_argument("--farmalkes-type", metavar="TYPE", help="e.g. medicine, vaccine, device")
    f.add_argument("--keyword", metavar="TEXT", help="a search text")
    f.add_argument("--template-code", metavar="CODE", help="a template KFA code (92…/82…)")
    f.add_argument("--packaging-code", metavar="CODE", help="a packaging KFA code (94…/84…)")
    f.add_argument("--from-date", metavar="YYYY-MM-DD", help="updated on or after")
    f.add_argument("--to-date", metavar="YYYY-MM-DD", help="updated on or before")
    o = add_output_arguments(export, page_size=100, max_page_size=MAX_PAGE_SIZE, what="export")
    o.add_argument(
        "--progress",
        choices=("auto", "plain", "none"),
        default="auto",
        help="progress on stderr: auto (a bar on a terminal), plain lines, or none",
    )
    export.set_defaults(func=export_command)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``kfa export`` and ``kfa product`` to the command line."""
    kfa = subparsers.add_parser("kfa", help=HELP)
    commands = kfa.add_subparsers(dest="kfa_command", metavar="SUBCOMMAND")
    commands.required = True
    _add_export(commands)
    product = commands.add_parser(
        "product",
        help="print one product as JSON (by KFA, NIE or LKPP code)",
        description="Look one product up and print it as JSON. Exit 1 if there is none.",
    )
    product.add_argument("code", metavar="CODE", help="the product's code")
    product.add_argument(
        "--identifier", choices=IDENTIFIERS, default="kfa", help="the code's system (default kfa)"
    )
    product.set_defaults(func=product_command)


def _usage(message: str) -> Exception:
    from satusehat_async.cli.main import fail

    return fail(message)


# Filter names without an underscore are left alone by the entry point's renaming (they
# could be prose); in a filter's message they are the parameter.
_PLAIN_NAME = re.compile(r"^(keyword)\b")


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    """The filter flags given, by the library's parameter names, checked.

    Raises:
        CliUsageError: a filter the API would refuse (its message names the flag).
    """
    names = ("product_type", *_FILTER_FLAGS, *_DATE_FLAGS)
    filters = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        ProductQuery.build(**filters)
    except ValidationError as exc:
        raise _usage(_PLAIN_NAME.sub(r"--\1", str(exc))) from None
    return filters


class PlainProgress:
    """Export progress as plain lines on stderr: at most one every ``interval`` seconds
    (and always the first)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.clock = interval, clock
        self._shown_at: float | None = None

    def __call__(self, result: ExportResult, stats: KfaCrawlStats) -> None:
        now = self.clock()
        if self._shown_at is not None and now - self._shown_at < self.interval:
            return
        self._shown_at = now
        total = f"/{stats.total:,}" if stats.total is not None and not result.rows_before else ""
        rate = stats.products / stats.elapsed if stats.elapsed else 0.0
        print(
            f"kfa export: {stats.product_type} page {(stats.next_page or 2) - 1}, "
            f"{result.rows_total:,}{total} products ({rate:,.0f}/s)",
            file=self.stream,
            flush=True,
        )


class _RichProgress:
    """A rich bar over the products (the total grows as each type's first page tells it)."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None

    def __call__(self, result: ExportResult, stats: KfaCrawlStats) -> None:
        done = result.rows_total
        total = max(result.rows_before + (stats.total or 0), done, 1)
        rate = stats.products / stats.elapsed if stats.elapsed else 0.0
        fields = {"kind": stats.product_type or "", "rate": rate}
        if self.task is None:
            self.task = self.progress.add_task("export", total=total, **fields)
        self.progress.update(self.task, completed=done, total=total, **fields)


Show = Callable[["ExportResult", "KfaCrawlStats"], None]


@contextlib.contextmanager
def _progress(mode: str) -> Iterator[Show | None]:
    """What shows progress: a rich bar (auto, on a terminal, rich installed), plain lines
    (``plain``, or auto without rich), or nothing."""
    if mode == "none" or (mode == "auto" and not sys.stderr.isatty()):
        yield None
        return
    try:
        if mode == "plain":
            raise ImportError
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
    except ImportError:
        yield PlainProgress()
        return
    columns = (
        TextColumn("{task.fields[kind]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("products ({task.fields[rate]:,.0f}/s)"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _RichProgress(bar)


def _summary(result: ExportResult, target: str) -> str:
    stats: KfaCrawlStats = result.stats  # type: ignore[assignment]
    types = ", ".join(f"{kind} {part.items:,}" for kind, part in stats.by_type.items())
    resumed = ""
    if result.resumed_from is not None:
        kind, page = result.resumed_from
        resumed = f"; resumed at {kind or 'the start'} page {page}"
    note = ""
    if stats.possibly_incomplete:
        note = "; WARNING: the catalogue shrank during the export: export again to be sure"
    return (
        f"kfa export: {result.rows_total:,} products in {target} ({types or 'none new'}; "
        f"{stats.products:,} new from {stats.pages} pages, {stats.duplicates_skipped} "
        f"duplicates skipped, {stats.retries} retries{resumed}) in {stats.elapsed:.1f}s{note}"
    )


async def export_command(args: argparse.Namespace) -> int:
    """Run ``satusehat kfa export``; returns the exit code."""
    from satusehat_async.cli.main import client_from_args

    filters = _filters(args)
    check_output_options(args, max_page_size=MAX_PAGE_SIZE)
    target = str(args.output) if args.output is not None else "stdout"
    async with client_from_args(args) as client:
        with _progress(args.progress) as show:

            def on_page(result: ExportResult) -> None:
                if show is not None:
                    show(result, result.stats)  # type: ignore[arg-type]

            export = client.kfa.export(
                args.output if args.output is not None else sys.stdout.buffer,
                format=args.format,
                resume=args.resume,
                force=args.force,
                page_size=args.page_size,
                concurrency=args.concurrency,
                on_page=on_page,
                **filters,
            )
            outcome = await await_export(
                export, target=target, rows_name="products", to_file=args.output is not None
            )
    if isinstance(outcome, int):
        return outcome
    result = outcome
    if result.already_complete:
        print(f"kfa export: {args.output} is already complete", file=sys.stderr)
        return 0
    print(_summary(result, target), file=sys.stderr)
    return 0


async def product_command(args: argparse.Namespace) -> int:
    """Run ``satusehat kfa product CODE``: the product as JSON, or exit 1 if none."""
    import msgspec

    from satusehat_async.cli.main import client_from_args

    async with client_from_args(args) as client:
        product = await client.kfa.product(args.code, identifier=args.identifier)
    if product is None:
        print(
            f"satusehat: no KFA product with {args.identifier} code {args.code!r}", file=sys.stderr
        )
        return 1
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(product), indent=2).decode() + "\n")
    return 0
