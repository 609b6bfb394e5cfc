"""Each benchmark row: run it on the stack, return the figure, its target and
the verdict. Every timing is a ratio or a percentile from the same run."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
import uuid
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError

from baton import client as baton
from baton.contracts import FanOutInput, FlowInput, MapReduceInput, PipelineInput, StageSpec, TaskSpec
from bench.floor import run_floor
from bench import versus
from bench.stack import QUEUE, Stack


@dataclass
class Row:
    measure: str
    figure: str
    target: str
    passed: bool | None  # None: reported, no target

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "—"}[self.passed]


@dataclass
class Sizes:
    pipeline_stages: int = 50
    fanout_agents: int = 100
    fanout_latency: float = 1.0
    dag_latency: float = 0.5
    throughput_agents: int = 500
    map_items: int = 10_000
    open_workflows: int = 1_000
    recovery_latency: float = 1.0
    recovery_steps: int = 10
    versus_steps: int = 50
    versus_calls: int = 200
    versus_rounds: int = 5
    versus_crash_rounds: int = 3


SMOKE = Sizes(pipeline_stages=5, fanout_agents=10, fanout_latency=0.2, dag_latency=0.1,
              throughput_agents=40, map_items=300, open_workflows=20, recovery_latency=0.5, recovery_steps=4,
              versus_steps=5, versus_calls=20, versus_rounds=1, versus_crash_rounds=1)


async def per_step_overhead(stack: Stack, sizes: Sizes) -> Row:
    """Two pipelines one after the other on one worker (the first run is shown, the
    later one judged), and beside them the floor: the same steps as no-op
    activities on a plain ``temporalio`` worker, same server, same run."""
    stack.model(0.0)
    first, later = [await _step_times(stack, await run_pipeline(stack, sizes.pipeline_stages)) for _ in range(2)]
    (floor_id,) = await run_floor(stack, sizes.pipeline_stages, runs=1)
    floor = await _step_times(stack, floor_id)
    p50, p95 = statistics.median(later), percentile(later, 95)
    return Row(f"per-step overhead ({sizes.pipeline_stages}-stage pipeline, 0 s agents)",
               f"p50 {p50:.1f} ms, p95 {p95:.1f} ms per stage (first run on a fresh worker: p50 {statistics.median(first):.1f}, "
               f"p95 {percentile(first, 95):.1f}; plain-SDK floor, no-op activities: p50 {statistics.median(floor):.1f})",
               "p50 ≤ 20 ms, p95 ≤ 50 ms", p50 <= 20 and p95 <= 50)


async def flow_overhead(stack: Stack, sizes: Sizes) -> Row:
    """A linear flow of agent nodes next to a pipeline of as many stages, alternated
    (pipeline, flow, pipeline, flow) on one worker: the flow's per-node cost (its
    scheduler, the memo change recording each edge) against the pipeline's per stage."""
    stack.model(0.0)
    steps = sizes.pipeline_stages
    nodes = [{"id": f"s{i:02}", "kind": "agent", "agent": "researcher"} for i in range(steps)]
    edges = [{"from": f"s{i:02}", "to": f"s{i + 1:02}"} for i in range(steps - 1)]
    flow = FlowInput.model_validate({"goal": "g", "start": "s00", "nodes": nodes, "edges": edges})
    pipeline_times, flow_times = [], []
    for _ in range(2):
        pipeline_times += await _step_times(stack, await run_pipeline(stack, steps))
        flow_times += await _step_times(stack, (await stack.run(flow))[1])
    pipeline_p50, flow_p50 = statistics.median(pipeline_times), statistics.median(flow_times)
    ratio = flow_p50 / pipeline_p50
    return Row(f"flow per-node overhead ({steps}-node linear flow beside a {steps}-stage pipeline, 0 s agents)",
               f"flow p50 {flow_p50:.1f} ms per node (p95 {percentile(flow_times, 95):.1f}) ÷ pipeline p50 "
               f"{pipeline_p50:.1f} ms per stage = {ratio:.2f}", "≤ 1.5", ratio <= 1.5)


async def run_pipeline(stack: Stack, stages: int) -> str:
    inp = PipelineInput(goal="g", stages=[StageSpec(name=f"s{i:02}", agent="researcher") for i in range(stages)])
    _, workflow_id = await stack.run(inp)
    return workflow_id


async def _step_times(stack: Stack, workflow_id: str) -> list[float]:
    """Per step: the time between consecutive ``ActivityTaskScheduled`` events."""
    scheduled = [e.event_time.ToDatetime() async for e in stack.client.get_workflow_handle(workflow_id).fetch_history_events()
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    return [(b - a).total_seconds() * 1000 for a, b in zip(scheduled, scheduled[1:])]


async def fanout_efficiency(stack: Stack, sizes: Sizes, parallel: int = 20) -> Row:
    stack.model(sizes.fanout_latency)
    tasks = [TaskSpec(id=f"t{i}", agent="researcher", prompt="p") for i in range(sizes.fanout_agents)]
    wall, _ = await stack.run(FanOutInput(goal="g", tasks=tasks, max_parallel=parallel, synthesizer=None))
    limit = math.ceil(sizes.fanout_agents / parallel) * sizes.fanout_latency
    ratio = wall / limit
    return Row(f"fan-out efficiency ({sizes.fanout_agents} agents × {sizes.fanout_latency:g} s, max_parallel {parallel})",
               f"{wall:.2f} s ÷ limit {limit:.2f} s = {ratio:.3f}", "≤ 1.10", ratio <= 1.10)


def layered_plan(agent: str, layers: int = 4, width: int = 5) -> dict:
    """A planner's answer: ``layers`` × ``width`` tasks of ``agent``, each needing the whole layer before."""
    tasks = []
    for layer in range(layers):
        for n in range(width):
            tasks.append({"id": f"l{layer}t{n}", "agent": agent, "prompt": f"part {n}",
                          "depends_on": [f"l{layer - 1}t{m}" for m in range(width)] if layer else []})
    return {"tasks": tasks}


async def calls_per_second(stack: Stack, sizes: Sizes) -> float:
    stack.model(0.0)
    tasks = [TaskSpec(id=f"t{i}", agent="researcher", prompt="p") for i in range(sizes.throughput_agents)]
    wall, _ = await stack.run(FanOutInput(goal="g", tasks=tasks, max_parallel=200, synthesizer=None))
    return sizes.throughput_agents / wall


async def throughput(stack: Stack, sizes: Sizes) -> tuple[Row, float]:
    rate = await calls_per_second(stack, sizes)
    return Row(f"throughput ({sizes.throughput_agents}-wide fan-out, 0 s agents, 1 worker)", f"{rate:.0f} agent calls/s",
               "≥ 300/s", rate >= 300), rate


async def scale_out(stack: Stack, sizes: Sizes, one_worker_rate: float) -> Row:
    await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
    rate = await calls_per_second(stack, sizes)
    await stack.stop_workers()
    await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
    return Row("scale-out (the throughput row, 2 workers vs 1)", f"{rate:.0f}/s vs {one_worker_rate:.0f}/s = ×{rate / one_worker_rate:.2f}",
               "reported (2 cores shared with the server)", None)


@dataclass
class Crash:
    """One Baton pipeline whose worker was SIGKILLed mid-step: when, and what it cost."""
    killed_at: float
    restarted_at: float  # (b): the kill, no restart
    done_at: float
    repeated: int  # calls completed before the kill, made again


async def crash_pipeline(stack: Stack, sizes: Sizes, spare_worker: bool, agent: str = "researcher") -> Crash:
    """A pipeline of ``recovery_steps`` steps of ``recovery_latency`` s; the worker SIGKILLed
    while the middle step runs; then (a) a new worker started, or (b) a second worker
    already running takes over."""
    latency, steps = sizes.recovery_latency, sizes.recovery_steps
    stack.model(latency)
    victim = stack.workers[0]
    if spare_worker:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
    run = f"r{uuid.uuid4().hex[:6]}"
    inp = PipelineInput(goal="g", stages=[StageSpec(name=f"{run}-{i}", agent=agent) for i in range(steps)])
    handle = await baton.start(stack.client, inp, workflow_id=f"bench-recovery-{run}", queue=QUEUE)
    killed = steps // 2  # the step in flight at the kill
    await stack.in_flight(f"{run}-{killed}", latency)
    stack.kill_worker(victim)
    killed_at = time.monotonic()
    if not spare_worker:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
    restarted_at = time.monotonic()
    await handle.result()
    done_at = time.monotonic()
    return Crash(killed_at, restarted_at, done_at, stack.repeated([f"{run}-{i}" for i in range(killed)]))


async def recovery(stack: Stack, sizes: Sizes, spare_worker: bool, heartbeat: float = 2.0) -> Row:
    """Timed to the end: kill → run completed, and what that lost beyond the work left
    (the steps from the killed one on, at the model's latency)."""
    latency, steps = sizes.recovery_latency, sizes.recovery_steps
    killed = steps // 2
    crash = await crash_pipeline(stack, sizes, spare_worker)
    lost = (crash.done_at - crash.killed_at) - (steps - killed) * latency
    topology = "a second worker already running" if spare_worker else "the worker restarted"
    figure = (f"kill → done {crash.done_at - crash.killed_at:.2f} s"
              + ("" if spare_worker else f" (restart → done {crash.done_at - crash.restarted_at:.2f} s)")
              + f", {lost:.2f} s lost beyond the {steps - killed} steps left; {crash.repeated} completed calls repeated")
    most = heartbeat + latency + 1 + (0 if spare_worker else crash.restarted_at - crash.killed_at)
    return Row(f"recovery ({steps} steps × {latency:g} s, SIGKILL mid-step {killed + 1}, {topology}; heartbeat timeout {heartbeat:g} s)",
               figure, f"lost ≤ heartbeat + one step + 1 s{'' if spare_worker else ' + worker start'} = {most:.1f} s; 0 repeated",
               lost <= most and crash.repeated == 0)


async def versus_per_step(stack: Stack, sizes: Sizes) -> Row:
    ms = await versus.per_step(stack, sizes.versus_steps, sizes.versus_rounds)
    figure = " · ".join(f"{versus.NAMES[s]} {ms[s]:.1f}" for s in versus.NAMES)
    return Row(f"vs peers: ms per step, p50 ({sizes.versus_steps} sequential calls, model answers at once, "
               f"median of {sizes.versus_rounds} alternated rounds)", figure,
               "Baton ≤ DBOS (short agents reported: they give up what AgentSpec.short says)", ms["baton"] <= ms["dbos"])


async def versus_restart(stack: Stack, sizes: Sizes) -> Row:
    async def baton_round(agent: str) -> tuple[float, int]:
        crash = await crash_pipeline(stack, sizes, spare_worker=False, agent=agent)
        return crash.done_at - crash.restarted_at, crash.repeated

    seen = await versus.restarts(stack, sizes.recovery_steps, sizes.recovery_latency, sizes.versus_crash_rounds, baton_round)
    figure = " · ".join(f"{versus.NAMES[s]} {seconds:.2f} s, {repeated} repeated" for s, (seconds, repeated) in seen.items())
    return Row(f"vs peers: restart → done ({sizes.recovery_steps} steps × {sizes.recovery_latency:g} s, process SIGKILLed "
               f"mid-step {sizes.recovery_steps // 2 + 1}, restarted; median of {sizes.versus_crash_rounds} alternated rounds)", figure,
               "Baton ≤ LangGraph; Baton 0 repeated (short agents reported)", seen["baton"][0] <= seen["langgraph"][0] and seen["baton"][1] == 0)


async def versus_dag(stack: Stack, sizes: Sizes) -> Row:
    walls = await versus.dag(stack, lambda agent: json.dumps(layered_plan(agent)), sizes.dag_latency, sizes.versus_rounds)
    figure = " · ".join(f"{versus.NAMES[s]} {walls[s]:.2f} s (×{walls[s] / walls['asyncio']:.3f})" for s in versus.NAMES)
    ratio = walls["baton"] / walls["asyncio"]
    return Row(f"vs peers: 20-task DAG (a planner call, then 4 layers × 5, {sizes.dag_latency:g} s calls, 5 at once; "
               f"wall, median of {sizes.versus_rounds} alternated rounds, ÷ plain asyncio)", figure, "Baton ≤ 1.03 × asyncio (short agents reported)", ratio <= 1.03)


async def versus_fan_out(stack: Stack, sizes: Sizes) -> Row:
    rates = await versus.fan_out(stack, sizes.versus_calls, 50, sizes.versus_rounds)
    figure = " · ".join(f"{versus.NAMES[s]} {rates[s]:.0f}" for s in versus.NAMES)
    return Row(f"vs peers: calls/s ({sizes.versus_calls} independent calls, 50 at once, model answers at once; "
               f"median of {sizes.versus_rounds} alternated rounds)", figure, "Baton ≥ 0.9 × LangGraph (short agents reported)",
               rates["baton"] >= 0.9 * rates["langgraph"])


async def scale(stack: Stack, sizes: Sizes) -> Row:
    # max_failures=None: an item that fails is counted and shown here; the bench
    # has nobody to answer a failure gate (it would wait for ever).
    stack.model(0.0)
    inp = MapReduceInput(goal="g", items=[f"item {i}" for i in range(sizes.map_items)], mapper="mapper", reducer="summarizer",
                         batch_size=200, max_parallel=25, max_batches_in_flight=4, max_failures=None)
    began = time.monotonic()
    handle = await baton.start(stack.client, inp, workflow_id=f"bench-{uuid.uuid4().hex[:8]}", queue=QUEUE)
    try:
        result = await handle.result()
    except WorkflowFailureError as err:  # the row fails, the bench goes on to the next
        result, failed = None, f", the run failed: {err.cause}"
    else:
        failed = f", {result.failed_count} items failed ({result.failed[0].error})" if result.failed_count else ""
    wall, workflow_id = time.monotonic() - began, handle.id
    calls = len(stack.requests())
    runs = [r async for r in stack.client.list_workflows(f"WorkflowId STARTS_WITH '{workflow_id}'")]
    largest = 0
    for run in runs:
        largest = max(largest, (await stack.client.get_workflow_handle(run.id, run_id=run.run_id).describe()).history_length)
    return Row(f"scale ({sizes.map_items:,}-item map-reduce, 0 s agents)",
               f"{wall:.1f} s, {calls / wall:.0f} agent calls/s, {len(runs)} runs, largest history {largest} events{failed}",
               "completes, no item failed; every run ≤ 4,000 events",
               largest <= 4000 and result is not None and not result.failed_count)


async def memory(stack: Stack, sizes: Sizes) -> Row:
    stack.model(0.0)
    worker = stack.workers[0]
    inp = PipelineInput(goal="g", stages=[StageSpec(name="wait", agent="researcher", review=True)])
    handles = await asyncio.gather(*(baton.start(stack.client, inp, workflow_id=f"bench-open-{i}-{uuid.uuid4().hex[:4]}", queue=QUEUE)
                                     for i in range(sizes.open_workflows)))
    while len(stack.requests()) < sizes.open_workflows:  # every run has made its call and waits for a person
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    rss = _rss_mb(worker.pid)
    descriptions = await asyncio.gather(*(h.describe() for h in handles))
    still_open = sum(1 for d in descriptions if d.status is not None and d.status.name == "RUNNING")
    await asyncio.gather(*(h.terminate() for h in handles), return_exceptions=True)
    return Row(f"memory (worker RSS, {sizes.open_workflows:,} open waiting workflows)",
               f"{rss:.0f} MB ({still_open:,} open when measured)", "≤ 400 MB", rss <= 400 and still_open == sizes.open_workflows)


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no RSS for process {pid}")


def percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)]
