"""PipelineWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from baton.contracts import FeedbackRequest, PipelineInput, PipelineResult, RewindRequest, StageSpec, Status
from tests.fakes import FakeAgents
from baton.sandbox import workflow_runner
from baton.workflows.pipeline import PipelineWorkflow


@pytest.fixture
async def fake_env(skip_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[tuple[FakeAgents, Callable]]:
    fakes = FakeAgents()
    async with Worker(
        skip_env.client,
        task_queue=task_queue,
        workflows=[PipelineWorkflow],
        activities=[fakes.run_agent, fakes.resolve_agents, fakes.search_attributes_registered],
        workflow_runner=workflow_runner(),
    ):

        async def start(*stages: StageSpec | tuple, goal: str = "Explain tides") -> WorkflowHandle:
            specs = [s if isinstance(s, StageSpec) else StageSpec(name=s[0], agent=s[1], review=len(s) > 2 and s[2]) for s in stages]
            return await skip_env.client.start_workflow(
                PipelineWorkflow.run,
                PipelineInput(goal=goal, stages=specs),
                id=f"pipe-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
            )

        yield fakes, start


THREE = (("research", "researcher"), ("draft", "writer"), ("edit", "editor"))


async def status(handle: WorkflowHandle) -> Status:
    return await handle.query(PipelineWorkflow.status)


async def until(handle: WorkflowHandle, predicate: Callable[[Status], bool], timeout: float = 10) -> Status:
    """Poll the status query until ``predicate`` holds (a person watching the run)."""
    async with asyncio.timeout(timeout):
        while True:
            current = await status(handle)
            if predicate(current):
                return current
            await asyncio.sleep(0.05)


async def test_stages_run_in_order_each_seeing_only_earlier_outputs(fake_env):
    fakes, start = fake_env
    handle = await start(*THREE)
    result: PipelineResult = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"]
    assert [c.context for c in fakes.calls] == [[], ["research"], ["research", "draft"]]
    assert result.outputs == {"research": "research v1", "draft": "draft v1", "edit": "edit v1"}
    assert result.final == "edit v1"
    assert result.usage.total_tokens == 45
    final = await status(handle)
    assert final.state == "completed" and final.completed_stages == ["research", "draft", "edit"]
    assert final.pattern == "pipeline" and final.current_stage is None


async def test_pause_lets_the_call_in_flight_finish_and_starts_nothing_new(fake_env):
    fakes, start = fake_env
    release = fakes.hold("research")
    handle = await start(*THREE)
    await fakes.started["research"].wait()
    await handle.signal(PipelineWorkflow.pause)
    release.set()
    paused = await until(handle, lambda s: s.completed_stages == ["research"])
    assert paused.state == "paused"
    await asyncio.sleep(0.3)
    assert fakes.stages_called() == ["research"]  # draft did not start
    await handle.signal(PipelineWorkflow.resume)
    result = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"] and result.final == "edit v1"


async def test_review_stage_waits_for_approval(fake_env):
    fakes, start = fake_env
    handle = await start(("research", "researcher"), ("draft", "writer", True), ("edit", "editor"))
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.current_stage == "draft" and waiting.awaiting_review == "draft"
    await asyncio.sleep(0.3)
    assert fakes.stages_called() == ["research", "draft"]
    await handle.signal(PipelineWorkflow.approve)
    await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"]


async def test_feedback_reruns_the_reviewed_stage_with_the_feedback(fake_env):
    fakes, start = fake_env
    handle = await start(("research", "researcher"), ("draft", "writer", True), ("edit", "editor"))
    await until(handle, lambda s: s.state == "awaiting_review")
    ack = await handle.execute_update(PipelineWorkflow.feedback, FeedbackRequest(text="Shorter, please"))
    assert ack.rerun_from == "draft"
    again = await until(handle, lambda s: s.state == "awaiting_review" and s.stages[1].runs == 2)
    assert again.stages[1].feedback == ["Shorter, please"]
    await handle.signal(PipelineWorkflow.approve)
    result = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "draft", "edit"]
    assert fakes.calls[2].feedback == ["Shorter, please"]
    assert result.outputs["draft"] == "draft v2" and result.final == "edit v1"


async def test_feedback_without_stage_reruns_the_last_completed_stage(fake_env):
    fakes, start = fake_env
    release = fakes.hold("edit")
    handle = await start(*THREE)
    await fakes.started["edit"].wait()
    ack = await handle.execute_update(PipelineWorkflow.feedback, FeedbackRequest(text="cite sources"))
    assert ack.rerun_from == "draft"
    release.set()
    result = await handle.result()
    # edit in flight finished, then draft re-ran with the feedback and edit after it.
    assert fakes.stages_called() == ["research", "draft", "edit", "draft", "edit"]
    assert fakes.calls[3].feedback == ["cite sources"]
    assert fakes.calls[4].context == ["research", "draft"]
    assert result.outputs == {"research": "research v1", "draft": "draft v2", "edit": "edit v2"}


async def test_rewind_restores_the_checkpoint_and_runs_again(fake_env):
    fakes, start = fake_env
    handle = await start(("research", "researcher"), ("draft", "writer", True), ("edit", "editor", True))
    await until(handle, lambda s: s.awaiting_review == "draft")
    await handle.execute_update(PipelineWorkflow.feedback, FeedbackRequest(text="more detail"))
    await until(handle, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
    await handle.signal(PipelineWorkflow.approve)
    await until(handle, lambda s: s.awaiting_review == "edit")
    ack = await handle.execute_update(PipelineWorkflow.rewind, RewindRequest(stage="draft"))
    assert ack.rerun_from == "draft"
    # The checkpoint before draft holds research's output only, and no feedback.
    rerun = await until(handle, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 3)
    assert rerun.completed_stages == ["research"]
    partial = await handle.query(PipelineWorkflow.result)
    assert partial.outputs == {"research": "research v1", "draft": "draft v3"}
    assert fakes.calls[-1].feedback == ["more detail"]
    await handle.signal(PipelineWorkflow.approve)
    await until(handle, lambda s: s.awaiting_review == "edit")
    await handle.signal(PipelineWorkflow.approve)
    result = await handle.result()
    assert fakes.stages_called() == ["research", "draft", "draft", "edit", "draft", "edit"]
    assert result.outputs == {"research": "research v1", "draft": "draft v3", "edit": "edit v2"}


@pytest.mark.parametrize(
    ("update", "payload", "message"),
    [
        ("feedback", FeedbackRequest(text="   "), "feedback text must not be empty"),
        ("feedback", FeedbackRequest(text="x", stage="nope"), "unknown stage 'nope'"),
        ("feedback", FeedbackRequest(text="x", stage="edit"), "stage 'edit' has not run yet"),
        ("rewind", RewindRequest(stage="nope"), "unknown stage 'nope'"),
        ("rewind", RewindRequest(stage="edit"), "stage 'edit' has not run yet"),
    ],
)
async def test_validators_reject_bad_updates_and_leave_the_run_untouched(fake_env, update, payload, message):
    fakes, start = fake_env
    handle = await start(("research", "researcher"), ("draft", "writer", True), ("edit", "editor"))
    before = await until(handle, lambda s: s.state == "awaiting_review")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(update, payload)
    assert message in str(caught.value.cause)
    after = await status(handle)
    assert after.model_dump(exclude={"elapsed_seconds"}) == before.model_dump(exclude={"elapsed_seconds"})
    await handle.signal(PipelineWorkflow.approve)
    await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"]


async def test_cancel_records_partial_outputs(fake_env):
    fakes, start = fake_env
    handle = await start(("research", "researcher"), ("draft", "writer", True), ("edit", "editor"))
    await until(handle, lambda s: s.state == "awaiting_review")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    assert isinstance(caught.value.cause, CancelledError)
    memo = await (await handle.describe()).memo()
    assert memo["partial_outputs"] == {"research": "research v1", "draft": "draft v1"}
    assert (await status(handle)).state == "cancelled"
    partial = await handle.query(PipelineWorkflow.result)
    assert partial.state == "cancelled" and partial.final == "draft v1"


async def test_fallback_model_answers_when_the_primary_fails(fake_env):
    fakes, start = fake_env
    fakes.failing_models.add("flaky-model")
    handle = await start(("risky", "flaky"))
    result = await handle.result()
    assert [c.model for c in fakes.calls] == ["flaky-model", "backup-model"]
    assert (await status(handle)).stages[0].model == "backup-model"
    assert result.final == "risky v2"


async def test_stage_failure_fails_the_run_with_a_clear_reason(fake_env):
    fakes, start = fake_env
    fakes.failing_models.update({"flaky-model", "backup-model"})
    handle = await start(("research", "researcher"), ("risky", "flaky"))
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "AgentFailed"  # the stable type, docs/errors.md
    assert "stage 'risky' (flaky) failed" in cause.message and "backup-model is down" in cause.message
    assert cause.details[0] == {"pattern": "pipeline", "steps": ["risky"], "cause_type": "AgentFailed"}
    memo = await (await handle.describe()).memo()
    assert memo["partial_outputs"] == {"research": "research v1"}
    final = await status(handle)
    assert final.state == "failed" and "risky" in final.error
    # The failed stage says so, and why (it used to stay "running" with no error).
    risky = final.stages[1]
    assert risky.state == "failed" and "backup-model is down" in risky.error


async def test_unknown_agent_fails_fast_with_its_name(fake_env):
    fakes, start = fake_env
    handle = await start(("research", "ghostwriter"))
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    cause = caught.value.cause
    assert cause.type == "UnknownAgent" and "unknown agent 'ghostwriter'" in cause.message
    assert fakes.calls == []


@pytest.mark.parametrize(
    ("raw_input", "message"),
    [
        ({"goal": "x", "stages": []}, "stages"),
        ({"goal": "", "stages": [{"name": "a", "agent": "writer"}]}, "goal"),
        ({"goal": "x", "stages": [{"name": "a", "agent": "writer"}, {"name": "a", "agent": "editor"}]}, "duplicate stage name 'a'"),
        ({"goal": "x", "stages": [{"name": "a"}]}, "agent"),
        ({"goal": "x", "stages": [{"name": "a", "agent": "writer", "reveiw": True}]}, "reveiw"),
    ],
)
async def test_bad_input_fails_the_run_with_the_reason_not_a_hang(skip_env, fake_env, task_queue, raw_input, message):
    handle = await skip_env.client.start_workflow("PipelineWorkflow", raw_input, id=f"bad-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
    with pytest.raises(WorkflowFailureError) as caught:
        await asyncio.wait_for(handle.result(), 10)
    assert message in str(caught.value.cause)
