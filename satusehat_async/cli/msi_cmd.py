"""``satusehat msi crawl``: export the facility registry as NDJSON or CSV, resumably.

A thin layer over :meth:`client.msi.export <satusehat_async.msi.MSI.export>`: flags in,
progress and a summary out. The filter flags come from the filter vocabulary
(:data:`satusehat_async.msi.query.FILTERS`); :func:`add_filter_arguments` and
:func:`query_from_args` give them to other ``msi`` subcommands (``msi sync``). The
library's messages name its parameters (``use force=True``); the entry point says the
flags instead (``use --force``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

from satusehat_async.cli.export_run import (
    add_output_arguments,
    await_export,
    check_output_options,
)
from satusehat_async.cli.msi_progress import (
    PlainProgress,
    ProgressDisplay,
    advance_progress,
    crawl_progress,
)
from satusehat_async.errors import ValidationError
from satusehat_async.msi.query import FILTERS, MAX_PAGE_SIZE, FacilityQuery

if TYPE_CHECKING:
    from rich.progress import TaskID

    from satusehat_async.export.job import ExportResult
    from satusehat_async.msi.filters import FacilityFilters
    from satusehat_async.msi.stats import CrawlStats
    from satusehat_async.paging.stats import PageStats

__all__ = [
    "PlainProgress",
    "ProgressDisplay",
    "add_filter_arguments",
    "advance_progress",
    "crawl_progress",
    "query_from_args",
    "register",
]

_SYNC_MODULE = "satusehat_async.cli.msi_sync_cmd"


def add_filter_arguments(parser: argparse.ArgumentParser, *, exclude: Collection[str] = ()) -> None:
    """Add one flag per MSI filter (``--kode-provinsi``...; dest: the parameter name),
    except the filters named in ``exclude``."""
    group = parser.add_argument_group("filters (the API's query parameters)")
    for spec in FILTERS:
        if spec.name in exclude:
            continue
        options: dict[str, Any] = {"dest": spec.name, "metavar": spec.metavar, "help": spec.help}
        if spec.repeated:
            options["action"] = "append"
        group.add_argument(spec.cli_flag, **options)


def query_from_args(args: argparse.Namespace) -> FacilityQuery:
    """The validated query of the filter flags :func:`add_filter_arguments` added.

    Raises:
        ValidationError: a filter value the API would refuse; its message names the
            flags (``--updated-from``, not ``lower_bound_updated_at``).
    """
    try:
        values = {spec.name: spec.cli_value(getattr(args, spec.name, None)) for spec in FILTERS}
        return FacilityQuery.build(**cast("FacilityFilters", values))
    except ValidationError as exc:
        raise ValidationError(_FILTER_NAME.sub(lambda m: _FLAGS[m.group(1)], str(exc))) from None


# Every filter name is a parameter in a library message (even one without an underscore,
# such as "nama", which the entry point's generic renaming leaves alone as possible prose).
_FLAGS = {spec.name: spec.cli_flag for spec in FILTERS}
_FILTER_NAME = re.compile(r"(?<![\w-])(" + "|".join(sorted(_FLAGS, key=len, reverse=True)) + r")\b")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``msi crawl`` (and ``msi sync``, where installed) to the command line."""
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
    add_filter_arguments(crawl)
    add_output_arguments(crawl, page_size=MAX_PAGE_SIZE, max_page_size=MAX_PAGE_SIZE, what="crawl")
    crawl.set_defaults(func=crawl_command)
    if importlib.util.find_spec(_SYNC_MODULE) is not None:
        importlib.import_module(_SYNC_MODULE).register(commands)


def _summary(stats: PageStats, total: int, target: str) -> str:
    changed = " (total_page changed during the crawl)" if stats.total_page_changed else ""
    if stats.stale_total_page:
        changed += (
            f" (total_page {stats.total_page} was over-reported: stopped after "
            f"{stats.empty_pages} empty page(s) past the data)"
        )
    note = ""
    if stats.possibly_incomplete:
        note = (
            "; WARNING: the registry shrank during the crawl, so some facilities may be "
            "missing (offset paging): crawl again to be sure"
        )
    return (
        f"msi crawl: {total:,} facilities in {target} ({stats.items:,} new from "
        f"{stats.pages} pages, {stats.duplicates_skipped} duplicates skipped, "
        f"{stats.retries} retries) in {stats.elapsed:.1f}s{changed}{note}"
    )


class _Progress:
    """Feeds the export's live result to the progress display, page by page."""

    def __init__(self, display: ProgressDisplay | None) -> None:
        self.display = display
        self.task: TaskID | None = None

    def __call__(self, result: ExportResult) -> None:
        if self.display is not None:
            stats = cast("CrawlStats", result.stats)
            start = result.resumed_from_page or 1
            self.task = advance_progress(self.display, self.task, stats, start)


async def crawl_command(args: argparse.Namespace) -> int:
    """Run ``satusehat msi crawl``; returns the exit code."""
    from satusehat_async.cli.main import client_from_args

    query = query_from_args(args)
    check_output_options(args, max_page_size=MAX_PAGE_SIZE)
    target = str(args.output) if args.output is not None else "stdout"
    async with client_from_args(args) as client:
        with crawl_progress(sys.stderr.isatty()) as display:
            export = client.msi.export(
                args.output if args.output is not None else sys.stdout.buffer,
                format=args.format,
                resume=args.resume,
                force=args.force,
                page_size=args.page_size,
                concurrency=args.concurrency,
                on_page=_Progress(display),
                query=query,
            )
            outcome = await await_export(
                export, target=target, rows_name="facilities", to_file=args.output is not None
            )
    if isinstance(outcome, int):
        return outcome
    result = outcome
    if result.already_complete:
        print(f"msi crawl: {args.output} is already complete", file=sys.stderr)
        return 0
    print(_summary(result.stats, result.rows_total, target), file=sys.stderr)
    return 0
