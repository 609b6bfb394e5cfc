"""Where each pipeline stage's time goes, run after run on one worker: the agent
call (activity scheduled → completed), the workflow task's dispatch (scheduled
→ started) and its processing (started → completed), medians over 50 stages,
and the whole step (one activity scheduled → the next).

    python -m bench.dispatch                                  # Baton's worker (sticky cache on, the default)
    python -m bench.dispatch BATON_MAX_CACHED_WORKFLOWS=0     # every workflow task on the normal queue
    python -m bench.dispatch --floor                          # also: a plain temporalio worker, no-op activities
    python -m bench.dispatch --floor --sdk                    # also: the SDK's own timings (its Prometheus metrics)

``--sdk`` reads where a step's time is spent from the SDK's metrics, per task:
a workflow task waiting for the worker, the worker running it, the worker's
RPC completing it (the server recording the commands), the activity running
in the worker, and the RPC completing that.

The diagnostic behind the per-step row of BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import urllib.request

from temporalio.api.enums.v1 import EventType

from bench import measures
from bench.floor import run_floor
from bench.stack import Stack, free_port

# What --sdk reports, each label's mean ms per task: (label, metric, the RPC it is about).
SDK_TIMINGS = [("workflow task waits", "temporal_workflow_task_schedule_to_start_latency", None),
               ("workflow task in the worker", "temporal_workflow_task_execution_latency", None),
               ("its completion RPC (the server records it)", "temporal_request_latency", "RespondWorkflowTaskCompleted"),
               ("activity in the worker", "temporal_activity_execution_latency", None),
               ("the activity's completion RPC", "temporal_request_latency", "RespondActivityTaskCompleted")]

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


def sdk_timings(metrics: str) -> dict[str, float]:
    """Mean milliseconds per task of each of ``SDK_TIMINGS``, from a Prometheus scrape."""
    found = {}
    for label, metric, operation in SDK_TIMINGS:
        where = f'[^}}]*operation="{operation}"' if operation else ""
        sums, counts = ([float(v) for v in re.findall(rf"^{metric}_{part}{{{where}[^}}]*}} (\S+)$", metrics, re.M)]
                        for part in ("sum", "count"))
        found[label] = round(sum(sums) / max(sum(counts), 1) * 1000, 2)
    return found


def line(label: str, parts: dict[str, float]) -> str:
    return f"{label}: " + ", ".join(f"{name} {ms} ms" for name, ms in parts.items())


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


async def floor_runs(stack: Stack, sdk: bool) -> None:
    port, client = free_port(), None
    if sdk:  # the floor's worker runs in this process: a client on a runtime that serves metrics
        from temporalio.client import Client
        from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
        # Durations as seconds, as Baton's worker exports them (baton/telemetry.py): in milliseconds the
        # core records whole ones, and a no-op activity's time reads 0.
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}",
                                                                             durations_as_seconds=True)))
        client = await Client.connect(stack.address, runtime=runtime)
    for run, workflow_id in enumerate(await run_floor(stack, STAGES, RUNS, client), 1):
        print(line(f"floor run {run} (no-op activity)", await breakdown(stack, workflow_id)), flush=True)
    if sdk:
        print(line("floor SDK, mean per task", sdk_timings(scrape(port))), flush=True)


async def main(worker_env: dict[str, str], floor: bool, sdk: bool) -> None:
    stack = await Stack().start()
    port = free_port()
    try:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100", **({"BATON_METRICS_BIND": f"127.0.0.1:{port}"} if sdk else {}),
                                 **worker_env)
        stack.model(0.0)
        for run in range(1, RUNS + 1):
            workflow_id = await measures.run_pipeline(stack, STAGES)
            print(line(f"baton run {run}", await breakdown(stack, workflow_id)), flush=True)
        if sdk:
            print(line("baton SDK, mean per task", sdk_timings(scrape(port))), flush=True)
        if floor:
            await floor_runs(stack, sdk)
    finally:
        await stack.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(dict(arg.split("=", 1) for arg in args if "=" in arg), "--floor" in args, "--sdk" in args))
