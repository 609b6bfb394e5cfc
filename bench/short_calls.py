"""What local activities would give an agent call, on a plain ``temporalio`` worker
beside the same steps as activities: the diagnostic behind the per-step gap in
BENCHMARKS.md (issue 19, point 3).

    python -m bench.short_calls

Each step is one streamed ``openai`` call to the simulated model (answering at
once), 50 steps a run, alternated: as activities (one workflow task and one
activity task per step, each recorded before the next step starts), as local
activities (run by the workflow's worker inside its workflow task; the SDK
records their markers when the task completes). Prints ms per step and what the
history holds: its events and its workflow tasks, that is, how many completed
calls a crash could make again (those since the last completed workflow task).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import openai

    from bench.stack import Stack

STEPS, RUNS = 50, 3


class ModelCaller:
    """One client for the process, as Baton's worker keeps."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client

    @activity.defn(name="call_model")
    async def call_model(self, stage: str) -> str:
        stream = await self.client.chat.completions.create(
            model="sim", messages=[{"role": "user", "content": f"Goal:\ng\n\nYour stage: {stage}"}],
            max_tokens=64, stream=True)
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


@workflow.defn
class CallSteps:
    @workflow.run
    async def run(self, steps: int, local: bool) -> int:
        for step in range(steps):
            stage = f"{workflow.info().workflow_id}-s{step}"
            if local:
                await workflow.execute_local_activity("call_model", stage, start_to_close_timeout=timedelta(seconds=30))
            else:
                await workflow.execute_activity("call_model", stage, start_to_close_timeout=timedelta(seconds=30))
        return steps


async def one_run(stack: Stack, queue: str, local: bool) -> str:
    workflow_id = f"short-{'local' if local else 'activity'}-{uuid.uuid4().hex[:6]}"
    began = time.monotonic()
    await stack.client.execute_workflow(CallSteps.run, args=[STEPS, local], id=workflow_id, task_queue=queue)
    wall = time.monotonic() - began
    events = [e.event_type async for e in stack.client.get_workflow_handle(workflow_id).fetch_history_events()]
    tasks = events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    return (f"{'local activities' if local else 'activities'}: {wall / STEPS * 1000:.1f} ms per step (wall ÷ {STEPS}), "
            f"{len(events)} history events, workflow tasks completed: {tasks} for {STEPS} calls")


async def main() -> None:
    stack = await Stack().start()
    try:
        stack.model(0.0)
        caller = ModelCaller(openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{stack.model_port}/v1", api_key="bench", max_retries=0))
        queue = f"short-{uuid.uuid4().hex[:6]}"
        async with Worker(stack.client, task_queue=queue, workflows=[CallSteps], activities=[caller.call_model]):
            for run in range(1, RUNS + 1):
                for local in (False, True):
                    print(f"run {run}, " + await one_run(stack, queue, local), flush=True)
    finally:
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
