"""``satusehat onboard``: the plan carried out, level by level, and what became of each row.

Each level's rows are created concurrently (``concurrency`` at a time) once every row
they name exists: a row's parents' ids come from the creates of the levels before. A
create is idempotent by the row's identifier, so a row already there (an earlier run,
finished or killed) is ``existed``, and a second run creates nothing. A row whose create
failed (the server refused it, or the retries ran out) is ``refused`` with the error's
one line, and so is every row under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from satusehat_async.cli.onboard_plan import OnboardPlan, Row, resource_for
from satusehat_async.errors import SatuSehatError, ValidationError

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient

__all__ = ["OnboardSummary", "RowOutcome", "run_plan"]

Status = Literal["created", "existed", "refused"]


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: ``created``, ``existed`` (already there) or ``refused``."""

    row: Row
    status: Status
    id: str | None = None
    reason: str | None = None


@dataclass
class OnboardSummary:
    """Every row's outcome, in the order they were settled."""

    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many rows ended ``status``."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def refused(self) -> list[RowOutcome]:
        """The refused rows, by line."""
        return sorted((o for o in self.outcomes if o.status == "refused"), key=lambda o: o.row.line)

    def line(self) -> str:
        """``40 rows: 38 created, 0 already there, 2 refused``."""
        return (
            f"{len(self.outcomes)} rows: {self.count('created')} created, "
            f"{self.count('existed')} already there, {self.count('refused')} refused"
        )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, ValidationError) else f"{type(error).__name__}: {text}"


class _Runner:
    def __init__(
        self,
        client: SatuSehatClient,
        organization_id: str,
        concurrency: int,
        report: Callable[[RowOutcome], None],
    ) -> None:
        self.client, self.organization_id = client, organization_id
        self.gate = asyncio.Semaphore(concurrency)
        self.ids: dict[tuple[str, str], str] = {}
        self.failed: dict[tuple[str, str], int] = {}  # key -> line, of rows refused
        self.summary = OnboardSummary()
        self._report = report

    def settle(self, outcome: RowOutcome) -> None:
        self.summary.outcomes.append(outcome)
        if outcome.status == "refused":
            self.failed[outcome.row.key] = outcome.row.line
        elif outcome.id is not None:
            self.ids[outcome.row.key] = outcome.id
        self._report(outcome)

    def _missing(self, row: Row) -> str | None:
        for key in row.depends:
            if key not in self.ids:
                line = self.failed.get(key)
                where = f" (line {line})" if line is not None else ""
                return f"{key[0]} {key[1]!r}{where} was not created"
        return None

    async def create(self, row: Row) -> RowOutcome:
        missing = self._missing(row)
        if missing is not None:
            return RowOutcome(row, "refused", reason=missing)
        try:
            resource = resource_for(row, self.organization_id, self.ids)
            api = self.client.organizations if row.kind == "organization" else self.client.locations
            async with self.gate:
                result = await api.create(resource)
        except SatuSehatError as error:
            return RowOutcome(row, "refused", reason=_one_line(error))
        return RowOutcome(row, "created" if result.created else "existed", id=result.id)

    async def level(self, rows: list[Row]) -> None:
        async def one(row: Row) -> None:
            self.settle(await self.create(row))

        await asyncio.gather(*(one(row) for row in rows))


async def run_plan(
    client: SatuSehatClient,
    plan: OnboardPlan,
    *,
    organization_id: str,
    concurrency: int = 4,
    report: Callable[[RowOutcome], None] = lambda outcome: None,
) -> OnboardSummary:
    """Create the plan's rows, parents first; ``report`` hears of each row as it settles
    (the rows refused before sending first)."""
    runner = _Runner(client, organization_id, concurrency, report)
    for row in plan.refused:
        runner.settle(RowOutcome(row, "refused", reason=row.refused))
    for rows in plan.levels:
        await runner.level(rows)
    return runner.summary
