"""PlannedWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError

from baton.contracts import FeedbackRequest, PlannedInput, PlannedResult, Status
from tests.test_pipeline_logic import until


def task(id: str, agent: str = "researcher", deps: list[str] | None = None) -> dict:
    return {"id": id, "agent": agent, "prompt": f"do {id}", "depends_on": deps or []}


DIAMOND = {"tasks": [task("a"), task("b", deps=["a"]), task("c", deps=["a"]), task("d", "editor", ["b", "c"])]}


def planned(**overrides) -> PlannedInput:
    return PlannedInput(goal="Write a tide guide", **{"max_parallel": 5, **overrides})


async def test_dag_runs_by_dependencies_each_task_seeing_only_its_inputs(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    fakes.script("plan", DIAMOND)
    result = await (await start("PlannedWorkflow", planned(), PlannedResult)).result()
    order = fakes.stages_called()
    assert order[0] == "plan" and order[1] == "a" and set(order[2:4]) == {"b", "c"} and order[4] == "d"
    assert fakes.max_in_flight == 2  # b and c together
    contexts = {c.stage: c.context for c in fakes.calls}
    assert contexts == {"plan": [], "a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert fakes.calls[0].schema == "Plan" and "- researcher:" in fakes.calls[0].instructions
    assert set(result.outputs) == {"a", "b", "c", "d"} and [r.state for r in result.plan] == ["done"] * 4


async def test_parallelism_is_bounded(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    fakes.script("plan", {"tasks": [task(f"t{i}") for i in range(7)]})
    await (await start("PlannedWorkflow", planned(max_parallel=3), PlannedResult)).result()
    assert fakes.max_in_flight == 3


@pytest.mark.parametrize(
    ("bad_plan", "error"),
    [
        ({"tasks": [task("a", "ghost")]}, "unknown agent 'ghost'"),
        ({"tasks": [task("a", deps=["zz"])]}, "depends on missing task 'zz'"),
        ({"tasks": [task("a", deps=["b"]), task("b", deps=["a"])]}, "cycle"),
        ({"tasks": []}, "no tasks"),
    ],
)
async def test_bad_plans_go_back_to_the_planner_with_the_error(fake_worker, bad_plan, error):
    fakes, start = fake_worker
    fakes.script("plan", bad_plan, {"tasks": [task("a")]})
    result = await (await start("PlannedWorkflow", planned(), PlannedResult)).result()
    replan = fakes.calls[1]
    assert replan.stage == "plan" and replan.context == ["errors in your previous plan"]
    assert list(result.outputs) == ["a"]


async def test_three_bad_plans_fail_the_run_with_the_reason(fake_worker):
    fakes, start = fake_worker
    fakes.script("plan", *[{"tasks": [task("a", "ghost")]}] * 3)
    handle = await start("PlannedWorkflow", planned(), PlannedResult)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert "no valid plan in 3 tries" in str(caught.value.cause) and "unknown agent 'ghost'" in str(caught.value.cause)
    assert caught.value.cause.type == "InvalidPlan"  # a stable type (docs/errors.md)
    assert fakes.stages_called() == ["plan", "plan", "plan"]


async def test_failed_task_skips_its_dependents_only(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"b"}
    fakes.script("plan", {"tasks": [task("a"), task("b"), task("c", deps=["b"]), task("d", deps=["c"]), task("e", deps=["a"])]})
    result = await (await start("PlannedWorkflow", planned(), PlannedResult)).result()
    assert [f.id for f in result.failed] == ["b"] and result.skipped == ["c", "d"]
    assert set(result.outputs) == {"a", "e"}
    assert "c" not in fakes.stages_called()


async def test_planner_defined_agents_run_through_the_agent_activity(fake_worker):
    fakes, start = fake_worker
    fakes.script("plan", {"tasks": [task("poem", "poet")],
                          "agents": [{"name": "poet", "role": "a poet", "instructions": "Write verse."}]})
    handle = await start("PlannedWorkflow", planned(), PlannedResult)
    result = await handle.result()
    assert result.new_agents == ["poet"] and fakes.calls[-1].agent == "poet"
    status = await handle.query("status", result_type=Status)
    assert status.info["new_agents"][0]["name"] == "poet"


async def test_new_agents_refused_when_not_allowed(fake_worker):
    fakes, start = fake_worker
    poet = {"tasks": [task("poem", "poet")], "agents": [{"name": "poet", "role": "a poet", "instructions": "x"}]}
    fakes.script("plan", poet, {"tasks": [task("a")]})
    result = await (await start("PlannedWorkflow", planned(allow_new_agents=False), PlannedResult)).result()
    assert list(result.outputs) == ["a"]


async def test_at_max_failures_a_person_decides_to_continue(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"f1", "f2", "f3"}
    fakes.script("plan", {"tasks": [task("f1"), task("f2"), task("f3"), task("later", deps=["ok"]), task("ok")]})
    # 'ok' (which 'later' needs) finishes only after the third failure: else 'later' may
    # rightly start before the gate closes, and the test would depend on which call ends first.
    release_ok = fakes.hold("ok")
    handle = await start("PlannedWorkflow", planned(max_parallel=3), PlannedResult)
    await until(handle, lambda s: sum(row.state == "failed" for row in s.stages) == 3)
    release_ok.set()
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.awaiting_review == "plan"
    await asyncio.sleep(0.2)
    assert "later" not in fakes.stages_called()  # nothing new starts while it waits
    await handle.signal("approve")
    result = await handle.result()
    assert {f.id for f in result.failed} == {"f1", "f2", "f3"} and set(result.outputs) == {"ok", "later"}


async def test_at_max_failures_feedback_replans(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"f1", "f2", "f3"}
    fakes.script("plan", {"tasks": [task("f1"), task("f2"), task("f3")]}, {"tasks": [task("fixed")]})
    handle = await start("PlannedWorkflow", planned(), PlannedResult)
    await until(handle, lambda s: s.state == "awaiting_review")
    await handle.execute_update("feedback", FeedbackRequest(text="Avoid the f tasks"))
    result = await handle.result()
    assert result.replans == 1 and list(result.outputs) == ["fixed"] and result.failed == []
    second_plan = [c for c in fakes.calls if c.stage == "plan"][1]
    assert second_plan.feedback == ["Avoid the f tasks"]


async def test_at_its_token_budget_the_dag_stops_instead_of_completing_with_tasks_never_run(fake_worker):
    from temporalio.client import WorkflowFailureError
    fakes, start = fake_worker
    fakes.script("plan", {"tasks": [task("a"), task("b", deps=["a"]), task("c", deps=["b"])]})
    # Each fake call uses 15 tokens: the plan and 'a' fit in 20, 'b' may not start.
    handle = await start("PlannedWorkflow", planned(max_tokens_total=20), PlannedResult)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert failed.value.cause.type == "BudgetExceeded" and fakes.stages_called() == ["plan", "a"]
