"""The trace of a run, read from its history on the real dev server: agent calls
with attempts, failures, fallbacks and cost, people's actions in order, edges,
child runs; rendered as JSON, Mermaid and a timeline; from a running run and
from a history exported by the `temporal` CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from baton import cli as starter
from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from baton.embedded import temporal_cli
from baton.trace import RunTrace, build_trace, history_from_file
from baton.trace_render import render
from tests.conftest import address_of, real_worker
from tests.llm_server import Reply
from tests.test_patterns_integration import run as run_pattern
from tests.test_pipeline_logic import until


def steps(trace: RunTrace) -> list[tuple[str, str]]:
    return [(call.step, call.outcome) for call in trace.calls]


async def test_trace_of_a_steered_run_with_retries_and_a_fallback(dev_env, llm, task_queue, tmp_path, capsys):
    llm.script_stage("research", Reply(status=500), "Tides follow the moon.")
    llm.script("Often fails", Reply(status=404), "backup says hi")
    inp = PipelineInput(goal="Explain tides", stages=[
        StageSpec(name="research", agent="researcher"), StageSpec(name="risky", agent="flaky"),
        StageSpec(name="draft", agent="writer", review=True)])
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"trace-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await until(handle, lambda s: s.state == "awaiting_review", 30)
        await baton.pause(client, handle.id)
        await baton.resume(client, handle.id)
        await baton.feedback(client, handle.id, "Shorter, please")
        await until(handle, lambda s: s.state == "awaiting_review" and s.stages[2].runs == 2, 30)

        running = await baton.trace(client, handle.id)
        assert running.outcome == "running" and running.closed_at is None
        assert steps(running)[-1] == ("draft", "completed")

        await baton.approve(client, handle.id, "draft")
        await asyncio.wait_for(baton.wait_result(client, handle.id), 30)
    trace = await baton.trace(client, handle.id)

    assert trace.outcome == "completed" and trace.workflow_type == "PipelineWorkflow"
    assert steps(trace) == [("research", "completed"), ("risky", "failed"), ("risky", "completed"),
                            ("draft", "completed"), ("draft", "completed")]
    research, risky_primary, risky_fallback, *_ = trace.calls
    assert research.attempts == 2 and "500" in research.failures[0]
    assert (risky_primary.model, risky_primary.fallback) == ("flaky-model", False) and "404" in risky_primary.failures[-1]
    assert (risky_fallback.model, risky_fallback.answered_by, risky_fallback.fallback) == ("backup-model", "backup-model", True)
    assert all(c.scheduled_at <= c.started_at <= c.closed_at for c in trace.calls if c.outcome == "completed")
    # Cost: test-model is priced in tests/agents.toml, backup-model is not.
    assert research.usage.cost_usd > 0 and risky_fallback.usage.cost_usd == 0
    assert trace.usage.total_tokens == sum(c.usage.total_tokens for c in trace.calls)
    assert trace.usage.cost_usd == pytest.approx(sum(c.usage.cost_usd for c in trace.calls))
    # People's actions, in the order they happened, with the step each was about.
    assert [(a.kind, a.name, a.target) for a in trace.actions] == [
        ("signal", "pause", None), ("signal", "resume", None), ("update", "feedback", "draft"), ("update", "approve", "draft")]
    assert trace.actions[2].args[0]["text"] == "Shorter, please" and "rerun_from" in trace.actions[2].outcome
    assert {(e.source, e.target) for e in trace.edges} == {("research", "risky"), ("research", "draft"), ("risky", "draft")}

    mermaid = render(trace, "mermaid")
    assert "flowchart TD" in mermaid and "gantt" in mermaid and "dateFormat x" in mermaid
    assert mermaid.count("draft (writer) :done") == 2 and "risky (flaky) :crit" in mermaid
    assert "fallback" in mermaid and "update feedback" in mermaid
    timeline = render(trace, "timeline")
    assert "person update feedback" in timeline and "attempt 1:" in timeline
    assert json.loads(render(trace, "json"))["calls"][0]["attempts"] == 2

    # The same trace from the history the `temporal` CLI exports.
    exported = tmp_path / "history.json"
    shown = await asyncio.to_thread(
        subprocess.run,
        [temporal_cli(), "workflow", "show", "--workflow-id", handle.id, "--output", "json", "--address", address_of(dev_env)],
        check=True, capture_output=True, text=True, timeout=30)
    exported.write_text(shown.stdout)
    capsys.readouterr()
    assert await starter.show_trace(starter.parser().parse_args(["trace", "--file", str(exported), "--format", "json"])) == 0
    assert RunTrace.model_validate_json(capsys.readouterr().out) == trace


async def test_trace_follows_child_runs(dev_env, llm, task_queue):
    phases = {"phases": [{"id": "facts", "pattern": "fan-out", "goal": "gather", "agents": ["researcher"]},
                         {"id": "write", "pattern": "pipeline", "goal": "write", "agents": ["writer"]}], "agents": []}
    llm.script_stage("plan", json.dumps(phases))
    workflow_id, _, _ = await run_pattern(dev_env, llm, task_queue, "hierarchical", {"goal": "A tide guide"})
    trace = await baton.trace(dev_env.client, workflow_id)
    assert [c.workflow_type for c in trace.children] == ["FanOutWorkflow", "PipelineWorkflow"]
    assert [(r.workflow_type, r.outcome) for r in trace.child_runs] == [("FanOutWorkflow", "completed"), ("PipelineWorkflow", "completed")]
    assert len(trace.all_calls()) == len(llm.requests)
    assert trace.usage.total_tokens == sum(c.usage.total_tokens for c in trace.all_calls())
    assert render(trace, "mermaid").count("subgraph") == 2
    alone = await baton.trace(dev_env.client, workflow_id, children=False)
    assert alone.children == [] and len(alone.child_runs) == 2


async def test_trace_of_an_unknown_run_or_bad_file_is_a_clear_error(dev_env, tmp_path):
    with pytest.raises(baton.BatonError, match="no run with id 'nope'"):
        await baton.trace(dev_env.client, "nope")
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a history"}')
    with pytest.raises(baton.BatonError, match="is not a workflow history"):
        await starter.show_trace(starter.parser().parse_args(["trace", "--file", str(bad)]))


async def test_trace_of_a_failed_and_a_cancelled_run_from_recorded_histories():
    histories = Path(__file__).parent / "histories"
    failed = await build_trace(history_from_file((histories / "pipeline_failed.json").read_text()))
    assert failed.outcome == "failed" and failed.error and failed.calls[-1].outcome == "failed"
    assert "failed" in render(failed, "timeline") and "error:" in render(failed, "timeline")
    cancelled = await build_trace(history_from_file((histories / "pipeline_cancelled.json").read_text()))
    assert cancelled.outcome == "cancelled" and [a.kind for a in cancelled.actions][-1] == "cancel"
