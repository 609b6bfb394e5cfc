"""Short agents (``AgentSpec.short``): each call a local activity on the real dev
server. The run's result and status are the same; the history keeps one marker per
call instead of an activity's events, and the trace reads the call back from it:
the agent, the step, the model asked, the attempts, the usage, a fallback, a failure."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import real_worker
from tests.llm_server import Reply


async def _events(handle) -> list:
    return [event async for event in handle.fetch_history_events()]


async def test_a_short_agents_calls_are_local_activities_the_trace_reads_back(dev_env, llm, task_queue):
    llm.script_stage("triage", Reply(status=500), "Urgent: the tide tables.")
    llm.script_stage("research", "Tides follow the moon.")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="triage", agent="quick"),
                                                      StageSpec(name="research", agent="researcher")])
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"short-{uuid.uuid4().hex[:6]}", queue=task_queue)
        result = await handle.result()
        trace = await baton.trace(client, handle.id)
        status = await baton.status(client, handle.id)

    assert result.outputs == {"triage": "Urgent: the tide tables.", "research": "Tides follow the moon."}
    assert [(s.name, s.state, s.runs) for s in status.stages] == [("triage", "done", 1), ("research", "done", 1)]
    events = await _events(handle)
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    markers = [e.marker_recorded_event_attributes for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    markers = [m for m in markers if m.marker_name == "core_local_activity" and b'"run_agent"' in m.details["data"].payloads[0].data]
    assert scheduled == ["run_agent"] and len(markers) == 1  # research's activity; triage's marker

    triage, research = trace.calls
    assert (triage.agent, triage.step, triage.model, triage.fallback) == ("quick", "triage", "quick-model", False)
    assert triage.outcome == "completed" and triage.attempts == 2 and triage.answered_by
    assert triage.usage.prompt_tokens > 0 and triage.closed_at >= triage.scheduled_at
    assert (research.agent, research.step, research.outcome) == ("researcher", "research", "completed")
    assert trace.usage.prompt_tokens == triage.usage.prompt_tokens + research.usage.prompt_tokens


async def test_a_short_agents_fallback_and_failure_are_traced(dev_env, llm, task_queue):
    # quick-model fails both attempts; the fallback model answers the first step and fails the second.
    llm.script_stage("first", Reply(status=500), Reply(status=500), "From the fallback.")
    llm.script_stage("second", *[Reply(status=400, body='{"error": {"message": "bad request"}}')] * 4)
    inp = PipelineInput(goal="g", stages=[StageSpec(name="first", agent="quick"), StageSpec(name="second", agent="quick")])
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"short-{uuid.uuid4().hex[:6]}", queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        trace = await baton.trace(client, handle.id)

    assert "'second' (quick) failed" in str(failed.value.cause)
    assert [(c.step, c.model, c.fallback, c.outcome) for c in trace.calls] == [
        ("first", "quick-model", False, "failed"), ("first", "test-model", True, "completed"),
        ("second", "quick-model", False, "failed"), ("second", "test-model", True, "failed")]
    assert trace.calls[0].attempts == 2 and "500" in trace.calls[0].failures[-1]
    assert "400" in trace.calls[-1].failures[-1] or "bad request" in trace.calls[-1].failures[-1]

