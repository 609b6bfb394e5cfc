"""Importing one pattern must not import the others: the strict sandbox (the replay
tests) and a pattern of one's own import a run's module afresh for every run, and
importing all ten made each such run cost ~50 ms of CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from baton.patterns import workflow_classes

REPO = Path(__file__).resolve().parent.parent


def modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('baton.workflows')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_a_pattern_module_imports_no_other_pattern() -> None:
    patterns = {workflow.__module__ for workflow in workflow_classes()}
    assert "baton.workflows.pipeline" in patterns and "baton.workflows.fanout" in patterns
    loaded = modules_loaded_by("baton.workflows.pipeline")
    assert "baton.workflows.pipeline" in loaded
    assert not (loaded & patterns) - {"baton.workflows.pipeline"}, loaded
