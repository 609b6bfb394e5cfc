"""`temporal workflow reset` on the dev server (docs/reset.md): an approval the
reset re-applies does not approve content nobody has seen, and the safe flags
start the run again with no old steering at all."""

from __future__ import annotations

import uuid

import pytest

from baton import client as baton
from baton.contracts import ApproveRequest, FeedbackRequest, PipelineInput, StageSpec
from tests.conftest import real_worker
from tests.test_cli import ok
from tests.test_pipeline_logic import until

INPUT = PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher"),
                                                    StageSpec(name="draft", agent="writer", review=True),
                                                    StageSpec(name="edit", agent="editor")])


async def steered_run(client, task_queue: str):
    """A run whose draft got feedback, then the second draft approved (by the signal
    older callers send), then finished."""
    handle = await baton.start(client, INPUT, workflow_id=f"reset-{uuid.uuid4().hex[:6]}", queue=task_queue)
    await until(handle, lambda s: s.awaiting_review == "draft", 30)
    await handle.execute_update("feedback", FeedbackRequest(text="Use a beach analogy"))
    await until(handle, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2, 30)
    await handle.signal("approve", ApproveRequest(stage="draft"))
    await handle.result()
    return handle


@pytest.mark.parametrize("flags", ["", "--reapply-exclude All"])
async def test_a_reset_run_waits_for_a_person_to_approve_its_new_draft(dev_env, llm, task_queue, flags):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        old = await steered_run(client, task_queue)
        await ok(f"temporal workflow reset --workflow-id {old.id} --type FirstWorkflowTask --reason 'retry' {flags}",
                 dev_env)
        new = client.get_workflow_handle(old.id)  # the latest run: the reset one
        waiting = await until(new, lambda s: s.awaiting_review == "draft", 30)
        assert (await new.describe()).run_id != old.result_run_id
        # The old approval was for a draft nobody has seen now: it approves nothing.
        assert waiting.state == "awaiting_review"
        # Nor does the old feedback come back: its stage had not run when it was re-applied.
        assert waiting.stages[1].feedback == [] and waiting.stages[1].runs == 1
        if flags:
            assert waiting.ignored_signals == []
        else:
            [ignored] = waiting.ignored_signals
            assert ignored.name == "approve" and "not awaiting review" in ignored.reason
        await baton.approve(client, old.id, "draft")
        result = await baton.wait_result(client, old.id)
        assert set(result.outputs) == {"research", "draft", "edit"}
