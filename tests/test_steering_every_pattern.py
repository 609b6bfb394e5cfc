"""pause, resume, status, cancel, feedback and rewind on every pattern
(time-skipping server, fake activities): one agent call is held in flight while
a person steers the run."""

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
    # the example pattern of docs/authoring.md (examples/critics.py): steering comes with the runtime
    "critics": ({"goal": "g", "critics": ["critic"]}, {"critic.r1": {"approved": True, "critique": ""}}, "critic.r1", "draft.r1"),
    "flow": ({"goal": "g", "start": "s", "nodes": [{"id": "s", "kind": "agent", "agent": "planner"},
                                                   {"id": "a", "kind": "agent", "agent": "researcher"},
                                                   {"id": "b", "kind": "agent", "agent": "writer"}],
              "edges": [{"from": "s", "to": "a"}, {"from": "a", "to": "b"}]}, {}, "b", "a"),
}


def test_every_pattern_is_covered():
    from baton.patterns import all_patterns
    assert set(CASES) == {p.name for p in all_patterns()}


async def start_held(fake_worker, name: str, more: dict[str, list] | None = None):
    """Start the pattern's case with its held step in flight: (handle, release, pattern)."""
    fakes, start = fake_worker
    inp, scripts, held, _ = CASES[name]
    for step, answer in scripts.items():
        fakes.script(step, answer)
    for step, answers in (more or {}).items():
        fakes.script(step, *answers)
    release = fakes.hold(held)
    pattern = find_pattern(name)
    handle = await start(pattern.workflow_type, baton.parse_input(name, inp), pattern.result)
    await fakes.started[held].wait()
    return handle, release, pattern


@pytest.mark.parametrize("name", CASES)
async def test_pause_resume_status_and_cancel(fake_worker, name):
    done_before = CASES[name][3]
    handle, release, pattern = await start_held(fake_worker, name)

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


# pattern -> (the finished step a person asks to run again, answers the re-run needs,
#             the steps that then run twice: it and those that had run after it and need it; or why the pattern refuses)
RERUNS = {
    "pipeline": ("a", {}, ["a", "b"]),
    "fan-out": ("a", {}, ["a"]),  # the synthesis had not run: it runs once, after
    "map-reduce": ("batch-1", {}, ["item-0", "item-1", "reduce-1.0"]),  # the batch, as a new child run: its items and its reduce
    "panel": ("x.r1", {}, ["x.r1", "consensus"]),
    "router": ("classify", {}, ["classify", "handle"]),
    "supervisor": ("turn-1", {}, "conversation has gone on from it"),
    "hierarchical": ("plan", {"plan": [{"phases": [{"id": "one", "pattern": "pipeline", "goal": "g", "agents": ["writer"]}]}]},
                     ["plan", "1-writer"]),
    "planned": ("a", {}, ["a", "b"]),
    "review-loop": ("a.r1", {"review.r1": [{"approved": True, "critique": ""}] * 2}, ["a.r1", "review.r1"]),
    "critics": ("draft.r1", {"critic.r1": [{"approved": True, "critique": ""}]}, ["draft.r1", "critic.r1"]),
    "flow": ("a", {}, ["a", "b"]),  # a node and every node forward of it; the start runs once
}


def test_every_pattern_says_what_runs_again():
    from baton.patterns import all_patterns
    assert set(RERUNS) == {p.name for p in all_patterns()}


@pytest.mark.parametrize("how", ["feedback", "rewind"])
@pytest.mark.parametrize("name", CASES)
async def test_feedback_and_rewind_run_a_finished_step_again_or_say_why_not(fake_worker, skip_env, name, how):
    fakes, _ = fake_worker
    step, more, again = RERUNS[name]
    handle, release, _ = await start_held(fake_worker, name, more)

    ask = baton.feedback(skip_env.client, handle.id, "once more, better", step) if how == "feedback" \
        else baton.rewind(skip_env.client, handle.id, step)
    if isinstance(again, str):  # the pattern cannot: the update is rejected, saying why
        with pytest.raises(baton.BatonError, match=again):
            await ask
        release.set()
        await handle.result()
        return
    ack = await ask
    assert ack.rerun_from == step
    release.set()
    await handle.result()
    runs = [c for c in fakes.calls if c.stage in again]
    for each in again:  # the step and what depends on it ran twice; nothing else did
        assert [c.stage for c in runs].count(each) == 2, (each, fakes.stages_called())
    second = [c for c in fakes.calls if c.stage == again[0]][1]  # the steered step's agent call (a batch's: its items')
    assert second.feedback == (["once more, better"] if how == "feedback" else [])
    assert all(fakes.stages_called().count(c) == 1 for c in set(fakes.stages_called()) - set(again)), fakes.stages_called()

