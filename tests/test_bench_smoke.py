"""The benchmark suite at smoke sizes, so it cannot rot: it runs end to end on
its own stack and prints every row (targets are not asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

ROWS = ["per-step overhead", "fan-out efficiency", "durability cost", "throughput", "scale-out", "recovery", "scale", "memory"]


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
