"""FlowWorkflow's logic on the time-skipping server, with fake agent activities
(the code steps are the real activities running tests/flow_functions.py)."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from baton.contracts import AnswerRequest, ApproveRequest, FeedbackRequest, FlowInput, FlowResult, RewindRequest
from baton.flows.builder import Flow, agent, code, human, map_over, pattern
from baton import code as code_registry
from tests import flow_functions
from tests.test_pipeline_logic import status, until


async def run(start, inp: FlowInput) -> FlowResult:
    handle = await start("FlowWorkflow", inp, FlowResult)
    try:
        return await handle.result()
    except WorkflowFailureError as err:
        raise AssertionError(f"the flow failed: {err.cause}") from err


async def failure(start, inp: FlowInput) -> tuple[str, str]:
    """The run's failure: (error type, message)."""
    handle = await start("FlowWorkflow", inp, FlowResult)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    return err.value.cause.type, err.value.cause.message


def states(result: FlowResult) -> dict[str, str]:
    return {n.id: n.state for n in result.nodes}


async def test_a_static_dag_runs_ready_nodes_in_parallel_each_after_all_it_needs(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    outline = agent("outline", "planner")
    history, science, safety = agent("history", "researcher"), agent("science", "researcher"), agent("safety", "researcher")
    intro, checklist, assemble = agent("intro", "writer"), agent("checklist", "writer"), agent("assemble", "editor")
    outline >> history >> intro
    outline >> science >> intro
    outline >> safety >> checklist
    intro >> assemble
    checklist >> assemble
    result = await run(start, Flow("A tide guide", start=outline, max_parallel=3).input())
    order = fakes.stages_called()
    assert order[0] == "outline" and set(order[1:4]) == {"history", "science", "safety"} and order[-1] == "assemble"
    assert order.index("intro") > max(order.index("history"), order.index("science"))
    assert fakes.max_in_flight == 3
    contexts = {c.stage: c.context for c in fakes.calls}
    assert contexts["intro"] == ["history", "science"] and contexts["assemble"] == ["intro", "checklist"]
    assert all(state == "done" for state in states(result).values()) and result.final == "assemble v1"


@pytest.mark.parametrize(("label", "ran", "skipped"), [
    ("tutorial", ["classify", "research", "draft", "critique", "humanize"], []),
    ("news", ["classify", "research", "draft", "humanize"], ["critique"]),
])
async def test_conditions_on_structured_output_pick_the_branch_and_skip_the_rest(fake_worker, label, ran, skipped):
    fakes, start = fake_worker
    fakes.script("classify", {"label": label, "confidence": 0.9, "reason": "r"})
    classify, research, draft = agent("classify", "classifier", output_schema="Classification"), agent("research", "researcher"), agent("draft", "writer")
    critique, humanize = agent("critique", "editor"), agent("humanize", "humanizer")
    classify >> research >> draft
    draft.when('classify.label == "tutorial"') >> critique >> humanize
    draft.otherwise() >> humanize
    result = await run(start, Flow("Tides", start=classify).input())
    assert fakes.stages_called() == ran
    assert [n for n, s in states(result).items() if s == "skipped"] == skipped
    assert {c.stage: c.context for c in fakes.calls}["humanize"] == (["critique"] if label == "tutorial" else ["draft"])
    taken = [(e.source, e.to, e.when) for e in result.path]
    assert ("draft", "humanize", "else") in taken if label == "news" else ("draft", "critique", 'classify.label == "tutorial"') in taken


async def test_an_agent_chooses_a_labelled_edge_and_a_loop_runs_until_it_says_approved(fake_worker):
    fakes, start = fake_worker
    fakes.script("review", {"answer": "too short", "action": "retry"}, {"answer": "good", "action": "approved"})
    plan, review, final = agent("plan", "planner", max_visits=3), agent("review", "reviewer"), agent("final", "editor")
    plan >> review
    review - "retry" >> plan
    review - "approved" >> final
    result = await run(start, Flow("Tides", start=plan).input())
    assert fakes.stages_called() == ["plan", "review", "plan", "review", "final"]
    review_calls = [c for c in fakes.calls if c.stage == "review"]
    assert review_calls[0].schema is None and result.outputs["review"] == "good"
    assert [c.context for c in fakes.calls if c.stage == "plan"] == [[], ["review"]]  # the critique goes back
    assert {n.id: n.visits for n in result.nodes} == {"plan": 2, "review": 2, "final": 1}
    assert [(e.source, e.to, e.label, e.back) for e in result.path if e.source == "review"] == [
        ("review", "plan", "retry", True), ("review", "final", "approved", False)]


async def test_the_agent_is_offered_exactly_its_labels(fake_worker):
    fakes, start = fake_worker
    fakes.script("review", {"answer": "ok", "action": "ship"})
    review, ship, hold = agent("review", "reviewer"), agent("ship", "editor"), agent("hold", "editor")
    review - "ship" >> ship
    review - "hold" >> hold
    result = await run(start, Flow("Tides", start=review).input())
    assert fakes.stages_called() == ["review", "ship"] and states(result)["hold"] == "skipped"
    assert {n.id: n.error for n in result.nodes}["hold"] == "skipped: no edge into it fired"


async def test_a_loop_past_its_bound_fails_the_run_naming_the_node(fake_worker):
    fakes, start = fake_worker
    fakes.script("review", *[{"answer": "no", "action": "retry"}] * 5)
    plan, review, final = agent("plan", "planner", max_visits=2), agent("review", "reviewer"), agent("final", "editor")
    plan >> review
    review - "retry" >> plan
    review - "approved" >> final
    kind, message = await failure(start, Flow("Tides", start=plan).input())
    assert kind == "FlowFailed" and "node 'plan' reached max_visits 2" in message
    assert fakes.stages_called() == ["plan", "review", "plan", "review"]


async def test_a_loop_at_its_bound_goes_where_the_flow_says(fake_worker):
    fakes, start = fake_worker
    fakes.script("review", *[{"answer": "no", "action": "retry"}] * 5)
    review, final = agent("review", "reviewer"), agent("final", "editor")
    plan = agent("plan", "planner", max_visits=2, on_max_visits=final)
    plan >> review
    review - "retry" >> plan
    review - "approved" >> final
    result = await run(start, Flow("Tides", start=plan).input())
    assert fakes.stages_called() == ["plan", "review", "plan", "review", "final"]
    assert fakes.calls[-1].context == ["plan"] and result.final == "final v1"


async def test_several_edges_fire_at_once_and_their_branches_run_in_parallel(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    split, left, right = agent("split", "planner"), agent("left", "writer"), agent("right", "writer")
    split >> left
    split >> right
    result = await run(start, Flow("Tides", start=split).input())
    assert fakes.max_in_flight == 2 and set(result.outputs) == {"split", "left", "right"}


async def test_max_parallel_bounds_the_branches(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    split = agent("split", "planner")
    for n in range(4):
        split >> agent(f"b{n}", "writer")
    await run(start, Flow("Tides", start=split, max_parallel=2).input())
    assert fakes.max_in_flight == 2


async def test_join_any_runs_on_the_first_edge_and_once(fake_worker):
    fakes, start = fake_worker
    fast, slow = agent("fast", "writer"), agent("slow", "writer")
    split, first = agent("split", "planner"), agent("first", "editor", join="any")
    split >> fast >> first
    split >> slow >> first
    gate = fakes.hold("slow")
    handle = await start("FlowWorkflow", Flow("Tides", start=split).input(), FlowResult)
    await until(handle, lambda s: "first" in s.completed_stages)
    gate.set()
    await handle.result()
    assert fakes.stages_called().count("first") == 1
    assert [c.context for c in fakes.calls if c.stage == "first"] == [["fast"]]


async def test_a_map_runs_one_call_per_item_bounded_in_order_with_failures_isolated(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    fakes.script("plan", {"tasks": [{"id": f"t{i}", "agent": "writer", "prompt": f"part {i}"} for i in range(5)]})
    fakes.failing_steps.add("work[2]")
    plan = agent("plan", "planner", output_schema="Plan")
    work = map_over("work", "plan.tasks", agent="writer", max_parallel=2, instructions="Do your part.")
    plan >> work >> agent("join", "editor")
    result = await run(start, Flow("Tides", start=plan).input())
    assert fakes.max_in_flight == 2
    assert result.data["work"]["outputs"] == ["work[0] v1", "work[1] v1", None, "work[3] v1", "work[4] v1"]
    assert [f["index"] for f in result.data["work"]["failed"]] == [2]
    items = {c.stage: c for c in fakes.calls if c.stage.startswith("work[")}
    assert len(items) == 5 and items["work[0]"].context == ["plan", "item 1 of 5"] and items["work[0]"].instructions == "Do your part."
    assert states(result)["work"] == "done" and fakes.calls[-1].context == ["work"]


async def test_a_map_of_code_steps_gives_each_item_to_the_function(fake_worker):
    fakes, start = fake_worker
    listing = code("listing", "numbers", args={"count": 3})
    bumped = map_over("bumped", "listing", function="count_up", args={"n": "=item", "limit": 100})
    listing >> bumped
    result = await run(start, Flow("Count", start=listing).input())
    assert result.data["bumped"]["outputs"] == [{"n": 2, "done": False}, {"n": 3, "done": False}, {"n": 4, "done": False}]
    assert fakes.calls == []


async def test_code_steps_take_arguments_from_earlier_outputs(fake_worker):
    fakes, start = fake_worker
    fakes.script("name", {"label": "tide pools", "confidence": 1.0, "reason": "r"})
    name = agent("name", "classifier", output_schema="Classification")
    loud = code("loud", "shout", args={"text": "=name.label"})
    name >> loud
    result = await run(start, Flow("Tides", start=name).input())
    assert result.outputs["loud"] == "TIDE POOLS" and result.final == "TIDE POOLS"


async def test_a_failure_edge_runs_the_compensation_with_the_failure_in_its_context(fake_worker):
    fakes, start = fake_worker
    flow_functions.ATTEMPTS.clear()
    boom = code("charge", "explode", args={"reason": "card declined"})
    refund, receipt = agent("refund", "writer"), agent("receipt", "writer")
    boom >> receipt
    boom.on_failure() >> refund
    result = await run(start, Flow("Buy", start=boom).input())
    assert flow_functions.ATTEMPTS["explode"] == 2  # the function's own retry policy: 2 attempts
    assert fakes.stages_called() == ["refund"] and fakes.calls[0].context == ["charge"]
    assert states(result) == {"charge": "failed", "refund": "done", "receipt": "skipped"}
    assert "card declined" in result.outputs.get("charge", "") or "card declined" in result.nodes[0].error


async def test_a_failure_nothing_catches_fails_the_run_naming_the_node(fake_worker):
    fakes, start = fake_worker
    boom = code("charge", "explode", args={"reason": "card declined"})
    boom >> agent("receipt", "writer")
    kind, message = await failure(start, Flow("Buy", start=boom).input())
    assert kind == "CodeFailed" and "node 'charge' (explode) failed" in message and "card declined" in message
    assert fakes.calls == []


async def test_a_person_answers_a_question_and_the_answer_picks_the_edge(fake_worker):
    fakes, start = fake_worker
    draft, ask = agent("draft", "writer"), human("ask", "Publish now or hold?")
    publish, hold = agent("publish", "publisher"), agent("hold", "editor")
    draft >> ask
    ask - "publish" >> publish
    ask - "hold" >> hold
    handle = await start("FlowWorkflow", Flow("Tides", start=draft).input(), FlowResult)
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.info["asking"] == {"ask": "Publish now or hold?"}
    assert waiting.awaiting_review == "ask" and waiting.current_stage == "ask"  # what a person is asked about
    for bad, why in [(AnswerRequest(text="yes", label="later"), "needs a label: one of publish, hold"),
                     (AnswerRequest(node="draft", text="yes", label="hold"), "'draft' is not waiting for an answer"),
                     (AnswerRequest(node="ghost", text="yes"), "unknown node 'ghost'")]:
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update("answer", bad)
        assert why in str(err.value.cause)
    await handle.execute_update("answer", AnswerRequest(text="Hold it until Monday", label="hold"))
    result = await handle.result()
    assert fakes.stages_called() == ["draft", "hold"] and result.outputs["ask"] == "Hold it until Monday"
    assert fakes.calls[-1].context == ["ask"]


async def test_a_human_node_without_a_question_waits_for_an_approval(fake_worker):
    fakes, start = fake_worker
    draft, sign_off, publish = agent("draft", "writer"), human("sign_off"), agent("publish", "publisher")
    draft >> sign_off >> publish
    handle = await start("FlowWorkflow", Flow("Tides", start=draft).input(), FlowResult)
    waiting = await until(handle, lambda s: s.awaiting_review == "sign_off")
    assert fakes.stages_called() == ["draft"] and waiting.state == "awaiting_review"
    await handle.execute_update("approve", ApproveRequest(stage="sign_off"))
    result = await handle.result()
    assert fakes.stages_called() == ["draft", "publish"] and result.outputs["sign_off"] == "approved"


async def test_feedback_at_a_review_gate_runs_the_node_and_every_node_forward_of_it_again(fake_worker):
    fakes, start = fake_worker
    research, draft, edit = agent("research", "researcher"), agent("draft", "writer", review=True), agent("edit", "editor")
    research >> draft >> edit
    handle = await start("FlowWorkflow", Flow("Tides", start=research).input(), FlowResult)
    await until(handle, lambda s: s.awaiting_review == "draft")
    await handle.execute_update("feedback", FeedbackRequest(text="Shorter, please"))
    await until(handle, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
    await handle.execute_update("approve", ApproveRequest())
    result = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "draft", "edit"]
    assert fakes.calls[2].feedback == ["Shorter, please"] and fakes.calls[2].context == ["research"]
    assert result.outputs["draft"] == "draft v2" and {n.id: n.visits for n in result.nodes}["draft"] == 1


async def test_rewind_runs_a_finished_node_again_with_what_it_saw(fake_worker):
    fakes, start = fake_worker
    research, draft, gate = agent("research", "researcher"), agent("draft", "writer"), human("sign_off")
    research >> draft >> gate
    handle = await start("FlowWorkflow", Flow("Tides", start=research).input(), FlowResult)
    await until(handle, lambda s: s.awaiting_review == "sign_off")
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update("rewind", RewindRequest(stage="ghost"))
    assert "unknown node 'ghost'" in str(err.value.cause)
    await handle.execute_update("rewind", RewindRequest(stage="research"))
    await until(handle, lambda s: s.awaiting_review == "sign_off" and s.stages[0].runs == 2)
    await handle.execute_update("approve", ApproveRequest())
    result = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "research", "draft"]
    assert result.outputs == {"research": "research v2", "draft": "draft v2", "sign_off": "approved"}


async def test_a_pattern_node_runs_a_child_run_and_pause_reaches_it(fake_worker, skip_env):
    fake_client = skip_env.client
    fakes, start = fake_worker
    gate = fakes.hold("deep-research")
    brief = agent("brief", "planner")
    deep = pattern("deep", "pipeline", input={"stages": [{"name": "deep-research", "agent": "researcher"},
                                                         {"name": "deep-draft", "agent": "writer"}]})
    brief >> deep >> agent("wrap", "editor")
    handle = await start("FlowWorkflow", Flow("Tides", start=brief).input(), FlowResult)
    await asyncio.wait_for(fakes.started["deep-research"].wait(), 20)
    await handle.signal("pause")
    child = fake_client.get_workflow_handle(handle.id + "-deep-1")
    await until(child, lambda s: s.state == "paused")  # the pause reached the child run
    gate.set()
    await until(child, lambda s: "deep-research" in s.completed_stages)
    assert "deep-draft" not in fakes.stages_called()  # paused: its next call waits
    await handle.signal("resume")
    result = await handle.result()
    assert fakes.stages_called() == ["brief", "deep-research", "deep-draft", "wrap"]
    assert [c.context for c in fakes.calls if c.stage == "deep-research"] == [[]]
    assert result.outputs["deep"] == "deep-draft v1" and result.data["deep"]["outputs"]["deep-research"] == "deep-research v1"
    assert result.usage.total_tokens == 4 * 15  # the child's calls count in the flow's usage
    assert (await status(child)).state == "completed"


async def test_a_condition_that_cannot_be_decided_stops_the_run_naming_the_edge(fake_worker):
    fakes, start = fake_worker
    fakes.script("classify", {"label": "tutorial", "confidence": 0.9, "reason": "r"})
    classify = agent("classify", "classifier", output_schema="Classification")
    classify.when("classify.label > 3") >> agent("next", "writer")
    kind, message = await failure(start, Flow("Tides", start=classify).input())
    assert kind == "FlowFailed"
    assert "edge 0 (classify → next): cannot decide 'classify.label > 3': cannot order a string and a number" in message


async def test_a_long_loop_continues_as_new_carrying_the_flow_state(fake_worker):
    fakes, start = fake_worker
    end = agent("end", "editor")
    setup = agent("setup", "planner")
    tick = code("tick", "shout", args={"text": "=goal"}, max_visits=40, on_max_visits=end)
    setup >> tick >> tick
    handle = await start("FlowWorkflow", Flow("tick", start=setup, max_history_events=200).input(), FlowResult)
    result = await handle.result()
    assert result.runs > 1 and {n.id: n.visits for n in result.nodes} == {"setup": 1, "tick": 40, "end": 1}
    assert states(result) == {"setup": "done", "tick": "skipped", "end": "done"}  # tick: skipped at its bound
    assert {n.id: n.error for n in result.nodes}["tick"] == "skipped: reached max_visits 40"
    assert result.edges_taken == 41 and result.outputs["tick"] == "TICK"  # setup → tick, then 40 loops
    assert result.outputs["setup"] == "setup v1"  # carried from the first run
    assert fakes.stages_called() == ["setup", "end"] and fakes.calls[1].context == ["tick"]
    assert result.usage.total_tokens == 30  # both calls, across the runs


async def test_a_flow_started_without_the_client_check_fails_at_once_with_every_problem(fake_worker):
    fakes, start = fake_worker
    plan = agent("plan", "planner")
    listing = code("listing", "no_such_function")
    work = map_over("work", "plan", agent="writer")
    plan >> listing
    plan.when("plan.score > 1") >> work
    handle = await start("FlowWorkflow", Flow("Tides", start=plan).input(), FlowResult)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    failure = err.value.cause
    assert failure.type == "InvalidInput" and failure.details[0]["problems"] == [
        "edge 1 (plan → work): 'plan.score > 1': 'plan''s output is text (it has no output schema), so it has no field 'score'",
        "node 'listing': unknown code function 'no_such_function' (registered: " + ", ".join(
            sorted(f.info.name for f in code_registry.registered())) + ")",
        "node 'work': over 'plan': is text, not a list"]
    assert fakes.calls == []  # nothing ran
    assert (await status(handle)).error.startswith("invalid flow input:")


async def test_a_question_nobody_answers_goes_on_or_fails_at_the_review_deadline(fake_worker):
    # A 1 s deadline, not a long one: an earlier test of the session can leave the
    # time-skipping server's clock locked (a fake call finishing after its run was
    # cancelled), and a long timer would then wait in real time.
    fakes, start = fake_worker
    ask, after = human("ask", "Which harbour?"), agent("after", "writer")
    ask >> after
    result = await run(start, Flow("Tides", start=ask, review_deadline_seconds=1, on_review_deadline="approve").input())
    assert result.outputs["ask"] == "(no answer within 1s)" and fakes.calls[0].context == ["ask"]
    kind, message = await failure(start, Flow("Tides", start=ask, review_deadline_seconds=1).input())
    assert kind == "ReviewDeadline" and "nobody answered node 'ask' within 1s" in message


async def test_a_flow_runs_another_flow_as_a_node(fake_worker):
    fakes, start = fake_worker
    inner = Flow("(set by the outer flow)", start=agent("inner-draft", "writer")).data()
    outer_start = agent("brief", "planner")
    outer_start >> pattern("sub", "flow", input={k: v for k, v in inner.items() if k != "goal"})
    result = await run(start, Flow("Tides", start=outer_start).input())
    assert fakes.stages_called() == ["brief", "inner-draft"]
    assert result.data["sub"]["outputs"] == {"inner-draft": "inner-draft v1"} and result.usage.total_tokens == 30
