"""Every pattern end to end on the real dev server: Baton's worker, the real agent
activity and openai client, the scripted OpenAI-compatible server as the provider.
Each starts through the Python client, as ``starter.py start --type`` does."""

from __future__ import annotations

import asyncio
import json
import uuid

from baton import client as baton
from baton.content import content_pipeline
from tests.conftest import real_worker
from tests.llm_server import Reply, unfenced
from tests.test_pipeline_logic import until


async def run(dev_env, llm, task_queue, pattern: str, inp: dict, **worker_env):
    client = dev_env.client
    async with real_worker(client, llm, task_queue, **worker_env):
        handle = await baton.start(client, baton.parse_input(pattern, inp), workflow_id=f"{pattern}-{uuid.uuid4().hex[:6]}",
                                   queue=task_queue)
        result = await asyncio.wait_for(baton.wait_result(client, handle.id), 60)
        status = await baton.status(client, handle.id)
    return handle.id, result, status


async def test_fan_out(dev_env, llm, task_queue):
    llm.script_stage("b", Reply(status=400))
    inp = {"goal": "Compare tides", "max_parallel": 2,
           "tasks": [{"id": "a", "agent": "researcher", "prompt": "Atlantic"}, {"id": "b", "agent": "researcher", "prompt": "Pacific"},
                     {"id": "c", "agent": "writer", "prompt": "Baltic"}]}
    _, result, status = await run(dev_env, llm, task_queue, "FanOutWorkflow", inp)
    assert set(result.completed) == {"a", "c"} and [f.id for f in result.failed] == ["b"]
    assert "HTTP400" in result.failed[0].error or "400" in result.failed[0].error
    synthesis_prompt = next(r.prompt for r in llm.requests if r.stage == "synthesis")
    assert result.completed["a"] in synthesis_prompt and result.synthesis
    assert status.pattern == "fan-out" and status.state == "completed"


async def test_expert_panel(dev_env, llm, task_queue):
    llm.script_stage("consensus", '{"consensus": "Moon first", "agreement": 0.75, "dissent": ["the sun matters"]}')
    inp = {"question": "What drives tides?", "rounds": 2, "moderator": "summarizer",
           "experts": [{"name": "physicist", "agent": "researcher", "role": "a physicist"},
                       {"name": "sailor", "agent": "writer", "role": "a sailor"}]}
    _, result, status = await run(dev_env, llm, task_queue, "panel", inp)
    assert (result.consensus, result.agreement, result.dissent) == ("Moon first", 0.75, ["the sun matters"])
    assert len(result.rounds) == 2
    # In round 2 each expert sees the other's round-1 answer.
    sailor_r2 = next(r.prompt for r in llm.requests if r.stage == "sailor.r2")
    assert result.rounds[0]["physicist"] in sailor_r2
    assert status.pattern == "panel"


async def test_router(dev_env, llm, task_queue):
    llm.script_stage("classify", '{"agent": "researcher", "confidence": 0.9, "reason": "a factual question"}')
    llm.script_stage("handle", "Tides are caused by the moon.")
    inp = {"input": "Why are there tides?", "default": "writer",
           "routes": [{"agent": "researcher", "description": "facts"}, {"agent": "writer", "description": "prose"}]}
    _, result, status = await run(dev_env, llm, task_queue, "router", inp)
    assert (result.route, result.output) == ("researcher", "Tides are caused by the moon.")
    assert status.info["route"] == "researcher"


async def test_supervisor_with_tool_calls_and_escalation(dev_env, llm, task_queue):
    llm.script_stage("turn-1", Reply(tool_calls=[("delegate", {"agent": "researcher", "instruction": "find tide facts"})]))
    llm.script_stage("turn-2", Reply(tool_calls=[("ask_person", {"question": "Which coast?"})]))
    llm.script_stage("turn-3", Reply(tool_calls=[("finish", {"answer": "Tides of Brittany, explained."})]))
    llm.script_stage("turn-1.1-researcher", "The moon pulls the sea.")
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, baton.parse_input("supervisor", {"goal": "Explain tides", "workers": ["researcher", "writer"]}),
                                   queue=task_queue)
        waiting = await until(client.get_workflow_handle(handle.id), lambda s: s.state == "awaiting_review", 30)
        assert waiting.info["question"] == "Which coast?"
        await baton.feedback(client, handle.id, "Brittany")
        result = await asyncio.wait_for(baton.wait_result(client, handle.id), 60)
    assert result.answer == "Tides of Brittany, explained." and result.stopped == "finished"
    assert result.delegations[0].output == "The moon pulls the sea."
    # The supervisor's third turn saw the researcher's result and the person's answer as tool results.
    third = next(r.body for r in llm.requests if r.stage == "turn-3")
    tool_results = [unfenced(m["content"]) for m in third["messages"] if m["role"] == "tool"]
    assert tool_results == ["The moon pulls the sea.", "Brittany"]
    assert [t["function"]["name"] for t in third["tools"]] == ["delegate", "finish", "ask_person"]


async def test_planned_dag(dev_env, llm, task_queue):
    plan = {"tasks": [{"id": "facts", "agent": "researcher", "prompt": "facts", "depends_on": []},
                      {"id": "guide", "agent": "writer", "prompt": "write", "depends_on": ["facts"]}]}
    llm.script_stage("plan", json.dumps(plan))
    llm.script_stage("facts", "Two high tides a day.")
    _, result, status = await run(dev_env, llm, task_queue, "planned", {"goal": "A tide guide", "agents": ["researcher", "writer"]})
    assert list(result.outputs) == ["facts", "guide"] and [t.state for t in result.plan] == ["done", "done"]
    guide_prompt = next(r.prompt for r in llm.requests if r.stage == "guide")
    assert "Two high tides a day." in guide_prompt
    assert [t["id"] for t in status.info["plan"]] == ["facts", "guide"]


async def test_review_loop(dev_env, llm, task_queue):
    plan = '{"tasks": [{"id": "draft", "agent": "writer", "prompt": "write", "depends_on": []}]}'
    llm.script_stage("plan.r1", plan)
    llm.script_stage("plan.r2", plan)
    llm.script_stage("review.r1", '{"approved": false, "critique": "Add the moon."}')
    llm.script_stage("review.r2", '{"approved": true, "critique": ""}')
    _, result, _ = await run(dev_env, llm, task_queue, "review-loop", {"goal": "Explain tides", "workers": ["writer"]})
    assert result.approved and [r.critique for r in result.rounds][0] == "Add the moon."
    replan_prompt = next(r.prompt for r in llm.requests if r.stage == "plan.r2")
    assert "Add the moon." in replan_prompt


async def test_hierarchical_phases_as_child_workflows(dev_env, llm, task_queue):
    phases = {"phases": [{"id": "facts", "pattern": "fan-out", "goal": "gather", "agents": ["researcher"]},
                         {"id": "write", "pattern": "pipeline", "goal": "write", "agents": ["writer"]}], "agents": []}
    llm.script_stage("plan", json.dumps(phases))
    llm.script_stage("1-researcher", "The moon.")
    workflow_id, result, _ = await run(dev_env, llm, task_queue, "hierarchical", {"goal": "A tide guide"})
    assert [(p.id, p.state) for p in result.phases] == [("facts", "done"), ("write", "done")]
    children = {p.workflow_id: (await dev_env.client.get_workflow_handle(p.workflow_id).describe()) for p in result.phases}
    assert [d.workflow_type for d in children.values()] == ["FanOutWorkflow", "PipelineWorkflow"]
    assert all(d.parent_id == workflow_id for d in children.values())
    write_prompt = next(r.prompt for r in llm.requests if r.stage == "1-writer")
    assert result.phases[0].output in write_prompt and result.synthesis


async def test_content_pipeline_with_focus_questions_answered_and_artifacts(dev_env, llm, task_queue, tmp_path):
    llm.script_stage("classify", '{"label": "tutorial", "confidence": 0.9, "reason": "how-to"}')
    llm.script_stage("focus_questions", "1. Who reads it?", "Brief: sailors.")
    llm.script_stage("draft", "draft-of-the-tides-at-sea-in-brittany " * 220)  # 8,360 characters in 220 pieces
    llm.script_stage("critique", '{"verdict": "approve", "score": 8, "issues": []}')  # long: history keeps a preview, the file has it all
    client = dev_env.client
    inp = content_pipeline("Tides for sailors", automatic={"research", "draft", "critique", "humanize", "image_prompts"})
    async with real_worker(client, llm, task_queue, BATON_ARTIFACTS_DIR=str(tmp_path)):
        handle = await baton.start(client, inp, queue=task_queue)
        gate = await until(client.get_workflow_handle(handle.id), lambda s: s.awaiting_review == "focus_questions", 30)
        assert gate.completed_stages == ["classify"]
        await baton.feedback(client, handle.id, "Sailors in Brittany")  # the answers: the questioner runs again
        await until(client.get_workflow_handle(handle.id),
                    lambda s: s.awaiting_review == "focus_questions" and s.stages[1].runs == 2, 30)
        await baton.approve(client, handle.id)
        await until(client.get_workflow_handle(handle.id), lambda s: s.awaiting_review == "publish_metadata", 30)
        await baton.approve(client, handle.id)
        result = await asyncio.wait_for(baton.wait_result(client, handle.id), 60)

    assert result.outputs["focus_questions"] == "Brief: sailors."
    assert "Sailors in Brittany" in next(r.prompt for r in llm.requests if r.stage == "focus_questions" and "Brief" not in r.prompt
                                         and "Feedback from a person" in r.prompt)
    assert set(result.artifacts) == {s.name for s in inp.stages}
    assert result.artifacts["focus_questions"] == f"{handle.id}/focus_questions-v2.md"
    assert (tmp_path / handle.id / "focus_questions-v1.md").read_text() == "1. Who reads it?"
    draft_file = (tmp_path / result.artifacts["draft"]).read_text()
    assert len(draft_file) > 8000 and len(result.outputs["draft"]) < 4200
    critique_prompt = next(r.prompt for r in llm.requests if r.stage == "critique")
    assert draft_file in critique_prompt  # the critic read the whole draft from the artifact
