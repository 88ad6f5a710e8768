"""``satusehat onboard FILE.csv``: the organization's structure and locations from a sheet.

Each row is a sub-organization or a location (the columns:
:mod:`satusehat_async.cli.onboard_plan`). Rows are created parents first, whatever their
order, each once: idempotent by its identifier, so a second run creates nothing ("0
created, N already there") and a run killed half-way is finished by running it again (no
checkpoint file is needed: a row already there costs one search and is not sent again).
Bad rows are refused with their line number and reason, one line each, and the others go
ahead; a row the server refuses is reported the same way.

Exit codes: 0 every row created or already there; 1 a row was refused (or the run
failed); 2 a usage error (no such columns, no organization id: nothing sent).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from satusehat_async.cli import main as cli
from satusehat_async.cli.main import fail
from satusehat_async.cli.onboard_plan import COLUMNS, OnboardPlan, read_plan
from satusehat_async.cli.onboard_progress import row_progress
from satusehat_async.cli.onboard_run import OnboardSummary, RowOutcome, run_plan
from satusehat_async.errors import ValidationError
from satusehat_async.redact import redact_niks

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``onboard`` to the ``satusehat`` command line."""
    parser = subparsers.add_parser(
        "onboard",
        help="create sub-organizations and locations from a CSV file (idempotent)",
        description="Create the organization structure and locations in FILE (CSV with a "
        f"header row; columns: {', '.join(COLUMNS)}; required: kind, identifier, name). "
        "Parents first, each row once: run it again to finish an interrupted run. "
        "Exit 0: every row created or already there; 1: some row refused; 2: usage error.",
    )
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the spreadsheet (CSV)")
    parser.add_argument("--dry-run", action="store_true", help="check the rows; send nothing")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="creates in flight at once (default 4)"
    )
    parser.add_argument(
        "--report", type=Path, metavar="OUT.csv", help="write each row's outcome and id here"
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "plain", "none"),
        default="auto",
        help="progress on stderr: auto (a bar on a terminal), plain lines, or none",
    )
    parser.set_defaults(func=onboard_command)


def _plan(args: argparse.Namespace, organization_id: str | None) -> OnboardPlan:
    if organization_id is None:
        raise fail(
            "onboard needs the organization id (SATUSEHAT_ORGANIZATION_ID): the rows' "
            "identifiers are the organization's"
        )
    try:
        text = args.file.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except OSError as exc:
        raise fail(redact_niks(f"cannot read {args.file}: {exc.strerror or exc}")) from None
    except UnicodeDecodeError:
        raise fail(f"{args.file} is not UTF-8 text (save the sheet as CSV UTF-8)") from None
    try:
        return read_plan(text, organization_id)
    except ValidationError as exc:
        raise fail(f"{args.file}: {exc}") from None


def _refusal(outcome: RowOutcome) -> str:
    row = outcome.row
    what = f"{row.kind or 'row'} {row.identifier!r}" if row.identifier else "row"
    return redact_niks(f"satusehat: line {row.line}: {what} refused: {outcome.reason}")


def _write_report(path: Path, summary: OnboardSummary) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "kind", "identifier", "id", "outcome", "reason"])
        for o in sorted(summary.outcomes, key=lambda o: o.row.line):
            row = o.row
            writer.writerow(
                [row.line, row.kind, row.identifier, o.id or "", o.status, o.reason or ""]
            )


def _dry_run(plan: OnboardPlan) -> int:
    for row in plan.refused:
        print(_refusal(RowOutcome(row, "refused", reason=row.refused)), file=sys.stderr)
    ready = [r for level in plan.levels for r in level]
    kinds = {k: sum(1 for r in ready if r.kind == k) for k in ("organization", "location")}
    print(
        f"onboard: dry run: {len(plan.rows)} rows: {len(ready)} to create or find "
        f"({kinds['organization']} organizations, {kinds['location']} locations, "
        f"{len(plan.levels)} levels), {len(plan.refused)} refused; nothing was sent"
    )
    return 1 if plan.refused else 0


async def _run(
    client: SatuSehatClient, plan: OnboardPlan, args: argparse.Namespace
) -> OnboardSummary:
    terminal = args.progress == "auto" and sys.stderr.isatty()
    mode = "plain" if args.progress == "plain" else "bar" if terminal else None
    with row_progress(mode, len(plan.rows)) as display:
        summary = OnboardSummary()

        def report(outcome: RowOutcome) -> None:
            summary.outcomes.append(outcome)
            if display is not None:
                display.show(summary)

        assert client.organization_id is not None
        await run_plan(
            client,
            plan,
            organization_id=client.organization_id,
            concurrency=args.concurrency,
            report=report,
        )
    return summary


async def onboard_command(args: argparse.Namespace) -> int:
    """Run ``satusehat onboard``."""
    if args.concurrency < 1:
        raise fail("--concurrency must be at least 1")
    async with cli.client_from_args(args) as client:
        plan = _plan(args, client.organization_id)
        if args.dry_run:
            return _dry_run(plan)
        summary = await _run(client, plan, args)
    for outcome in summary.refused:
        print(_refusal(outcome), file=sys.stderr)
    if args.report is not None:
        _write_report(args.report, summary)
    print(f"onboard: {summary.line()}")
    return 1 if summary.count("refused") else 0
