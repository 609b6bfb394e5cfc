"""Profile the worker while one benchmark runs: py-spy samples the worker
process, and the summary lists where its time goes (own time and inclusive).

    python -m bench.profile throughput|per-step|fan-out|short-steps|dag [--seconds 30]

Needs ``py-spy`` (``pip install py-spy``; it reads the process, so run as the
same user or root)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from baton.contracts import PlannedInput
from bench import measures, versus
from bench.stack import Stack


async def layered_dag(stack: Stack, sizes: measures.Sizes) -> float:
    """The versus row's DAG, Baton alone: the wall time of one planned run."""
    stack.model(sizes.dag_latency)
    stack.script("plan", json.dumps(measures.layered_plan("researcher")))
    wall, _ = await stack.run(PlannedInput(goal="g", agents=["researcher"], allow_new_agents=False, max_parallel=5))
    return wall

MEASURES = {
    "throughput": lambda stack, sizes: measures.calls_per_second(stack, sizes),
    "per-step": measures.per_step_overhead,
    "fan-out": measures.fanout_efficiency,
    "short-steps": lambda stack, sizes: versus.per_step_of(stack, "baton-short", sizes.versus_steps),
    "dag": layered_dag,
}


def summarise(collapsed: Path, top: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[_short(frames[-1])] += samples
        for frame in set(map(_short, frames)):
            inclusive[frame] += samples
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top) if n < total]
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where.rsplit(':', 1)[0]})"


async def main(which: str, seconds: int) -> None:
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        sys.exit("py-spy is not installed: pip install py-spy")
    stack = await Stack().start()
    try:
        worker = await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
        out = stack.folder / "worker.collapsed"
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(worker.pid), "-d", str(seconds),
                                "-f", "raw", "-o", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sizes = measures.Sizes(throughput_agents=500)
        while spy.poll() is None:
            print(await MEASURES[which](stack, sizes), flush=True)
        print(summarise(out))
    finally:
        await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=list(MEASURES))
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.measure, args.seconds))
    sys.stdout.flush()
    os._exit(0)
