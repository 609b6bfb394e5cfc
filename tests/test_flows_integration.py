"""Flows end to end on the dev server: the examples (started by the docs'
temporal CLI lines and by starter.py), a bad flow refused or failed at once,
the path drawn from the trace, and a 500-visit loop kept under 4,000 history
events per run."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError

from baton import client as baton
from baton.contracts import FlowInput, FlowResult
from baton.flows.builder import Flow, agent, code
from tests.conftest import real_worker
from tests.flow_scenarios import CASCADE_ANSWER, example, script, steer
from tests.test_cli import doc_lines, ok, sh, workflow_id_of

DOC_IDS = {"flow-review-1": "review_loop", "flow-content-1": "content_by_type", "flow-cascade-1": "cascade",
           "flow-dag-1": "static_dag"}


async def test_the_docs_lines_run_every_example_flow_end_to_end(dev_env, llm):
    starts = doc_lines("docs/flows.md", "temporal workflow start")
    assert {workflow_id_of(line) for line in starts} == set(DOC_IDS)
    for name in DOC_IDS.values():
        script(llm, name)
    llm.latency = 0.5  # each answer takes this long: calls in parallel overlap by most of it
    async with real_worker(dev_env.client, llm, "baton"):
        for line in starts:
            await ok(line, dev_env)
        await steer(dev_env.client, "flow-content-1", "content_by_type")
        await _until_asking(dev_env, "flow-cascade-1")
        [answer_line] = doc_lines("docs/flows.md", "temporal workflow update")
        await ok(answer_line, dev_env)
        results = {name: await asyncio.wait_for(baton.wait_result(dev_env.client, wid), 60) for wid, name in DOC_IDS.items()}
    review = results["review_loop"]
    assert {n.id: n.visits for n in review.nodes} == {"plan": 2, "work": 2, "review": 2, "finalize": 1}
    assert [(e.source, e.to, e.label) for e in review.path if e.source == "review"] == [
        ("review", "plan", "retry"), ("review", "finalize", "approved")]
    outputs = review.data["work"]["outputs"]  # the latest round's, one per task of the plan, in order
    assert [re.sub(r"#\d+ ", "", o) for o in outputs] == ["answer for stage work[0]", "answer for stage work[1]"]
    plans = [r for r in llm.requests if r.stage == "plan"]
    assert "Add where to find the pools" in plans[1].prompt  # the critique went back to the planner
    content = results["content_by_type"]
    assert [n.id for n in content.nodes if n.state == "done"] == ["classify", "research", "draft", "critique", "humanize"]
    cascade = results["cascade"]
    assert cascade.data["search"]["hits"][0]["topic"] == "tidal streams"  # the code step searched the recalled words
    assert cascade.outputs["check"] == CASCADE_ANSWER and cascade.final == CASCADE_ANSWER
    dag = results["static_dag"]
    assert all(n.state == "done" for n in dag.nodes) and dag.final is not None
    # The three tasks that need only the outline ran at once: the last began before the first had its answer.
    began = {r.stage: r.at for r in llm.requests if r.stage in ("history", "science", "safety", "outline")}
    middle = [began[s] for s in ("history", "science", "safety")]
    assert max(middle) - min(middle) < llm.latency and min(middle) > began["outline"]
    # The trace shows the review loop's path over its graph: the loop taken, labels and all.
    trace = await baton.trace(dev_env.client, "flow-review-1")
    assert [(e.source, e.to, e.label, e.back) for e in trace.flow_edges if e.source == "review"] == [
        ("review", "plan", "retry", True), ("review", "finalize", "approved", False)]
    code, drawn = await sh("python starter.py trace flow-review-1 --format mermaid", dev_env)
    assert code == 0 and 'review ==>|"retry"| plan' in drawn and 'plan ==>|"×2"| work' in drawn, drawn


async def _until_asking(dev_env, workflow_id: str) -> None:
    async with asyncio.timeout(30):
        while "check" not in (await baton.status(dev_env.client, workflow_id)).info.get("asking", {}):
            await asyncio.sleep(0.05)


async def test_starter_runs_a_flow_file_and_draws_its_graph_first(dev_env, llm, tmp_path):
    workflow_id = f"flow-{uuid.uuid4().hex[:6]}"
    code, drawn = await sh("python starter.py flow draw examples/flows/static_dag.toml", dev_env)
    assert code == 0 and drawn.startswith("flowchart TD") and "history --> intro" in drawn
    async with real_worker(dev_env.client, llm, "baton"):
        await ok(f"python starter.py start --type flow --input @examples/flows/static_dag.toml --id {workflow_id}", dev_env)
        result = await asyncio.wait_for(baton.wait_result(dev_env.client, workflow_id), 60)
    assert isinstance(result, FlowResult) and [n.state for n in result.nodes] == ["done"] * 7


BAD_FLOW = """
goal = "Tides"
start = "plan"
[[nodes]]
id = "plan"
kind = "agent"
agent = "ghost"
[[nodes]]
id = "review"
kind = "agent"
agent = "reviewer"
[[edges]]
from = "plan"
to = "review"
when = "plan.score >"
[[edges]]
from = "review"
to = "plan"
"""
BAD_FLOW_PROBLEMS = ["node 'plan': unknown agent 'ghost'", "edge 0 (plan → review): 'plan.score >' does not parse",
                     "cycle plan → review → plan: no bound"]


async def test_a_bad_flow_is_refused_by_starter_and_fails_at_once_from_the_temporal_cli(dev_env, llm, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_FLOW)
    code, out = await sh(f"python starter.py start --type flow --input @{path}", dev_env)
    assert code == 2 and all(problem in out for problem in BAD_FLOW_PROBLEMS), out
    code, out = await sh(f"python starter.py flow check {path}", dev_env)
    assert code == 2 and all(problem in out for problem in BAD_FLOW_PROBLEMS), out
    data = FlowInput.model_validate(json.loads(json.dumps(_toml(path)))).model_dump(mode="json", exclude={"progress"})
    workflow_id = f"bad-flow-{uuid.uuid4().hex[:6]}"
    async with real_worker(dev_env.client, llm, "baton"):
        await ok(f"temporal workflow start --task-queue baton --type FlowWorkflow --workflow-id {workflow_id} "
                 f"--input '{json.dumps(data)}'", dev_env)
        handle = dev_env.client.get_workflow_handle(workflow_id)
        try:
            await asyncio.wait_for(handle.result(), 30)
            raise AssertionError("the bad flow ran")
        except WorkflowFailureError as err:
            failure = err.cause
    assert failure.type == "InvalidInput" and all(p in failure.message for p in BAD_FLOW_PROBLEMS), failure.message
    assert llm.requests == []  # nothing ran


def _toml(path):
    import tomllib

    return tomllib.loads(path.read_text())


async def test_a_500_visit_loop_keeps_every_run_under_4000_history_events(dev_env, llm):
    end = agent("end", "editor")
    tick = code("tick", "shout", args={"text": "=goal"}, max_visits=500, on_max_visits=end)
    tick >> tick
    inp = Flow("tick", start=tick).input()
    async with real_worker(dev_env.client, llm, "baton"):
        handle = await baton.start(dev_env.client, inp, queue="baton")
        result = await asyncio.wait_for(handle.result(), 300)
    assert {n.id: n.visits for n in result.nodes} == {"tick": 500, "end": 1} and result.edges_taken == 500
    lengths, run_id = [], handle.first_execution_run_id or handle.result_run_id
    while run_id:
        events = [e async for e in dev_env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history_events()]
        lengths.append(len(events))
        last = events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW else None)
    assert len(lengths) == result.runs > 1 and max(lengths) < 4000, lengths
    assert llm.stage_calls("end") == 1 and re.search(r"TICK", result.outputs["tick"])
