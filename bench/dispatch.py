"""Where each pipeline stage's time goes, run after run on one worker: the agent
call (activity scheduled → completed), the workflow task's dispatch (scheduled
→ started) and its processing (started → completed), medians over 50 stages,
and the whole step (one activity scheduled → the next).

    python -m bench.dispatch                                  # Baton's worker (sticky cache on, the default)
    python -m bench.dispatch BATON_MAX_CACHED_WORKFLOWS=0     # every workflow task on the normal queue
    python -m bench.dispatch --floor                          # also: a plain temporalio worker, no-op activities

The diagnostic behind the per-step row of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys

from temporalio.api.enums.v1 import EventType

from bench import measures
from bench.floor import run_floor
from bench.stack import Stack

RUNS, STAGES = 3, 50


async def breakdown(stack: Stack, workflow_id: str) -> dict[str, float]:
    parts: dict[str, list[float]] = {"agent call": [], "task dispatch": [], "task processing": [], "step": []}
    marks: dict[int, float] = {}
    async for event in stack.client.get_workflow_handle(workflow_id).fetch_history_events():
        at = event.event_time.ToDatetime().timestamp() * 1000
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and kind in marks:
            parts["step"].append(at - marks[kind])
        marks[kind] = at
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            parts["agent call"].append(at - marks[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            parts["task dispatch"].append(at - marks[EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            parts["task processing"].append(at - marks[EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED])
    return {name: round(statistics.median(values), 1) for name, values in parts.items()}


def line(label: str, parts: dict[str, float]) -> str:
    return f"{label}: " + ", ".join(f"{name} {ms} ms" for name, ms in parts.items())


async def main(worker_env: dict[str, str], floor: bool) -> None:
    stack = await Stack().start()
    try:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100", **worker_env)
        stack.model(0.0)
        for run in range(1, RUNS + 1):
            workflow_id = await measures.run_pipeline(stack, STAGES)
            print(line(f"baton run {run}", await breakdown(stack, workflow_id)), flush=True)
        if floor:
            for run, workflow_id in enumerate(await run_floor(stack, STAGES, RUNS), 1):
                print(line(f"floor run {run} (no-op activity)", await breakdown(stack, workflow_id)), flush=True)
    finally:
        await stack.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(dict(arg.split("=", 1) for arg in args if "=" in arg), "--floor" in args))
