"""Where the fan-out row's time goes beyond its limit ⌈N/C⌉·L: the start (until
the first agent call is scheduled), each call's own overhead (started →
completed, less the model's latency), and the restart lag (a call completes →
the call taking its slot is scheduled), from the run's history.

    python -m bench.waves        # the fan-out row's run: 100 agents × 1 s, max_parallel 20, twice

The diagnostic behind the fan-out row of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import math
import statistics

from temporalio.api.enums.v1 import EventType

from baton.contracts import FanOutInput, TaskSpec
from bench import measures
from bench.stack import Stack

AGENTS, PARALLEL, LATENCY = 100, 20, 1.0


async def wave_breakdown(stack: Stack, workflow_id: str) -> str:
    events = [e async for e in stack.client.get_workflow_handle(workflow_id).fetch_history_events()]
    began = events[0].event_time.ToDatetime()

    def ms(event) -> float:
        return (event.event_time.ToDatetime() - began).total_seconds() * 1000

    scheduled = sorted(ms(e) for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    started = {e.activity_task_started_event_attributes.scheduled_event_id: ms(e)
               for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED}
    completed = {e.activity_task_completed_event_attributes.scheduled_event_id: ms(e)
                 for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED}
    call_overhead = [completed[i] - started[i] - LATENCY * 1000 for i in completed]
    done = sorted(completed.values())
    restart_lag = [scheduled[PARALLEL + i] - done[i] for i in range(len(done) - PARALLEL)]
    tasks = sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    return (f"first call scheduled at {scheduled[0]:.0f} ms; call overhead p50 {statistics.median(call_overhead):.0f} ms "
            f"(max {max(call_overhead):.0f}); restart lag p50 {statistics.median(restart_lag):.0f} ms "
            f"(p95 {measures.percentile(restart_lag, 95):.0f}); {tasks} workflow tasks")


async def main() -> None:
    stack = await Stack().start()
    try:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
        stack.model(LATENCY)
        tasks = [TaskSpec(id=f"t{i}", agent="researcher", prompt="p") for i in range(AGENTS)]
        for run in (1, 2):
            wall, workflow_id = await stack.run(FanOutInput(goal="g", tasks=tasks, max_parallel=PARALLEL, synthesizer=None))
            limit = math.ceil(AGENTS / PARALLEL) * LATENCY
            print(f"run {run}: {wall:.2f} s ÷ {limit:.2f} s = {wall / limit:.3f}; {await wave_breakdown(stack, workflow_id)}", flush=True)
    finally:
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
