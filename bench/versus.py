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

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from bench.peers import SYSTEMS
from bench.stack import QUEUE, REPO, Stack

NAMES = {"baton": "Baton", "langgraph": "LangGraph + SQLite saver", "dbos": "DBOS + SQLite", "asyncio": "plain asyncio"}


def _arrivals(stack: Stack, run: str) -> list[float]:
    """When each of the run's requests reached the model, in order."""
    return sorted(at for stage, at in stack.requests() if stage and stage.startswith(f"{run}-s"))


def _peer(stack: Stack, system: str, run: str, steps: int, resume: bool = False) -> subprocess.Popen:
    argv = [sys.executable, "-m", "bench.peers", system, "--steps", str(steps), "--model",
            f"http://127.0.0.1:{stack.model_port}/v1", "--db", str(stack.folder / f"{run}.db"), "--run", run]
    log = open(stack.folder / f"{run}.log", "ab")
    return subprocess.Popen(argv + (["--resume"] if resume else []), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


async def _finish(process: subprocess.Popen, what: str, stack: Stack) -> None:
    if await asyncio.to_thread(process.wait) != 0:
        raise RuntimeError(f"{what} failed; see {stack.folder}")


async def _baton_sequence(stack: Stack, run: str, steps: int) -> None:
    inp = PipelineInput(goal="g", stages=[StageSpec(name=f"{run}-s{i}", agent="researcher") for i in range(steps)])
    handle = await baton.start(stack.client, inp, workflow_id=run, queue=QUEUE)
    await handle.result()


async def per_step(stack: Stack, steps: int, rounds: int) -> dict[str, float]:
    """Median over rounds of each system's p50 time between consecutive steps' requests
    (a step's call, its recording, the next call's start), the model answering at once."""
    stack.model(0.0)
    p50s: dict[str, list[float]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for system in NAMES:
            run = f"seq-{system}-{uuid.uuid4().hex[:6]}"
            if system == "baton":
                await _baton_sequence(stack, run, steps)
            else:
                await _finish(_peer(stack, system, run, steps), run, stack)
            arrivals = _arrivals(stack, run)
            p50s[system].append(statistics.median(b - a for a, b in zip(arrivals, arrivals[1:])) * 1000)
    return {system: statistics.median(values) for system, values in p50s.items()}


async def restart_to_done(stack: Stack, system: str, steps: int, latency: float) -> tuple[float, int]:
    """A peer's process SIGKILLed while the middle step's call runs, then started again:
    seconds from the restart to the run's end, and completed calls made again."""
    stack.model(latency)
    run = f"crash-{system}-{uuid.uuid4().hex[:6]}"
    killed = steps // 2
    first = _peer(stack, system, run, steps)
    while not any(stage == f"{run}-s{killed}" for stage, _ in stack.requests()):
        await asyncio.sleep(0.01)
    await asyncio.sleep(latency / 2)  # surely in flight
    first.kill()
    first.wait()
    restarted = time.monotonic()
    await _finish(_peer(stack, system, run, steps, resume=True), run, stack)
    done = time.monotonic()
    requests = stack.requests()
    repeated = sum(sum(1 for stage, _ in requests if stage == f"{run}-s{i}") - 1 for i in range(killed))
    return done - restarted, repeated


async def restarts(stack: Stack, steps: int, latency: float, rounds: int) -> dict[str, tuple[float, int]]:
    """Median restart → done and the most repeats over rounds, for each peer."""
    seen: dict[str, list[tuple[float, int]]] = {system: [] for system in SYSTEMS}
    for _ in range(rounds):
        for system in SYSTEMS:
            seen[system].append(await restart_to_done(stack, system, steps, latency))
    return {system: (statistics.median(s for s, _ in runs), max(r for _, r in runs)) for system, runs in seen.items()}
