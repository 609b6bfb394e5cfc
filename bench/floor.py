"""The floor under the per-step row: the same dev server and SDK with no Baton in
the way. A plain ``temporalio`` worker (in this process, sandboxed as usual)
runs a workflow of sequential no-op activities; ``bench.dispatch`` splits its
steps the way it splits a Baton pipeline's, so the two can be read side by side."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

if TYPE_CHECKING:  # not imported at run time: the sandbox re-imports this module for each run
    from bench.stack import Stack


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class NoopSteps:
    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))
        return steps


async def run_floor(stack: Stack, steps: int, runs: int, client: Client | None = None) -> list[str]:
    """``runs`` runs of ``steps`` no-op steps, one after the other on one worker (on
    ``client``, else the stack's): their workflow ids."""
    client = client or stack.client
    queue = f"floor-{uuid.uuid4().hex[:6]}"
    ids = []
    async with Worker(client, task_queue=queue, workflows=[NoopSteps], activities=[noop]):
        for _ in range(runs):
            workflow_id = f"floor-{uuid.uuid4().hex[:8]}"
            await client.execute_workflow(NoopSteps.run, steps, id=workflow_id, task_queue=queue)
            ids.append(workflow_id)
    return ids
