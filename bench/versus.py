"""Baton beside what users would pick instead (``bench/peers.py``): LangGraph with
its SQLite checkpointer, DBOS Transact on SQLite, a plain asyncio script. Same
simulated model, same streamed ``openai`` call per step, systems alternated
round by round in one run. Timed where every system is seen alike: the model's
log of when each step's request arrived."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from baton.contracts import FanOutInput, PipelineInput, PlannedInput, StageSpec, TaskSpec
from bench.stack import REPO, Stack

NAMES = {"baton": "Baton", "baton-short": "Baton, short agents", "langgraph": "LangGraph + SQLite saver",
         "dbos": "DBOS + SQLite", "asyncio": "plain asyncio"}
# Baton's agents as shipped, and a short one (bench/agents.toml's "quick": local activities,
# giving up what AgentSpec.short says), each in every row beside the peers.
BATON_AGENTS = {"baton": "researcher", "baton-short": "quick"}


def _arrivals(stack: Stack, run: str) -> list[float]:
    """When each of the run's requests reached the model, in order."""
    return sorted(at for stage, at in stack.requests() if stage and stage.startswith(f"{run}-s"))


def _peer(stack: Stack, system: str, run: str, workload: str, *options: str, resume: bool = False) -> subprocess.Popen:
    argv = [sys.executable, "-m", "bench.peers", system, workload, *options, "--model",
            f"http://127.0.0.1:{stack.model_port}/v1", "--db", str(stack.folder / f"{run}.db"), "--run", run]
    log = open(stack.folder / f"{run}.log", "ab")
    return subprocess.Popen(argv + (["--resume"] if resume else []), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


async def _finish(process: subprocess.Popen, run: str, stack: Stack) -> float:
    """Waits for a peer's run; its seconds from the run's start (after the peer's setup) to done."""
    if await asyncio.to_thread(process.wait) != 0:
        raise RuntimeError(f"{run} failed; see {stack.folder}")
    return float((stack.folder / f"{run}.log").read_text().rsplit("done ", 1)[1].split()[0])


async def per_step(stack: Stack, steps: int, rounds: int) -> dict[str, float]:
    """Median over rounds of each system's p50 time between consecutive steps' requests
    (a step's call, its recording, the next call's start), the model answering at once."""
    stack.model(0.0)
    p50s: dict[str, list[float]] = {system: [] for system in NAMES}
    for _ in range(rounds):
        for system in NAMES:
            p50s[system].append(await per_step_of(stack, system, steps))
    return {system: statistics.median(values) for system, values in p50s.items()}


async def per_step_of(stack: Stack, system: str, steps: int) -> float:
    """One run of ``steps`` sequential calls: the p50 ms between consecutive steps' requests."""
    run = f"seq-{system}-{uuid.uuid4().hex[:6]}"
    if system in BATON_AGENTS:
        agent = BATON_AGENTS[system]
        await stack.run(PipelineInput(goal="g", stages=[StageSpec(name=f"{run}-s{i}", agent=agent) for i in range(steps)]), run)
    else:
        await _finish(_peer(stack, system, run, "sequence", "--steps", str(steps)), run, stack)
    arrivals = _arrivals(stack, run)
    return statistics.median(b - a for a, b in zip(arrivals, arrivals[1:])) * 1000


async def restart_to_done(stack: Stack, system: str, steps: int, latency: float) -> tuple[float, int]:
    """A peer's process SIGKILLed while the middle step's call runs, then started again:
    seconds from the restart to the run's end, and completed calls made again."""
    stack.model(latency)
    run = f"crash-{system}-{uuid.uuid4().hex[:6]}"
    killed = steps // 2
    first = _peer(stack, system, run, "sequence", "--steps", str(steps))
    await stack.in_flight(f"{run}-s{killed}", latency)
    first.kill()
    first.wait()
    restarted = time.monotonic()
    await _finish(_peer(stack, system, run, "sequence", "--steps", str(steps), resume=True), run, stack)
    done = time.monotonic()
    return done - restarted, stack.repeated([f"{run}-s{i}" for i in range(killed)])


async def restarts(stack: Stack, steps: int, latency: float, rounds: int,
                   baton_round: Callable[[str], Awaitable[tuple[float, int]]]) -> dict[str, tuple[float, int]]:
    """Median restart → done and the most repeats over rounds, for Baton (``baton_round(agent)``:
    its worker SIGKILLed and restarted, the same crash) and each peer, alternated."""
    seen: dict[str, list[tuple[float, int]]] = {system: [] for system in NAMES}
    for _ in range(rounds):
        for system in NAMES:
            seen[system].append(await (baton_round(BATON_AGENTS[system]) if system in BATON_AGENTS
                                       else restart_to_done(stack, system, steps, latency)))
    return {system: (statistics.median(s for s, _ in runs), max(r for _, r in runs)) for system, runs in seen.items()}


async def dag(stack: Stack, plan: Callable[[str], str], latency: float, rounds: int) -> dict[str, float]:
    """Median over rounds of each system's wall time for the planner call and the
    20-task layered DAG (5 at once), the model answering after ``latency`` s. Baton
    runs its planned pattern on the same plan (``plan(agent)``: its JSON, every task
    that agent's); the peers run its DAG as code, their planner call answered with the
    same plan, so every system's planner call streams the same answer."""
    stack.model(latency)
    walls: dict[str, list[float]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for system in NAMES:
            if system in BATON_AGENTS:
                agent = BATON_AGENTS[system]
                stack.script("plan", plan(agent))
                inp = PlannedInput(goal="g", agents=[agent], allow_new_agents=False, max_parallel=5)
                walls[system].append((await stack.run(inp))[0])
            else:
                run = f"dag-{system}-{uuid.uuid4().hex[:6]}"
                stack.script(f"{run}-plan", plan(BATON_AGENTS["baton"]))
                walls[system].append(await _finish(_peer(stack, system, run, "dag", "--parallel", "5"), run, stack))
    return {system: statistics.median(values) for system, values in walls.items()}


async def fan_out(stack: Stack, calls: int, parallel: int, rounds: int) -> dict[str, float]:
    """Median over rounds of each system's calls per second for ``calls`` independent
    calls, at most ``parallel`` at once, the model answering at once."""
    stack.model(0.0)
    rates: dict[str, list[float]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for system in NAMES:
            if system in BATON_AGENTS:
                tasks = [TaskSpec(id=f"t{i}", agent=BATON_AGENTS[system], prompt="p") for i in range(calls)]
                wall, _ = await stack.run(FanOutInput(goal="g", tasks=tasks, max_parallel=parallel, synthesizer=None))
            else:
                run = f"fan-{system}-{uuid.uuid4().hex[:6]}"
                wall = await _finish(_peer(stack, system, run, "fan-out", "--calls", str(calls), "--parallel", str(parallel)), run, stack)
            rates[system].append(calls / wall)
    return {system: statistics.median(values) for system, values in rates.items()}
