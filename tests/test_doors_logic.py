"""Runs started and steered the way another SDK or the temporal CLI does it
(raw JSON, names as strings), on the time-skipping server with fake activities:
bad input fails at once and still answers queries, an unknown workflow type
fails naming the known ones, and approving answers the caller or is shown as
ignored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError

from baton.contracts import FeedbackRequest, SteerAck, Status
from baton.trace import build_trace

THREE_WITH_REVIEW = {"goal": "Explain tides", "stages": [
    {"name": "research", "agent": "researcher"},
    {"name": "draft", "agent": "writer", "review": True},
    {"name": "edit", "agent": "editor"},
]}


async def status(handle: WorkflowHandle) -> Status:
    return await handle.query("status", result_type=Status)


async def until(handle: WorkflowHandle, predicate: Callable[[Status], bool], timeout: float = 10) -> Status:
    async with asyncio.timeout(timeout):
        while not predicate(current := await status(handle)):
            await asyncio.sleep(0.05)
    return current


@pytest.mark.parametrize(
    ("workflow", "raw", "problems"),
    [
        ("PipelineWorkflow", {"goal": 42, "stages": [{"name": "draft"}]},
         ["goal: Input should be a valid string", "stages.0.agent: Field required"]),
        ("PipelineWorkflow", {"goal": "Explain tides", "stages": [], "stagez": 1},
         ["stages: List should have at least 1 item after validation, not 0", "stagez: Extra inputs are not permitted"]),
        ("FanOutWorkflow", "just a string", ["input: Input should be an object"]),
        ("RouterWorkflow", None, ["input: missing (give the pattern's input as JSON; `python starter.py schema` prints its schema)"]),
    ],
)
async def test_bad_input_fails_at_once_one_line_per_problem_and_status_still_answers(fake_worker, workflow, raw, problems):
    fakes, start = fake_worker
    handle = await start(workflow, *(() if raw is None else (raw,)))  # None: no input at all
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    failure = caught.value.cause
    assert failure.type == "InvalidInput" and failure.non_retryable
    assert failure.message.splitlines()[1:] == [f"- {p}" for p in problems]
    assert failure.details[0] == {"problems": problems}
    # Queries on the failed run answer with the reason instead of an SDK error.
    final = await status(handle)
    assert final.state == "failed" and final.error == failure.message
    try:  # a result that needs the input names the reason; one that does not says failed
        assert (await handle.query("result"))["state"] == "failed"
    except WorkflowQueryFailedError as err:
        assert str(err).startswith(f"invalid {final.pattern} input:")
    assert fakes.calls == []


async def test_an_unknown_workflow_type_fails_at_once_naming_the_known_ones(fake_worker):
    handle = await fake_worker[1]("PipelineWorkflw", THREE_WITH_REVIEW)
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    failure = caught.value.cause
    assert failure.type == "UnknownWorkflowType"
    assert "unknown workflow type 'PipelineWorkflw'" in failure.message and "PipelineWorkflow" in failure.message
    assert "FanOutWorkflow" in failure.details[0]["known"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"stage": "nope"}, "unknown stage 'nope'; stages: research, draft, edit"),
        ({"stage": "research"}, "stage 'research' is not awaiting review; 'draft' is"),
        ({"stage": "draft", "run": 2}, "this approves run 2 of stage 'draft', but run 1 is awaiting review"),
        ({"stag": "draft"}, "stag"),  # a typo'd field: the payload itself is refused
        ("draft", "ApproveRequest"),  # a bare string
    ],
)
async def test_the_approve_update_rejects_what_does_not_fit_and_leaves_the_run_waiting(fake_worker, payload, message):
    fakes, start = fake_worker
    handle = await start("PipelineWorkflow", THREE_WITH_REVIEW)
    await until(handle, lambda s: s.awaiting_review == "draft")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("approve", payload, result_type=SteerAck)
    assert message in str(caught.value.cause)
    assert (await status(handle)).awaiting_review == "draft"
    ack = await handle.execute_update("approve", {"stage": "draft", "run": 1}, result_type=SteerAck)
    assert ack.message == "stage 'draft' approved"
    await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"stage": "nope"}, "unknown stage 'nope'"),
        ({"stage": "research"}, "stage 'research' is not awaiting review; 'draft' is"),
        ({"stag": "draft"}, "stag: Extra inputs are not permitted"),
        ("draft", "input: Input should be an object"),
    ],
)
async def test_an_approve_signal_that_fits_nothing_is_shown_as_ignored(fake_worker, payload, reason):
    fakes, start = fake_worker
    handle = await start("PipelineWorkflow", THREE_WITH_REVIEW)
    await until(handle, lambda s: s.awaiting_review == "draft")
    await handle.signal("approve", payload)
    waiting = await until(handle, lambda s: bool(s.ignored_signals))
    assert waiting.awaiting_review == "draft"  # still waiting: nothing was approved
    ignored = waiting.ignored_signals[0]
    assert ignored.name == "approve" and reason in ignored.reason and ignored.args == payload
    memo = await (await handle.describe()).memo()
    assert memo["ignored_signals"][0]["reason"] == ignored.reason
    await handle.signal("approve", {"stage": "draft"})
    await handle.result()
    approvals = [a for a in (await build_trace(await handle.fetch_history())).actions if a.name == "approve"]
    assert [a.outcome for a in approvals] == [f"ignored: {ignored.reason}", None]


async def test_an_approval_binds_to_the_run_of_the_stage_it_saw(fake_worker):
    """What `temporal workflow reset` re-applies: an approval sent before a stage
    awaited review, or naming an earlier run of it, approves nothing new."""
    fakes, start = fake_worker
    handle = await start("PipelineWorkflow", THREE_WITH_REVIEW)
    await until(handle, lambda s: s.awaiting_review == "draft")
    await handle.execute_update("feedback", FeedbackRequest(text="Shorter"), result_type=SteerAck)
    await handle.signal("approve", {"stage": "draft", "run": 1})  # the first draft's approval, late
    second = await until(handle, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2 and bool(s.ignored_signals))
    assert "run 2 is awaiting review" in second.ignored_signals[0].reason or "not awaiting review" in second.ignored_signals[0].reason
    await asyncio.sleep(0.2)
    assert (await status(handle)).awaiting_review == "draft"
    await handle.signal("approve", {"stage": "draft", "run": 2})
    await handle.result()
    assert fakes.stages_called() == ["research", "draft", "draft", "edit"]


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("aprove", [{"stage": "draft"}], "no signal 'aprove'; this run takes approve, pause, resume"),
        ("pause", [{"x": 1}], "pause takes no argument; 1 given"),
        ("resume", ["now", 2], "resume takes no argument; 2 given"),
        ("approve", [{"stage": 123}], "stage: Input should be a valid string"),
    ],
)
async def test_a_signal_with_an_unknown_name_or_malformed_arguments_is_shown_as_ignored(fake_worker, name, args, reason):
    """Signals answer nobody: what one changed nothing, and why, is in status, the memo and the trace."""
    fakes, start = fake_worker
    handle = await start("PipelineWorkflow", THREE_WITH_REVIEW)
    await until(handle, lambda s: s.awaiting_review == "draft")
    await handle.signal(name, args=args)
    waiting = await until(handle, lambda s: bool(s.ignored_signals))
    [ignored] = waiting.ignored_signals
    assert ignored.name == name and reason in ignored.reason
    assert ignored.args == (args[0] if len(args) == 1 else args)
    assert waiting.state == "awaiting_review" and waiting.awaiting_review == "draft"  # nothing changed
    memo = await (await handle.describe()).memo()
    assert memo["ignored_signals"][0]["reason"] == ignored.reason
    await handle.signal("approve", {"stage": "draft"})
    await handle.result()
    assert fakes.stages_called() == ["research", "draft", "edit"]
    actions = (await build_trace(await handle.fetch_history())).actions
    assert [a.outcome for a in actions if a.name == name][0] == f"ignored: {ignored.reason}"
