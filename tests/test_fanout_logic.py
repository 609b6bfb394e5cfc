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
