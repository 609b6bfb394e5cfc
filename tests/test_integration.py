"""The real worker code, the real openai client and the real dev server, with the
scripted OpenAI-compatible server standing in for the provider."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import real_worker
from tests.llm_server import Reply, ScriptedLLM


def pipeline(*stages: tuple[str, str], goal: str = "Explain tides") -> PipelineInput:
    return PipelineInput(goal=goal, stages=[StageSpec(name=n, agent=a) for n, a in stages])


async def history_events(client: Client, workflow_id: str):
    return [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]


async def run_pipeline(dev_env: WorkflowEnvironment, llm: ScriptedLLM, task_queue: str, inp: PipelineInput):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await baton.start_pipeline(client, inp, workflow_id=f"it-{uuid.uuid4().hex[:8]}", queue=task_queue)
        result = await baton.wait_result(client, handle.id)
        status = await baton.status(client, handle.id)
    return handle.id, result, status


async def test_pipeline_end_to_end(dev_env, llm, task_queue):
    llm.script("Your stage: research", "Tides follow the moon.")
    llm.script("Your stage: draft", "Draft: the moon pulls water.")
    llm.script("Your stage: critique", '{"verdict": "approve", "score": 8, "issues": []}')
    inp = pipeline(("research", "researcher"), ("draft", "writer"), ("critique", "critic"))
    workflow_id, result, status = await run_pipeline(dev_env, llm, task_queue, inp)

    assert result.outputs["research"] == "Tides follow the moon."
    assert result.outputs["draft"] == "Draft: the moon pulls water."
    assert result.final == '{"verdict":"approve","score":8,"issues":[]}'
    # Each agent got the goal and the earlier outputs, and never a later one.
    draft_prompt = next(r.prompt for r in llm.requests if r.stage == "draft")
    assert "Explain tides" in draft_prompt and "Tides follow the moon." in draft_prompt
    research_prompt = next(r.prompt for r in llm.requests if r.stage == "research")
    assert "Draft:" not in research_prompt
    # Usage is the sum of what the server reported.
    assert status.state == "completed" and status.usage.total_tokens == result.usage.total_tokens > 0

    events = await history_events(dev_env.client, workflow_id)
    summaries = [
        dev_env.client.data_converter.payload_converter.from_payload(e.user_metadata.summary, str)
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert summaries == ["researcher · research", "writer · draft", "critic · critique"]


async def test_rate_limit_waits_for_retry_after_and_shows_in_history(dev_env, llm, task_queue):
    llm.script("Your stage: research", Reply(status=429, headers={"Retry-After": "2"}), "facts")
    workflow_id, result, _ = await run_pipeline(dev_env, llm, task_queue, pipeline(("research", "researcher")))
    assert result.final == "facts"
    first, second = llm.requests
    assert second.at - first.at >= 1.9  # Retry-After honoured, not the 0.1 s backoff
    events = await history_events(dev_env.client, workflow_id)
    started = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert started[-1].activity_task_started_event_attributes.attempt == 2
    failure = started[-1].activity_task_started_event_attributes.last_failure
    assert failure.application_failure_info.type == "RateLimited"


async def test_server_errors_are_retried_by_temporal(dev_env, llm, task_queue):
    llm.script("Your stage: research", Reply(status=500), Reply(status=503), "recovered")
    _, result, _ = await run_pipeline(dev_env, llm, task_queue, pipeline(("research", "researcher")))
    assert result.final == "recovered" and llm.stage_calls("research") == 3


async def test_fallback_model_is_used_and_recorded(dev_env, llm, task_queue):
    llm.script("Often fails", Reply(status=404), "fallback answer")
    workflow_id, result, status = await run_pipeline(dev_env, llm, task_queue, pipeline(("risky", "flaky")))
    assert result.final == "fallback answer"
    assert [r.body["model"] for r in llm.requests] == ["flaky-model", "backup-model"]
    assert status.stages[0].model == "backup-model"
    events = await history_events(dev_env.client, workflow_id)
    scheduled = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    last = dev_env.client.data_converter.payload_converter.from_payload(scheduled[-1].user_metadata.summary, str)
    assert last == "flaky · risky · fallback backup-model"


async def test_non_retryable_error_fails_the_run_with_its_reason(dev_env, llm, task_queue):
    llm.script("Your stage: research", Reply(status=401, body='{"error": {"message": "invalid api key"}}'))
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await baton.start_pipeline(dev_env.client, pipeline(("research", "researcher")), queue=task_queue)
        with pytest.raises(baton.BatonError, match="stage 'research' \\(researcher\\) failed.*401.*invalid api key"):
            await baton.wait_result(dev_env.client, handle.id)
    assert llm.stage_calls("research") == 1  # not retried


async def test_malformed_structured_output_is_corrected(dev_env, llm, task_queue):
    llm.script("Your stage: critique", '{"verdict": "approve", "score": 11', '{"verdict": "approve", "score": 9, "issues": []}')
    _, result, _ = await run_pipeline(dev_env, llm, task_queue, pipeline(("critique", "critic")))
    assert '"score":9' in result.final and llm.stage_calls("critique") == 2


async def test_status_elapsed_counts_while_a_run_waits(dev_env, llm, task_queue):
    inp = PipelineInput(goal="g", stages=[StageSpec(name="draft", agent="writer", review=True)])
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await baton.start_pipeline(dev_env.client, inp, queue=task_queue)
        while (await baton.status(dev_env.client, handle.id)).state != "awaiting_review":
            await asyncio.sleep(0.05)
        first = await baton.status(dev_env.client, handle.id)
        await asyncio.sleep(0.6)
        second = await baton.status(dev_env.client, handle.id)
        await baton.cancel(dev_env.client, handle.id)
    assert second.elapsed_seconds - first.elapsed_seconds >= 0.5
    assert second.started_at == first.started_at
