"""Comparing two runs step by step (baton/run_diff.py), without a server."""

from __future__ import annotations

import pytest

from baton.contracts import Usage
from baton.reseed import outputs_in
from baton.run_diff import StepSide, diff_runs


def test_each_step_says_same_differs_or_only_in_one_run_with_its_calls_or_origin():
    a = {"gather": StepSide(output="facts", calls=1, usage=Usage(total_tokens=14, cost_usd=0.00002)),
         "draft": StepSide(output="first line\nold end", calls=2, usage=Usage(total_tokens=40)),
         "gone": StepSide(output="only here", calls=1)}
    b = {"gather": StepSide(output="facts", origin="inherited"),
         "draft": StepSide(output="first line\nnew end", origin="set"),
         "extra": StepSide(origin="skipped")}
    diff = diff_runs("run-a", "run-b", a, b, Usage(total_tokens=54), Usage())
    assert [(s.step, s.verdict) for s in diff.steps] == [
        ("gather", "same"), ("draft", "differs"), ("gone", "only in A"), ("extra", "differs")]
    text = diff.text()
    rows = {line.split()[0]: line for line in text.splitlines()[3:8]}
    assert rows["gather"].split()[-1] == "inherited" and "1 call, 14 tok $0.000020" in rows["gather"]
    assert rows["draft"].split()[-1] == "set" and "2 calls, 40 tok" in rows["draft"]
    assert rows["extra"].split()[-1] == "skipped"
    assert " first line\n-old end\n+new end" in text  # one line each, as a unified diff


def test_reseed_reads_each_steps_latest_file(tmp_path):
    (tmp_path / "draft-v1.md").write_text("first")
    (tmp_path / "draft-v12.md").write_text("twelfth")
    (tmp_path / "draft-v2.md").write_text("second")
    (tmp_path / "notes.md").write_text("plain name")
    (tmp_path / "ignored.txt").write_text("not a stage")
    assert outputs_in(tmp_path) == {"draft": "twelfth", "notes": "plain name"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no stage files"):
        outputs_in(tmp_path / "empty")
    with pytest.raises(ValueError, match="no folder"):
        outputs_in(tmp_path / "missing")
