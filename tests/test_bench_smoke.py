"""The benchmark suite at smoke sizes, so it cannot rot: it runs end to end on
its own stack and prints every row (targets are not asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.dispatch import SDK_TIMINGS
from tests.conftest import REPO_ROOT

ROWS = ["per-step overhead", "flow per-node overhead", "fan-out efficiency", "throughput", "scale-out", "recovery", "recovery",
        "vs peers: ms per step", "vs peers: 20-task DAG",
        "vs peers: calls/s", "vs peers: restart → done", "scale", "memory"]


@pytest.mark.timeout(240)
def test_bench_smoke_prints_every_row(tmp_path):
    out = tmp_path / "results.md"
    run = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--markdown", str(out)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=230)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = out.read_text()
    assert table.startswith("Machine: ") and "cores" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| measure")]
    assert [next(name for name in ROWS if row.startswith(f"| {name}")) for row in rows] == ROWS
    assert all(row.rstrip(" |").endswith(("PASS", "FAIL", "—")) for row in rows)


def run_module(module: str, *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=230)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.mark.timeout(240)
def test_dispatch_diagnostic_splits_baton_and_floor_steps():
    lines = run_module("bench.dispatch", "--floor", "--sdk").splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "baton run 1", "baton run 2", "baton run 3", "baton SDK, mean per task",
        "floor run 1 (no-op activity)", "floor run 2 (no-op activity)", "floor run 3 (no-op activity)", "floor SDK, mean per task"]
    for line in lines:
        parts = dict(part.rsplit(" ", 2)[:2] for part in line.split(": ", 1)[1].split(", "))
        if "SDK" in line:  # from the SDK's metrics: each kind of task was seen, and took time
            assert list(parts) == [label for label, _, _ in SDK_TIMINGS], line
        else:
            assert set(parts) == {"agent call", "task dispatch", "task processing", "step"}
        assert all(float(ms) > 0 for ms in parts.values()), line


@pytest.mark.timeout(240)
def test_waves_diagnostic_reports_each_fan_out_run():
    lines = run_module("bench.waves").splitlines()
    assert [line.split(":")[0] for line in lines] == ["run 1", "run 2"]
    assert all("first call scheduled at" in line and "restart lag p50" in line for line in lines)


@pytest.mark.timeout(240)
def test_short_calls_diagnostic_shows_what_local_activities_record():
    lines = run_module("bench.short_calls").splitlines()
    assert [line.split(":")[0] for line in lines] == [f"run {run}, {kind}" for run in (1, 2, 3)
                                                      for kind in ("activities", "local activities")]
    for line in lines:
        tasks = int(line.split("workflow tasks completed: ")[1].split()[0])
        assert float(line.split(": ")[1].split(" ms")[0]) > 0
        # Activities: one workflow task per call (and the first). Local activities: their
        # markers are recorded by far fewer tasks, which is what a crash would lose.
        assert tasks == 51 if line.split(", ")[1].startswith("activities") else tasks < 50, line
