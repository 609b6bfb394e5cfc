"""Record workflow histories for the replay tests (tests/histories/*.json).

    .venv/bin/python -m tests.record_histories            # the scenarios with no history yet
    .venv/bin/python -m tests.record_histories NAME ...   # these again

Runs each scenario on a fresh in-memory dev server with Baton's real worker and
the scripted LLM, then writes each run's history. Record again only when a
change is *meant* to alter histories (and version it with ``workflow.patched``
so runs already open keep replaying); never to make a failing replay pass.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from baton import client as baton
from baton import search
from baton.content import content_pipeline
from baton.contracts import ForkSpec, PipelineInput, PlannedInput, StageSpec, Status
from baton.flows import builder
from tests import flow_scenarios
from tests.conftest import TEMPORAL_CLI, TOOL_AGENTS, real_worker
from tests.llm_server import Reply, ScriptedLLM

HISTORIES = Path(__file__).parent / "histories"
QUEUE = "record"


def stages(*specs: tuple) -> PipelineInput:
    return PipelineInput(goal="Explain tides", stages=[StageSpec(name=s[0], agent=s[1], review=len(s) > 2) for s in specs])


async def wait_for(client: Client, workflow_id: str, predicate) -> None:
    while not predicate(await baton.status(client, workflow_id)):
        await asyncio.sleep(0.05)


async def straight(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: critique", '{"verdict": "approve", "score": 8, "issues": []}')
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer"), ("critique", "critic")), queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def steer_every_way(client: Client, workflow_id: str) -> None:
    """Pause and resume; at the gate after 'draft' (the second step): feedback, a
    rewind to 'research', then the approval."""
    await baton.pause(client, workflow_id)
    await baton.resume(client, workflow_id)
    await wait_for(client, workflow_id, lambda s: s.awaiting_review == "draft")
    await baton.feedback(client, workflow_id, "Use a beach analogy")
    await wait_for(client, workflow_id, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
    await baton.rewind(client, workflow_id, "research")
    await wait_for(client, workflow_id, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 3)
    await baton.approve(client, workflow_id, "draft")


async def steered(client: Client, llm: ScriptedLLM) -> str:
    """Pause, resume, feedback, rewind and approvals: every handler in one history."""
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer", True), ("edit", "editor")), queue=QUEUE)
    await steer_every_way(client, handle.id)
    await baton.wait_result(client, handle.id)
    return handle.id


async def from_another_sdk(client: Client, llm: ScriptedLLM) -> str:
    """Started as the temporal CLI or another SDK starts it (raw JSON, no search
    attributes: the run indexes itself), then a mistaken approve signal (ignored and
    kept in the memo), a rejected approve update and an accepted one."""
    workflow_id = "pipeline_from_another_sdk"
    raw = {"goal": "Explain tides", "stages": [{"name": "research", "agent": "researcher"},
                                               {"name": "draft", "agent": "writer", "review": True}]}
    await client.start_workflow("PipelineWorkflow", raw, id=workflow_id, task_queue=QUEUE)
    await wait_for(client, workflow_id, lambda s: s.awaiting_review == "draft")
    await client.get_workflow_handle(workflow_id).signal("approve", {"stage": "research"})
    await wait_for(client, workflow_id, lambda s: bool(s.ignored_signals))
    try:
        await baton.approve(client, workflow_id, "draft", run=2)
    except baton.BatonError:
        pass  # rejected by the validator: not in the history
    await baton.approve(client, workflow_id, "draft", run=1)
    await baton.wait_result(client, workflow_id)
    return workflow_id


async def stray_signals(client: Client, llm: ScriptedLLM) -> str:
    """Signals that change nothing (a misspelt name, a pause with an argument), each kept
    visible in the memo (SIGNALS_SEEN), then the approval that goes on."""
    workflow_id = "pipeline_stray_signals"
    await client.start_workflow("PipelineWorkflow", {"goal": "Explain tides", "stages": [
        {"name": "research", "agent": "researcher"}, {"name": "draft", "agent": "writer", "review": True}]},
        id=workflow_id, task_queue=QUEUE)
    await wait_for(client, workflow_id, lambda s: s.awaiting_review == "draft")
    handle = client.get_workflow_handle(workflow_id)
    await handle.signal("aprove", {"stage": "draft"})
    await handle.signal("pause", {"x": 1})
    await wait_for(client, workflow_id, lambda s: len(s.ignored_signals) == 2)
    await handle.signal("approve", {"stage": "draft"})
    await baton.wait_result(client, workflow_id)
    return workflow_id


async def bad_input(client: Client, llm: ScriptedLLM) -> str:
    """Input another client typed wrongly: the run fails at once (InvalidInput)."""
    workflow_id = "pipeline_bad_input"
    handle = await client.start_workflow("PipelineWorkflow", {"goal": 42, "stages": []}, id=workflow_id, task_queue=QUEUE)
    try:
        await handle.result()
    except WorkflowFailureError:
        pass
    return workflow_id


async def retried_and_fallback(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: research", Reply(status=500), "facts")
    llm.script("Often fails", Reply(status=404), "fallback answer")
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("risky", "flaky")), queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def short_agent(client: Client, llm: ScriptedLLM) -> str:
    """A short agent's calls (local activities): one retried, one falling back to another model."""
    llm.script("Your stage: triage", Reply(status=500), "urgent")
    llm.script("Your stage: sort", Reply(status=500), Reply(status=500), "sorted by the fallback")
    handle = await baton.start_pipeline(client, stages(("triage", "quick"), ("sort", "quick"), ("draft", "writer")), queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def cancelled(client: Client, llm: ScriptedLLM) -> str:
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer", True)), queue=QUEUE)
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "draft")
    await baton.cancel(client, handle.id)
    await wait_for(client, handle.id, lambda s: s.state == "cancelled")
    return handle.id


async def failed(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: research", Reply(status=401))
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer")), queue=QUEUE)
    try:
        await baton.wait_result(client, handle.id)
    except baton.BatonError:
        pass
    return handle.id


async def pattern(client: Client, name: str, inp: dict, workflow_id: str, when: Callable[[Status], bool] | None = None,
                  steer: Callable[[str], Awaitable[Any]] | None = None) -> str:
    """Start and finish a run; its id is the history's file name, which the replay
    test gives the replayer (patterns that name children after their id need it).
    ``steer`` (given the run's id) is what a person does once ``when`` holds."""
    handle = await baton.start(client, baton.parse_input(name, inp), workflow_id=workflow_id, queue=QUEUE)
    if when is not None and steer is not None:
        await wait_for(client, handle.id, when)
        await steer(handle.id)
    await baton.wait_result(client, handle.id)
    return handle.id


async def fan_out(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("b", Reply(status=400))
    return await pattern(client, "fan-out", {"goal": "Compare tides", "max_parallel": 2, "tasks": [
        {"id": "a", "agent": "researcher", "prompt": "Atlantic"}, {"id": "b", "agent": "researcher", "prompt": "Pacific"},
        {"id": "c", "agent": "writer", "prompt": "Baltic"}]}, "fan_out")


async def map_reduce(client: Client, llm: ScriptedLLM) -> str:
    items = [f"review {i}" for i in range(30)]
    return await pattern(client, "map-reduce", {"goal": "Tag reviews", "items": items, "mapper": "researcher",
                                                "reducer": "summarizer", "batch_size": 10, "reduce_fan_in": 2}, "map_reduce")


async def panel(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("consensus", '{"consensus": "Moon first", "agreement": 0.75, "dissent": []}')
    return await pattern(client, "panel", {"question": "What drives tides?", "rounds": 2, "experts": [
        {"name": "physicist", "agent": "researcher", "role": "a physicist"}, {"name": "sailor", "agent": "writer", "role": "a sailor"}]}, "panel")


async def router(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("classify", '{"agent": "poet", "confidence": 0.9, "reason": "?"}')
    return await pattern(client, "router", {"input": "Why tides?", "default": "writer",
                                            "routes": [{"agent": "researcher", "description": "facts"}]}, "router")


async def supervisor(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("turn-1", Reply(tool_calls=[("delegate", {"agent": "researcher", "instruction": "facts"}),
                                                 ("delegate", {"agent": "poet", "instruction": "?"})]))
    llm.script_stage("turn-2", Reply(tool_calls=[("ask_person", {"question": "Which coast?"})]))
    llm.script_stage("turn-3", Reply(tool_calls=[("finish", {"answer": "Tides of Brittany."})]))
    handle = await baton.start(client, baton.parse_input("supervisor", {"goal": "Explain tides", "workers": ["researcher"]}),
                         workflow_id="supervisor", queue=QUEUE)
    await baton.pause(client, handle.id)
    await baton.resume(client, handle.id)
    await wait_for(client, handle.id, lambda s: s.state == "awaiting_review")
    await baton.feedback(client, handle.id, "Brittany")
    await baton.wait_result(client, handle.id)
    return handle.id


async def planned(client: Client, llm: ScriptedLLM) -> str:
    bad = {"tasks": [{"id": "a", "agent": "researcher", "prompt": "x", "depends_on": ["a"]}]}
    good = {"tasks": [{"id": "facts", "agent": "researcher", "prompt": "facts", "depends_on": []},
                      {"id": "guide", "agent": "guide_writer", "prompt": "write", "depends_on": ["facts"]}],
            "agents": [{"name": "guide_writer", "role": "a guide writer", "instructions": "Short."}]}
    llm.script_stage("plan", json.dumps(bad), json.dumps(good))
    return await pattern(client, "planned", {"goal": "A tide guide", "agents": ["researcher", "writer"]}, "planned")


async def review_loop(client: Client, llm: ScriptedLLM) -> str:
    plan = '{"tasks": [{"id": "draft", "agent": "writer", "prompt": "write", "depends_on": []}]}'
    llm.script_stage("plan.r1", plan)
    llm.script_stage("plan.r2", plan)
    llm.script_stage("review.r1", '{"approved": false, "critique": "Add the moon."}')
    llm.script_stage("review.r2", '{"approved": true, "critique": ""}')
    return await pattern(client, "review-loop", {"goal": "Explain tides", "workers": ["writer"]}, "review_loop")


async def hierarchical(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("plan", json.dumps({"phases": [
        {"id": "facts", "pattern": "fan-out", "goal": "gather", "agents": ["researcher"]},
        {"id": "write", "pattern": "pipeline", "goal": "write", "agents": ["writer"]}], "agents": []}))
    return await pattern(client, "hierarchical", {"goal": "A tide guide"}, "hierarchical")


# Runs started after workflow.patched("baton-rerun-any-step"): the paths new runs take,
# steered (the histories above replay the paths of runs started before it).

async def fan_out_rerun(client: Client, llm: ScriptedLLM) -> str:
    """Three failed tasks stop a fan-out at its failure gate; feedback runs one again."""
    for task in ("t0", "t1", "t2"):
        llm.script_stage(task, Reply(status=400), f"{task} on the second try")
    tasks = [{"id": f"t{n}", "agent": "researcher", "prompt": f"part {n}"} for n in range(4)]
    return await pattern(client, "fan-out", {"goal": "Compare tides", "tasks": tasks, "max_parallel": 4}, "fan_out_rerun",
                         when=lambda s: s.awaiting_review == "failures",
                         steer=lambda run: baton.feedback(client, run, "Use the tide tables", "t1"))


async def planned_rerun(client: Client, llm: ScriptedLLM) -> str:
    """Feedback on a finished task while its dependent runs: both run again."""
    llm.script_stage("plan", json.dumps({"tasks": [{"id": "a", "agent": "researcher", "prompt": "facts", "depends_on": []},
                                                   {"id": "b", "agent": "writer", "prompt": "write", "depends_on": ["a"]}]}))
    llm.script_stage("b", Reply(text="slow b", delay=2))
    return await pattern(client, "planned", {"goal": "A tide guide", "agents": ["researcher", "writer"]}, "planned_rerun",
                         when=lambda s: "b" in s.running,
                         steer=lambda run: baton.feedback(client, run, "More numbers", "a"))


async def panel_rerun(client: Client, llm: ScriptedLLM) -> str:
    """Rewind to an expert's first answer while the moderator writes."""
    llm.script_stage("consensus", Reply(text='{"consensus": "Moon", "agreement": 0.8, "dissent": []}', delay=2),
                     '{"consensus": "Moon first", "agreement": 0.9, "dissent": []}')
    return await pattern(client, "panel", {"question": "What drives tides?", "experts": [
        {"name": "physicist", "agent": "researcher", "role": "a physicist"}, {"name": "sailor", "agent": "writer", "role": "a sailor"}]}, "panel_rerun",
                         when=lambda s: "consensus" in s.running,
                         steer=lambda run: baton.rewind(client, run, "sailor.r1"))


async def review_loop_rerun(client: Client, llm: ScriptedLLM) -> str:
    """Feedback on the round's task while the reviewer reads: the task, then the review, again."""
    llm.script_stage("plan.r1", '{"tasks": [{"id": "draft", "agent": "writer", "prompt": "write", "depends_on": []}]}')
    llm.script_stage("review.r1", Reply(text='{"approved": true, "critique": ""}', delay=2), '{"approved": true, "critique": ""}')
    return await pattern(client, "review-loop", {"goal": "Explain tides", "workers": ["writer"]}, "review_loop_rerun",
                         when=lambda s: "review.r1" in s.running,
                         steer=lambda run: baton.feedback(client, run, "Shorter", "draft.r1"))


async def map_reduce_rerun(client: Client, llm: ScriptedLLM) -> str:
    """Feedback on a finished batch while the next one runs: it runs again as a new child."""
    llm.script_stage("item-2", Reply(text="slow", delay=2))
    return await pattern(client, "map-reduce", {
        "goal": "Tag reviews", "items": [f"review {i}" for i in range(4)], "mapper": "researcher", "reducer": "summarizer",
        "batch_size": 2, "max_batches_in_flight": 1}, "map_reduce_rerun",
                         when=lambda s: "batch-2" in [r.name for r in s.stages if r.state == "running"],
                         steer=lambda run: baton.feedback(client, run, "Tag the tone too", "batch-1"))


async def hierarchical_gate(client: Client, llm: ScriptedLLM) -> str:
    """Three failed phases stop the run at its gate; a person approves going on."""
    llm.script_stage("plan", json.dumps({"phases": [{"id": p, "pattern": "pipeline", "goal": p, "agents": ["writer"]}
                                                    for p in ("a", "b", "c", "d")], "agents": []}))
    llm.script_stage("1-writer", Reply(status=400), Reply(status=400), Reply(status=400))
    return await pattern(client, "hierarchical", {"goal": "A tide guide"}, "hierarchical_gate",
                         when=lambda s: s.awaiting_review == "plan",
                         steer=lambda run: baton.approve(client, run))


async def critics(client: Client, llm: ScriptedLLM) -> str:
    """The example pattern of docs/authoring.md (examples/critics.py, loaded by tests/conftest.py)."""
    llm.script_stage("critic.r1", '{"approved": false, "critique": "Mention the moon."}')
    llm.script_stage("reviewer.r1", '{"approved": true, "critique": ""}')
    llm.script_stage("critic.r2", '{"approved": true, "critique": ""}')
    llm.script_stage("reviewer.r2", '{"approved": true, "critique": ""}')
    return await pattern(client, "critics", {"goal": "Explain tides in one paragraph"}, "critics")


async def content(client: Client, llm: ScriptedLLM) -> str:
    llm.script_stage("classify", '{"label": "tutorial", "confidence": 0.9, "reason": "how-to"}')
    llm.script_stage("critique", '{"verdict": "approve", "score": 8, "issues": []}')
    inp = content_pipeline("Tides for sailors", automatic={"research", "draft", "critique", "humanize", "image_prompts", "publish_metadata"})
    handle = await baton.start(client, inp, workflow_id="content_pipeline", queue=QUEUE)
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "focus_questions")
    await baton.feedback(client, handle.id, "Sailors in Brittany")
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "focus_questions" and s.stages[1].runs == 2)
    await baton.approve(client, handle.id)
    await baton.wait_result(client, handle.id)
    return handle.id


def flow_example(name: str) -> Callable[[Client, ScriptedLLM], Awaitable[str]]:
    """An example flow (examples/flows/NAME.toml) as the suite runs it (tests/flow_scenarios.py)."""

    async def scenario(client: Client, llm: ScriptedLLM) -> str:
        flow_scenarios.script(llm, name)
        handle = await baton.start(client, flow_scenarios.example(name), workflow_id=f"flow_{name}", queue=QUEUE)
        await flow_scenarios.steer(client, handle.id, name)
        await baton.wait_result(client, handle.id)
        return handle.id

    return scenario


async def flow_steered(client: Client, llm: ScriptedLLM) -> str:
    """A flow steered every way: pause / resume, feedback at a node's gate, rewind,
    approve, a rejected answer and an accepted one with a label."""
    research, draft = builder.agent("research", "researcher"), builder.agent("draft", "writer", review=True)
    ask, publish, hold = builder.human("ask", "Publish or hold?"), builder.agent("publish", "publisher"), builder.agent("hold", "editor")
    research >> draft >> ask
    ask - "publish" >> publish
    ask - "hold" >> hold
    handle = await baton.start(client, builder.Flow("Explain tides", start=research).input(), workflow_id="flow_steered", queue=QUEUE)
    await steer_every_way(client, handle.id)
    await wait_for(client, handle.id, lambda s: "ask" in s.info.get("asking", {}))
    try:
        await baton.answer(client, handle.id, "Hold", label="later")
    except baton.BatonError:
        pass  # rejected: not one of the node's labels
    await baton.answer(client, handle.id, "Hold it until Monday", label="hold")
    await baton.wait_result(client, handle.id)
    return handle.id


async def flow_parts(client: Client, llm: ScriptedLLM) -> str:
    """Code steps, a failure edge, a map over a code step's list, a pattern node, an else edge and a join."""
    listing = builder.code("listing", "numbers", args={"count": 3})
    bumped = builder.map_over("bumped", "listing", function="count_up", args={"n": "=item", "limit": 2})
    charge = builder.code("charge", "explode", args={"reason": "card declined"})
    refund = builder.agent("refund", "writer")
    deep = builder.pattern("deep", "pipeline", input={"stages": [{"name": "deep-research", "agent": "researcher"}]})
    wrap = builder.agent("wrap", "editor")
    listing >> bumped >> charge
    charge.on_failure() >> refund >> wrap
    bumped.when("listing == [1, 2, 3]") >> deep >> wrap
    bumped.otherwise() >> wrap
    handle = await baton.start(client, builder.Flow("Count and charge", start=listing).input(), workflow_id="flow_parts",
                               queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def flow_continued(client: Client, llm: ScriptedLLM) -> str:
    """A loop that continues as new (the history of its first run, which ends continuing)."""
    end = builder.agent("end", "editor")
    tick = builder.code("tick", "shout", args={"text": "=goal"}, max_visits=30, on_max_visits=end)
    tick >> tick
    inp = builder.Flow("tick", start=tick, max_history_events=200).input()
    handle = await baton.start(client, inp, workflow_id="flow_continued", queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.first_execution_run_id and handle.id


async def tools(client: Client, llm: ScriptedLLM) -> str:
    """A function tool and an MCP tool in parallel, one retried; then a tool needing
    approval, called twice: one approved, one denied."""
    llm.script_stage("find", Reply(tool_calls=[("search", {"query": "spring tides"}), ("flaky_lookup", {"topic": "moon"}),
                                               ("notes__lookup", {"topic": "tides"})]), "Tides follow the moon.")
    llm.script_stage("file", Reply(tool_calls=[("notes__add_note", {"topic": "tides", "text": "two a day"}),
                                               ("notes__add_note", {"topic": "moon", "text": "made of cheese"})]),
                     "Filed one note.")
    handle = await baton.start_pipeline(client, stages(("find", "scout"), ("file", "archivist")), queue=QUEUE)
    await wait_for(client, handle.id, lambda s: len(s.tool_approvals) == 2)
    await baton.approve_tool(client, handle.id, "tool-1", by="recorder")
    await baton.deny_tool(client, handle.id, "not a fact", "tool-2", by="recorder")
    await baton.wait_result(client, handle.id)
    return handle.id


async def tools_deadline(client: Client, llm: ScriptedLLM) -> str:
    """A tool call needing approval that nobody decides: denied at the review deadline."""
    llm.script_stage("file", Reply(tool_calls=[("notes__add_note", {"topic": "tides", "text": "unattended"})]),
                     "Could not file it.")
    inp = stages(("file", "archivist")).model_copy(update={"review_deadline_seconds": 1, "on_review_deadline": "approve"})
    handle = await baton.start_pipeline(client, inp, queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def pipeline_forked(client: Client, llm: ScriptedLLM) -> str:
    """A fork after a pipeline's first stage with another model for a later stage; at
    its gate an edit, a skip with a person's output, another agent and another model."""
    plain = stages(("a", "researcher"), ("b", "writer"), ("c", "editor"), ("d", "summarizer"))
    source = await baton.start(client, plain, workflow_id="pipeline_forked-source", queue=QUEUE)
    await baton.wait_result(client, source.id)
    gated = plain.model_copy(update={"stages": [s.model_copy(update={"review": s.name == "b"}) for s in plain.stages]})
    handle = await baton.fork(client, source.id, "after a", inp=gated, models={"c": "backup-model"},
                              workflow_id="pipeline_forked", queue=QUEUE)
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "b")
    await baton.edit_output(client, handle.id, "b", "b, edited", note="recorder")
    await baton.skip(client, handle.id, "d", "written by hand", output="d by hand")
    await baton.set_agent(client, handle.id, "c", "writer")
    await baton.set_model(client, handle.id, "c", "test-model")
    await baton.approve(client, handle.id, "b")
    await baton.wait_result(client, handle.id)
    return handle.id


async def pipeline_forked_unindexed(client: Client, llm: ScriptedLLM) -> str:
    """A fork started as the temporal CLI starts one, without search attributes: it
    indexes itself, BatonForkOf included."""
    plain = stages(("a", "researcher"), ("b", "writer"))
    source = await baton.start(client, plain, workflow_id="pipeline_forked_unindexed-source", queue=QUEUE)
    await baton.wait_result(client, source.id)
    inp = plain.model_copy(update={"fork": ForkSpec(source=source.id, at="after a")})
    handle = await client.start_workflow("PipelineWorkflow", inp, id="pipeline_forked_unindexed", task_queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def flow_forked(client: Client, llm: ScriptedLLM) -> str:
    """The review loop example forked before its second pass (the loop where it was)."""
    flow_scenarios.script(llm, "review_loop")
    source = await baton.start(client, flow_scenarios.example("review_loop"), workflow_id="flow_forked-source", queue=QUEUE)
    await baton.wait_result(client, source.id)
    second_pass = [p for p in await baton.snapshots(client, source.id) if p.label == "before plan"][1]
    llm.script_stage("plan", flow_scenarios.PLAN)
    llm.script_stage("review", flow_scenarios.SCRIPTS["review_loop"]["review"][1])
    handle = await baton.fork(client, source.id, second_pass.seq, workflow_id="flow_forked", queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def planned_forked(client: Client, llm: ScriptedLLM) -> str:
    """A planned DAG forked after its first task: the plan inherited, one task's agent changed."""
    llm.script_stage("plan", json.dumps({"tasks": [
        {"id": "basics", "agent": "researcher", "prompt": "the basics", "depends_on": []},
        {"id": "glossary", "agent": "writer", "prompt": "a glossary", "depends_on": ["basics"]}]}))
    inp = PlannedInput(goal="Explain tides", agents=["researcher", "writer"], allow_new_agents=False)
    source = await baton.start(client, inp, workflow_id="planned_forked-source", queue=QUEUE)
    await baton.wait_result(client, source.id)
    handle = await baton.fork(client, source.id, "after basics", agents={"glossary": "editor"},
                              workflow_id="planned_forked", queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def pipeline_by_reference(client: Client, llm: ScriptedLLM) -> str:
    """18 stages whose answers the worker keeps in its store: later stages see them by
    reference, the last two (16+ earlier outputs) as one reference to their list."""
    for n in range(1, 19):
        llm.script_stage(f"s{n}", f"Stage {n} notes. " * 20)  # 300+ characters: kept by reference
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name=f"s{n}", agent="writer") for n in range(1, 19)])
    handle = await baton.start_pipeline(client, inp, queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


# Scenarios whose worker needs more than the test agents.
SCENARIO_ENV = {"tools": {"BATON_AGENTS": TOOL_AGENTS}, "tools_deadline": {"BATON_AGENTS": TOOL_AGENTS},
                "pipeline_by_reference": {"BATON_PAYLOAD_STORE": Path(tempfile.mkdtemp()).as_uri()}}

SCENARIOS: dict[str, Callable[[Client, ScriptedLLM], Awaitable[str]]] = {
    "pipeline_straight": straight,
    "pipeline_steered": steered,
    "pipeline_retried_and_fallback": retried_and_fallback,
    "pipeline_short_agent": short_agent,
    "pipeline_from_another_sdk": from_another_sdk,
    "pipeline_stray_signals": stray_signals,
    "pipeline_bad_input": bad_input,
    "pipeline_cancelled": cancelled,
    "pipeline_failed": failed,
    "fan_out": fan_out,
    "map_reduce": map_reduce,
    "panel": panel,
    "router": router,
    "supervisor": supervisor,
    "planned": planned,
    "review_loop": review_loop,
    "hierarchical": hierarchical,
    "content_pipeline": content,
    "critics": critics,
    "fan_out_rerun": fan_out_rerun,
    "planned_rerun": planned_rerun,
    "panel_rerun": panel_rerun,
    "review_loop_rerun": review_loop_rerun,
    "hierarchical_gate": hierarchical_gate,
    "map_reduce_rerun": map_reduce_rerun,
    **{f"flow_{name}": flow_example(name) for name in flow_scenarios.SCRIPTS},
    "flow_steered": flow_steered,
    "flow_parts": flow_parts,
    "flow_continued": flow_continued,
    "tools": tools,
    "tools_deadline": tools_deadline,
    "pipeline_forked": pipeline_forked,
    "pipeline_forked_unindexed": pipeline_forked_unindexed,
    "flow_forked": flow_forked,
    "planned_forked": planned_forked,
    "pipeline_by_reference": pipeline_by_reference,
}


async def _first_run(client: Client, workflow_id: str) -> str:
    described = await client.get_workflow_handle(workflow_id).describe()
    return described.raw_description.workflow_execution_info.first_run_id or described.run_id


async def main(names: list[str]) -> None:
    HISTORIES.mkdir(exist_ok=True)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenario(s) {', '.join(sorted(unknown))}; scenarios: {', '.join(SCENARIOS)}")
    chosen = names or [name for name in SCENARIOS if not (HISTORIES / f"{name}.json").exists()]
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI), data_converter=pydantic_data_converter,
                                                search_attributes=search.ATTRIBUTES)  # as the embedded server has them
    try:
        for name in chosen:
            scenario = SCENARIOS[name]
            llm = ScriptedLLM().start()
            try:
                async with real_worker(env.client, llm, QUEUE, BATON_ARTIFACTS_DIR=tempfile.mkdtemp(),
                                       **SCENARIO_ENV.get(name, {})):
                    workflow_id = await scenario(env.client, llm)
                # The first run's history (a run that continued as new has several).
                history = await env.client.get_workflow_handle(workflow_id, run_id=await _first_run(env.client, workflow_id)).fetch_history()
                (HISTORIES / f"{name}.json").write_text(history.to_json())
                print(f"recorded {name}: {len(history.events)} events")
            finally:
                llm.stop()
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
