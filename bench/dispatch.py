"""Where each pipeline stage's time goes, run after run on one worker: the agent
call (activity scheduled → completed), the workflow task's dispatch (scheduled
→ started) and its processing (started → completed), medians over 50 stages.

    python -m bench.dispatch                                  # sticky cache on (the default)
    python -m bench.dispatch BATON_MAX_CACHED_WORKFLOWS=0     # every workflow task on the normal queue

The diagnostic behind the per-step row of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys

from temporalio.api.enums.v1 import EventType

from baton.contracts import PipelineInput, StageSpec
from bench import measures
from bench.stack import Stack


async def stage_breakdown(stack: Stack, stages: int = 50) -> dict[str, float]:
    inp = PipelineInput(goal="g", stages=[StageSpec(name=f"s{i:02}", agent="researcher") for i in range(stages)])
    _, workflow_id = await measures.run_and_time(stack, inp)
    parts: dict[str, list[float]] = {"agent call": [], "task dispatch": [], "task processing": []}
    marks: dict[int, float] = {}
    async for event in stack.client.get_workflow_handle(workflow_id).fetch_history_events():
        at = event.event_time.ToDatetime().timestamp() * 1000
        kind = event.event_type
        marks[kind] = at
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            parts["agent call"].append(at - marks[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            parts["task dispatch"].append(at - marks[EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED])
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            parts["task processing"].append(at - marks[EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED])
    return {name: round(statistics.median(values), 1) for name, values in parts.items()}


async def main(worker_env: dict[str, str]) -> None:
    stack = await Stack().start()
    try:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100", **worker_env)
        stack.model(0.0)
        for run in range(1, 4):
            print(f"run {run}: " + ", ".join(f"{k} {v} ms" for k, v in (await stage_breakdown(stack)).items()))
    finally:
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main(dict(arg.split("=", 1) for arg in sys.argv[1:])))
