"""HierarchicalWorkflow's logic on the time-skipping server, with fake activities:
phases really run as child workflows of the other patterns."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError

from baton.contracts import HierarchicalInput, HierarchicalResult, Status
from tests.test_pipeline_logic import until

PHASES = {
    "phases": [
        {"id": "facts", "pattern": "fan-out", "goal": "gather facts", "agents": ["researcher", "critic"]},
        {"id": "write", "pattern": "pipeline", "goal": "write it", "agents": ["writer", "copywriter"]},
        {"id": "judge", "pattern": "panel", "goal": "judge it", "agents": ["critic", "reviewer"]},
    ],
    "agents": [{"name": "copywriter", "role": "a copywriter", "instructions": "Punchy lines."}],
}


def hierarchical(**overrides) -> HierarchicalInput:
    return HierarchicalInput(goal="Launch a product", **overrides)


async def test_phases_run_as_child_workflows_in_order_then_synthesis(fake_worker, skip_env):
    fakes, start = fake_worker
    fakes.script("plan", PHASES)
    fakes.script("consensus", {"consensus": "ship it", "agreement": 0.8, "dissent": []})
    handle = await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)
    result = await handle.result()

    assert [(p.id, p.pattern, p.state) for p in result.phases] == [
        ("facts", "fan-out", "done"), ("write", "pipeline", "done"), ("judge", "panel", "done")]
    assert result.phases[1].output == "2-copywriter v1" and result.phases[2].output == "ship it"
    # Each phase is a child workflow of its pattern.
    for phase, workflow_type in zip(result.phases, ["FanOutWorkflow", "PipelineWorkflow", "ExpertPanelWorkflow"]):
        described = await skip_env.client.get_workflow_handle(phase.workflow_id).describe()
        assert described.workflow_type == workflow_type and described.parent_id == handle.id
    # The planner's new agent ran through the same agent activity, with its instructions.
    copywriter = next(c for c in fakes.calls if c.agent == "copywriter")
    assert result.new_agents == ["copywriter"] and copywriter.stage == "2-copywriter"
    # A later phase sees the earlier phases' results in its goal; the synthesis sees every phase.
    assert fakes.calls[-1].stage == "synthesis" and fakes.calls[-1].context == ["facts", "write", "judge"]
    assert result.synthesis == "synthesis v2"  # the fan-out phase had its own synthesis step first
    assert result.usage.total_tokens == 15 * len(fakes.calls)
    status = await handle.query("status", result_type=Status)
    assert [p["workflow_id"] for p in status.info["phases"]] == [p.workflow_id for p in result.phases]


async def test_a_failed_phase_is_recorded_and_the_next_phases_go_on(fake_worker):
    fakes, start = fake_worker
    fakes.script("plan", {"phases": [{"id": "one", "pattern": "pipeline", "goal": "a", "agents": ["writer"]},
                                     {"id": "two", "pattern": "pipeline", "goal": "b", "agents": ["editor"]}]})
    fakes.failing_steps = {"1-writer"}
    result = await (await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)).result()
    assert [(p.id, p.state) for p in result.phases] == [("one", "failed"), ("two", "done")]
    assert "1-writer" in result.phases[0].error and "cannot be done" in result.phases[0].error
    assert fakes.calls[-1].context == ["two"]


@pytest.mark.parametrize(("bad", "error"), [
    ({"phases": []}, "the plan has no phases"),
    ({"phases": [{"id": "p", "pattern": "panel", "goal": "g", "agents": ["critic"]}]}, "needs at least 2 agents"),
    ({"phases": [{"id": "p", "pattern": "pipeline", "goal": "g", "agents": ["poet"]}]}, "unknown agent 'poet'"),
    ({"phases": [{"id": "p", "pattern": "fan-out", "goal": "g", "agents": ["x y"]}],
      "agents": [{"name": "x y", "role": "r", "instructions": "i"}]}, "new agent name 'x y' is not valid"),
])
async def test_bad_plans_go_back_to_the_planner_then_fail_clearly(fake_worker, bad, error):
    fakes, start = fake_worker
    fakes.script("plan", bad, bad, bad)
    handle = await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert error in str(failure.value.cause) and "no valid plan in 3 tries" in str(failure.value.cause)
    plans = [c for c in fakes.calls if c.stage == "plan"]
    assert len(plans) == 3 and plans[1].context == ["errors in your previous plan"]


async def test_pause_reaches_the_phase_in_flight(fake_worker, skip_env):
    fakes, start = fake_worker
    fakes.script("plan", {"phases": [{"id": "one", "pattern": "pipeline", "goal": "a", "agents": ["writer", "editor"]}]})
    release = fakes.hold("1-writer")
    handle = await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)
    await fakes.started["1-writer"].wait()
    await handle.signal("pause")
    child = skip_env.client.get_workflow_handle(f"{handle.id}-one")
    await until(child, lambda s: s.state == "paused")
    release.set()
    await until(child, lambda s: s.completed_stages == ["1-writer"])
    assert (await handle.query("status", result_type=Status)).state == "paused"
    assert "2-editor" not in fakes.stages_called()
    await handle.signal("resume")
    result = await handle.result()
    assert result.phases[0].output == "2-editor v1"


async def test_a_phase_pattern_no_pattern_declares_goes_back_to_the_planner(fake_worker):
    # The phase patterns come from the patterns' own declarations: an unknown one is
    # a plan error the planner corrects (it used to fail the run with a ValidationError).
    fakes, start = fake_worker
    fakes.script("plan", {"phases": [{"id": "one", "pattern": "sequence", "goal": "a", "agents": ["writer"]}]},
                 {"phases": [{"id": "one", "pattern": "pipeline", "goal": "a", "agents": ["writer"]}]})
    result = await (await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)).result()
    plans = [c for c in fakes.calls if c.stage == "plan"]
    assert len(plans) == 2 and plans[1].context == ["errors in your previous plan"]
    assert "fan-out: agents in parallel" in plans[0].instructions and "pipeline: agents in order" in plans[0].instructions
    assert [(p.id, p.pattern, p.state) for p in result.phases] == [("one", "pipeline", "done")]


def test_phase_plan_errors_name_the_patterns_a_phase_may_run_as():
    from baton.plans import phase_plan_errors
    from baton.schemas import PhasePlan

    plan = PhasePlan.model_validate({"phases": [{"id": "x", "pattern": "router", "goal": "g", "agents": ["a"]},
                                                {"id": "y", "pattern": "panel", "goal": "g", "agents": ["a"]}]})
    assert phase_plan_errors(plan, {"a"}) == [
        "phase 'x' has unknown pattern 'router'; use one of fan-out, panel, pipeline, planned",
        "phase 'y' (panel) needs at least 2 agents"]


THREE_FAILING = {"phases": [{"id": p, "pattern": "pipeline", "goal": p, "agents": ["writer"]} for p in ("a", "b", "c", "d")]}


async def test_at_max_failures_a_person_approves_going_on_or_retries_a_phase(fake_worker, skip_env):
    from baton.contracts import FeedbackRequest
    fakes, start = fake_worker
    fakes.script("plan", THREE_FAILING)
    fakes.failing_steps = {"1-writer"}  # every phase's only stage: a, b and c fail
    handle = await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.awaiting_review == "plan" and [r.state for r in waiting.stages[1:4]] == ["failed"] * 3
    fakes.failing_steps = set()
    await handle.execute_update("feedback", FeedbackRequest(text="try again", stage="b"))
    result = await handle.result()
    # b ran again as a new child run; the phases after it (c, d) ran again too: they see b's result.
    assert [(p.id, p.state) for p in result.phases] == [("a", "failed"), ("b", "done"), ("c", "done"), ("d", "done")]
    assert result.phases[1].workflow_id == f"{handle.id}-b-v2"
    described = await skip_env.client.get_workflow_handle(f"{handle.id}-b-v2").describe()
    assert described.parent_id == handle.id
    assert result.synthesis is not None


async def test_at_max_failures_approve_goes_on_to_the_next_phases(fake_worker):
    fakes, start = fake_worker
    fakes.script("plan", THREE_FAILING)
    fakes.failing_steps = {"1-writer"}
    handle = await start("HierarchicalWorkflow", hierarchical(), HierarchicalResult)
    await until(handle, lambda s: s.awaiting_review == "plan")
    fakes.failing_steps = set()
    await handle.execute_update("approve", {})
    result = await handle.result()
    assert [(p.id, p.state) for p in result.phases] == [("a", "failed"), ("b", "failed"), ("c", "failed"), ("d", "done")]
    assert fakes.calls[-1].stage == "synthesis" and fakes.calls[-1].context == ["d"]
