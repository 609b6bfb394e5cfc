"""A refused update says what is wrong with a stable type and is not retryable
(issue 14, point 8), and a signal that changes nothing is shown with why (point
7): through the Python client and the ``temporal`` CLI, against Baton's worker
on the dev server."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from baton.contracts import ApproveRequest, PipelineInput, RaiseBudgetRequest, StageSpec
from tests.conftest import real_worker
from tests.test_cli import sh, until_state


async def at_review(dev_env, task_queue: str, prefix: str) -> WorkflowHandle:
    """A one-stage pipeline started and waiting for its stage's review."""
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer", review=True)])
    handle = await dev_env.client.start_workflow("PipelineWorkflow", inp, id=f"{prefix}-{uuid.uuid4().hex[:6]}",
                                                 task_queue=task_queue)
    await until_state(dev_env, handle.id, lambda s: s.awaiting_review == "draft")
    return handle


async def test_a_refused_update_is_invalid_request_and_not_retryable(dev_env, llm, task_queue):
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await at_review(dev_env, task_queue, "refused")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("approve", ApproveRequest(stage="nope"))
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "InvalidRequest" and cause.non_retryable
        assert "nope" in cause.message

        with pytest.raises(WorkflowUpdateFailedError) as budget:  # a validator of the budget handlers, too
            await handle.execute_update("raise_budget", RaiseBudgetRequest(max_tokens_total=1))
        assert budget.value.cause.type == "InvalidRequest"

        code, out = await sh(f"temporal workflow update execute --workflow-id {handle.id} --name approve "
                             "--input '{\"stage\": \"nope\"}'", dev_env)
        assert code != 0 and "InvalidRequest" in out and "ValueError" not in out, out
        await handle.execute_update("approve", ApproveRequest(stage="draft"))  # the run was untouched
        await handle.result()


async def test_signals_from_the_cli_that_change_nothing_are_listed_with_why(dev_env, llm, task_queue):
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await at_review(dev_env, task_queue, "stray")
        for name, payload in (("aprove", '{"stage": "draft"}'), ("pause", '{"x": 1}'), ("approve", '{"stage": 123}')):
            code, out = await sh(f"temporal workflow signal --workflow-id {handle.id} --name {name} --input '{payload}'", dev_env)
            assert code == 0, out  # a signal has no answer: the run is where to look
        status = await until_state(dev_env, handle.id, lambda s: len(s.ignored_signals) == 3)
        assert [(i.name, i.reason) for i in status.ignored_signals] == [
            ("aprove", "no signal 'aprove'; this run takes approve, pause, resume"),
            ("pause", "pause takes no argument; 1 given"),
            ("approve", "stage: Input should be a valid string")]
        assert status.state == "awaiting_review"  # none of them paused or approved anything
        await handle.signal("approve", {"stage": "draft"})
        await handle.result()
