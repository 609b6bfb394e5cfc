"""FanOutWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import asyncio

from baton.contracts import FanOutInput, FanOutResult, TaskSpec
from tests.test_pipeline_logic import until


def fan_out(n: int, max_parallel: int = 3, synthesizer: str | None = "editor") -> FanOutInput:
    tasks = [TaskSpec(id=f"t{i}", agent="researcher", prompt=f"angle {i}") for i in range(n)]
    return FanOutInput(goal="Survey tides", tasks=tasks, max_parallel=max_parallel, synthesizer=synthesizer)


async def test_tasks_run_in_parallel_never_past_the_bound(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    handle = await start("FanOutWorkflow", fan_out(10, max_parallel=3), FanOutResult)
    result = await handle.result()
    assert fakes.max_in_flight == 3
    assert set(result.completed) == {f"t{i}" for i in range(10)} and result.failed == []
    assert result.synthesis == "synthesis v1"
    synthesis_call = fakes.calls[-1]
    assert synthesis_call.stage == "synthesis" and synthesis_call.context == [f"t{i}" for i in range(10)]
    assert result.usage.total_tokens == 11 * 15


async def test_a_failed_task_does_not_sink_the_others(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"t1", "t3"}
    handle = await start("FanOutWorkflow", fan_out(5), FanOutResult)
    result = await handle.result()
    assert set(result.completed) == {"t0", "t2", "t4"}
    assert [(f.id, f.agent) for f in result.failed] == [("t1", "researcher"), ("t3", "researcher")]
    assert "t1 cannot be done" in result.failed[0].error and "task 't1'" in result.failed[0].error
    # The synthesis saw only what succeeded.
    assert fakes.calls[-1].context == ["t0", "t2", "t4"]


async def test_without_synthesizer_and_when_everything_fails(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"t0", "t1"}
    handle = await start("FanOutWorkflow", fan_out(2, synthesizer=None), FanOutResult)
    result = await handle.result()
    assert result.completed == {} and len(result.failed) == 2 and result.synthesis is None
    assert all(c.stage != "synthesis" for c in fakes.calls)


async def test_pause_holds_new_tasks_and_status_shows_progress(fake_worker):
    fakes, start = fake_worker
    release = fakes.hold("t0")
    handle = await start("FanOutWorkflow", fan_out(4, max_parallel=1), FanOutResult)
    await fakes.started["t0"].wait()
    await handle.signal("pause")
    release.set()
    paused = await until(handle, lambda s: s.completed_stages == ["t0"])
    assert paused.state == "paused" and paused.pattern == "fan-out"
    await asyncio.sleep(0.2)
    assert fakes.stages_called() == ["t0"]
    await handle.signal("resume")
    await handle.result()
    assert fakes.stages_called() == ["t0", "t1", "t2", "t3", "synthesis"]


async def test_cancel_records_partial_results(fake_worker):
    fakes, start = fake_worker
    fakes.hold("t1")
    handle = await start("FanOutWorkflow", fan_out(2, max_parallel=2), FanOutResult)
    await until(handle, lambda s: s.completed_stages == ["t0"])
    await handle.cancel()
    cancelled = await until(handle, lambda s: s.state == "cancelled")
    assert cancelled.completed_stages == ["t0"]
    memo = await (await handle.describe()).memo()
    assert memo["partial_outputs"] == {"t0": "t0 v1"}
    partial = await handle.query("result", result_type=FanOutResult)
    assert partial.completed == {"t0": "t0 v1"}


async def test_at_max_failures_a_person_decides_go_on_or_retry_a_failed_task(fake_worker):
    from temporalio.client import WorkflowUpdateFailedError

    from baton.contracts import FeedbackRequest, SteerAck
    fakes, start = fake_worker
    fakes.failing_steps = {"t0", "t1", "t2"}
    handle = await start("FanOutWorkflow", fan_out(5, max_parallel=5), FanOutResult)
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.awaiting_review == "failures" and "synthesis" not in fakes.stages_called()
    # Feedback must name a failed task: the gate itself cannot run again.
    try:
        await handle.execute_update("feedback", FeedbackRequest(text="go"))
        raise AssertionError("feedback on the gate was accepted")
    except WorkflowUpdateFailedError as err:
        assert "approve to go on" in str(err.cause)
    fakes.failing_steps = {"t0", "t2"}  # t1 can now be done
    ack = await handle.execute_update("feedback", FeedbackRequest(text="try the other source", stage="t1"),
                                      result_type=SteerAck)
    assert ack.rerun_from == "t1"
    # Two failures left: below the gate, so the run goes on to the synthesis without asking again.
    result = await handle.result()
    assert set(result.completed) == {"t1", "t3", "t4"} and {f.id for f in result.failed} == {"t0", "t2"}
    assert [c.feedback for c in fakes.calls if c.stage == "t1"] == [[], ["try the other source"]]
    assert fakes.calls[-1].stage == "synthesis" and fakes.calls[-1].context == ["t1", "t3", "t4"]


async def test_at_max_failures_approve_goes_on_with_what_succeeded(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"t0", "t1", "t2"}
    handle = await start("FanOutWorkflow", fan_out(4, max_parallel=4), FanOutResult)
    await until(handle, lambda s: s.awaiting_review == "failures")
    await handle.execute_update("approve", {})
    result = await handle.result()
    assert set(result.completed) == {"t3"} and len(result.failed) == 3 and result.synthesis == "synthesis v1"


async def test_max_failures_none_never_waits(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"t0", "t1", "t2"}
    result = await (await start("FanOutWorkflow", fan_out(4).model_copy(update={"max_failures": None}), FanOutResult)).result()
    assert len(result.failed) == 3 and result.synthesis == "synthesis v1"
