"""pause, resume, status and cancel on every pattern (time-skipping server, fake
activities): one agent call is held in flight while a person steers the run."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError

from baton import client as baton
from baton.patterns import find_pattern
from tests.test_pipeline_logic import until

PLAN = {"tasks": [{"id": "a", "agent": "researcher", "prompt": "a", "depends_on": []},
                  {"id": "b", "agent": "writer", "prompt": "b", "depends_on": ["a"]}]}
# pattern -> (input, scripted answers, the step held in flight, the step done before it)
CASES = {
    "pipeline": ({"goal": "g", "stages": [{"name": "a", "agent": "researcher"}, {"name": "b", "agent": "writer"}]}, {}, "b", "a"),
    "fan-out": ({"goal": "g", "max_parallel": 1, "tasks": [{"id": "a", "agent": "researcher", "prompt": "p"},
                                                           {"id": "b", "agent": "writer", "prompt": "p"}]}, {}, "b", "a"),
    "map-reduce": ({"goal": "g", "items": ["x", "y"], "mapper": "researcher", "reducer": "editor", "batch_size": 2,
                    "max_parallel": 1}, {}, "item-1", None),
    "panel": ({"question": "q", "experts": [{"name": "x", "agent": "researcher", "role": "r"},
                                            {"name": "y", "agent": "writer", "role": "r"}]}, {}, "consensus", "x.r1"),
    "router": ({"input": "i", "routes": [{"agent": "writer", "description": "d"}], "default": "editor"},
               {"classify": {"agent": "writer", "confidence": 0.9, "reason": "r"}}, "handle", "classify"),
    "supervisor": ({"goal": "g", "workers": ["writer"]},
                   {"turn-1": [("delegate", {"agent": "writer", "instruction": "go"})]}, "turn-1.1-writer", "turn-1"),
    "hierarchical": ({"goal": "g"}, {"plan": {"phases": [{"id": "one", "pattern": "pipeline", "goal": "g", "agents": ["writer"]}]}},
                     "1-writer", "plan"),
    "planned": ({"goal": "g", "agents": ["researcher", "writer"]}, {"plan": PLAN}, "b", "a"),
    "review-loop": ({"goal": "g", "workers": ["writer"]}, {"plan.r1": {"tasks": [PLAN["tasks"][0] | {"agent": "writer"}]}},
                    "review.r1", "a.r1"),
}


def test_every_pattern_is_covered():
    from baton.patterns import all_patterns
    assert set(CASES) == {p.name for p in all_patterns()}


@pytest.mark.parametrize("name", CASES)
async def test_pause_resume_status_and_cancel(fake_worker, name):
    fakes, start = fake_worker
    inp, scripts, held, done_before = CASES[name]
    for step, answer in scripts.items():
        fakes.script(step, answer)
    release = fakes.hold(held)
    pattern = find_pattern(name)
    handle = await start(pattern.workflow_type, baton.parse_input(name, inp), pattern.result)
    await fakes.started[held].wait()

    await handle.signal("pause")
    paused = await until(handle, lambda s: s.state == "paused")
    assert paused.pattern == name  # status names the pattern as starter.py and docs do
    if done_before:
        assert done_before in paused.completed_stages
    await handle.signal("resume")
    await until(handle, lambda s: s.state == "running")

    await handle.cancel()
    release.set()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    cancelled = await until(handle, lambda s: s.state == "cancelled")
    assert (await handle.query("result", result_type=pattern.result)).state == "cancelled"
    memo = await (await handle.describe()).memo()
    assert "usage" in memo and cancelled.usage.total_tokens == memo["usage"]["total_tokens"]
    if done_before and name not in ("hierarchical",):
        assert done_before in memo["partial_outputs"]
