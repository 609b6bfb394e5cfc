"""Provider faults on the real dev server, one test each: the run ends as it
should and the history shows what happened."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import real_worker
from tests.llm_server import Reply
from tests.test_integration import history_events, pipeline, run_pipeline


async def run_one(dev_env, llm, task_queue, agent: str = "writer"):
    """A one-stage pipeline ('draft' by ``agent``): its result and the history's started events."""
    workflow_id, result, _ = await run_pipeline(dev_env, llm, task_queue, pipeline(("draft", agent)))
    events = await history_events(dev_env.client, workflow_id)
    started = [e.activity_task_started_event_attributes for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    return result, started


async def test_a_latency_spike_is_waited_out_without_a_retry(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(text="slow but fine", delay=1.5))
    result, started = await run_one(dev_env, llm, task_queue)
    assert result.final == "slow but fine" and llm.stage_calls("draft") == 1 and started[-1].attempt == 1


async def test_a_provider_that_hangs_past_the_timeout_is_abandoned_and_retried(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(hang=True), "answered on the retry")
    result, started = await run_one(dev_env, llm, task_queue, agent="impatient")
    assert result.final == "answered on the retry" and llm.stage_calls("draft") == 2
    assert started[-1].attempt == 2
    failure = started[-1].last_failure
    assert "timed out" in failure.message.lower() or failure.HasField("timeout_failure_info")


async def test_a_connection_reset_is_retried(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(drop=True), "after the reset")
    result, started = await run_one(dev_env, llm, task_queue)
    assert result.final == "after the reset" and started[-1].attempt == 2


async def test_an_empty_answer_is_retried(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(text=""), "a real answer")
    result, started = await run_one(dev_env, llm, task_queue)
    assert result.final == "a real answer" and started[-1].last_failure.application_failure_info.type == "EmptyAnswer"


async def test_a_refusal_is_not_retried_and_the_fallback_model_answers(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(refusal="I can't help with that."), "the backup model helps")
    result, _ = await run_one(dev_env, llm, task_queue, agent="flaky")
    assert result.final == "the backup model helps"
    assert [r.body["model"] for r in llm.requests] == ["flaky-model", "backup-model"]  # the refusal was not retried


# 413: a request the provider finds too large is as large when asked again.
@pytest.mark.parametrize(("status", "reason"), [(400, "context length exceeded"), (413, "request body too large")])
async def test_a_non_retryable_4xx_fails_the_run_with_the_providers_reason(dev_env, llm, task_queue, status, reason):
    llm.script_stage("draft", Reply(status=status, body=f'{{"error": {{"message": "{reason}"}}}}'))
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")])
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await baton.start(dev_env.client, inp, queue=task_queue)
        with pytest.raises(baton.BatonError, match=rf"stage 'draft' \(writer\) failed: .*HTTP {status}.*{reason}"):
            await baton.wait_result(dev_env.client, handle.id)
    assert llm.stage_calls("draft") == 1


async def test_after_its_models_fail_a_fallback_agent_answers_and_the_trace_says_so(dev_env, llm, task_queue):
    llm.script("Try first.", Reply(status=404))
    llm.script("Research the goal.", "the researcher stands in")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="fragile")])
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await baton.start(dev_env.client, inp, queue=task_queue)
        result = await baton.wait_result(dev_env.client, handle.id)
        status = await baton.status(dev_env.client, handle.id)
    assert result.final == "the researcher stands in" and status.stages[0].model == "test-model"
    assert [r.body["model"] for r in llm.requests] == ["fragile-model", "test-model"]
    trace = await baton.trace(dev_env.client, handle.id)
    assert [(c.agent, c.outcome, c.fallback) for c in trace.calls] == [("fragile", "failed", False), ("researcher", "completed", True)]
