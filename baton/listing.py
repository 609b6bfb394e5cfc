"""What `starter.py list` shows: one's runs from Temporal visibility, with the
tokens and cost each run reports (its ``status`` query, when a worker answers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowExecutionStatus

from baton import search
from baton.client import BatonError, status
from baton.contracts import Contract
from baton.patterns import find_pattern, runs_query

STATUS_TIMEOUT = 3.0  # seconds to wait for a run's own answer (no worker: shown without)


class RunRow(Contract):
    workflow_id: str
    pattern: str
    state: str
    started_at: datetime
    age_seconds: float
    tokens: int | None = None
    cost_usd: float | None = None


def visibility_query(active: bool, pattern: str | None) -> str:
    """Every Baton pattern's runs, or one pattern's; ``active``: running only."""
    try:
        query = runs_query([find_pattern(pattern)]) if pattern else runs_query()
    except ValueError as err:
        raise BatonError(str(err)) from None
    return query + (" AND ExecutionStatus = 'Running'" if active else "")


async def list_runs(client: Client, active: bool = False, pattern: str | None = None, limit: int = 20) -> list[RunRow]:
    """The newest ``limit`` runs, newest first."""
    now = datetime.now(UTC)
    rows: list[RunRow] = []
    async for run in client.list_workflows(visibility_query(active, pattern), limit=limit):
        live_state = run.typed_search_attributes.get(search.STATE) if run.status == WorkflowExecutionStatus.RUNNING else None
        closed = run.status.name.lower() if run.status is not None else "unknown"
        rows.append(RunRow(workflow_id=run.id, pattern=find_pattern(run.workflow_type).name, state=live_state or closed,
                           started_at=run.start_time, age_seconds=(now - run.start_time).total_seconds()))

    async def add_usage(row: RunRow) -> None:
        try:
            reported = await asyncio.wait_for(status(client, row.workflow_id), STATUS_TIMEOUT)
        except (BatonError, TimeoutError):
            return
        row.tokens, row.cost_usd = reported.usage.total_tokens, reported.usage.cost_usd

    await asyncio.gather(*(add_usage(row) for row in rows))
    return rows


def age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
