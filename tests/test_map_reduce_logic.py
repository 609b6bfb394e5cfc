"""MapReduceWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType

from baton.contracts import MapReduceInput, MapReduceResult
from tests.test_pipeline_logic import until


def items(n: int) -> list[str]:
    return [f"item text {i}" for i in range(n)]


async def test_maps_every_item_in_batches_and_reduces_hierarchically(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.01
    inp = MapReduceInput(goal="Summarise reviews", items=items(25), mapper="researcher", reducer="editor",
                         batch_size=10, max_parallel=4, max_batches_in_flight=2, reduce_fan_in=3)
    result = await (await start("MapReduceWorkflow", inp, MapReduceResult)).result()
    mapped = [c for c in fakes.calls if c.stage.startswith("item-")]
    assert sorted(int(c.stage.split("-")[1]) for c in mapped) == list(range(25))
    assert fakes.max_in_flight <= 2 * 4  # two batches in flight, four calls each
    # Batch of 10 -> groups of 3: 4 reduces, then 2, then 1; batch of 5: 2 then 1; parent: 3 partials -> 1.
    reduces = [c for c in fakes.calls if c.stage.startswith("reduce-")]
    assert len(reduces) == 2 * (4 + 2 + 1) + (2 + 1) + 1
    assert all(len(c.context) <= 3 for c in reduces)
    assert result.mapped == 25 and result.failed_count == 0 and result.result == "reduce-1.0 v" + str(
        sum(1 for c in reduces if c.stage == "reduce-1.0"))
    assert result.usage.total_tokens == 15 * len(fakes.calls)


async def test_failed_items_are_listed_and_do_not_sink_the_run(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"item-2", "item-7"}
    inp = MapReduceInput(goal="g", items=items(9), mapper="researcher", reducer="editor", batch_size=5)
    result = await (await start("MapReduceWorkflow", inp, MapReduceResult)).result()
    assert result.mapped == 7 and result.failed_count == 2 and [f.index for f in result.failed] == [2, 7]
    assert "item-2 cannot be done" in result.failed[0].error


async def test_continues_as_new_before_history_grows_too_long(fake_worker, skip_env):
    fakes, start = fake_worker
    inp = MapReduceInput(goal="g", items=items(120), mapper="researcher", reducer="editor",
                         batch_size=1, max_batches_in_flight=20, max_history_events=200)
    handle = await start("MapReduceWorkflow", inp, MapReduceResult)
    result = await handle.result()
    assert result.mapped == 120 and result.runs >= 2
    assert sorted(int(c.stage.split("-")[1]) for c in fakes.calls if c.stage.startswith("item-")) == list(range(120))
    # Each run of the parent stayed near the bound it was given.
    run_ids, run_id = [], handle.result_run_id
    while run_id:
        events = [e async for e in skip_env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history_events()]
        assert len(events) <= 200 + 20 * 6, len(events)
        last = events[-1]
        run_ids.append(run_id)
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW else None)
    assert len(run_ids) == result.runs


async def test_at_max_failures_no_new_batch_starts_until_a_person_approves(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"item-0", "item-1", "item-2"}
    inp = MapReduceInput(goal="Tag", items=[f"r{i}" for i in range(10)], mapper="researcher", reducer="editor",
                         batch_size=2, max_batches_in_flight=1)
    handle = await start("MapReduceWorkflow", inp, MapReduceResult)
    waiting = await until(handle, lambda s: s.awaiting_review == "failures")
    assert waiting.info["failed"] == 3 and waiting.info["batches_started"] == 2  # batches 3-5 wait
    await asyncio.sleep(0.2)
    assert not any(c.stage in ("item-4", "item-5") for c in fakes.calls)
    await handle.execute_update("approve", {})
    result = await handle.result()
    assert result.mapped == 7 and result.failed_count == 3 and result.result is not None


async def test_with_max_failures_null_the_run_never_waits(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"item-0", "item-1", "item-2"}
    inp = MapReduceInput(goal="Tag", items=[f"r{i}" for i in range(6)], mapper="researcher", reducer="editor",
                         batch_size=2, max_batches_in_flight=1, max_failures=None)
    result = await (await start("MapReduceWorkflow", inp, MapReduceResult)).result()
    assert result.mapped == 3 and result.failed_count == 3


async def test_feedback_on_a_finished_batch_runs_it_again_as_a_new_child(fake_worker, skip_env):
    from baton.contracts import FeedbackRequest
    fakes, start = fake_worker
    release = fakes.hold("item-2")  # batch 2 is in flight while a person reads batch 1
    inp = MapReduceInput(goal="Tag", items=[f"r{i}" for i in range(4)], mapper="researcher", reducer="editor",
                         batch_size=2, max_batches_in_flight=1)
    handle = await start("MapReduceWorkflow", inp, MapReduceResult)
    await fakes.started["item-2"].wait()
    await handle.execute_update("feedback", FeedbackRequest(text="Tag the tone too", stage="batch-1"))
    release.set()
    result = await handle.result()
    assert result.mapped == 4 and result.failed_count == 0  # batch 1's new counts replaced its old ones
    assert [c.feedback for c in fakes.calls if c.stage == "item-0"] == [[], ["Tag the tone too"]]
    assert [c.feedback for c in fakes.calls if c.stage == "item-2"] == [[]]
    described = await skip_env.client.get_workflow_handle(f"{handle.id}-batch-1-v2").describe()
    assert described.parent_id == handle.id
    # The final reduce took batch 1's new partial (its child reduced the new answers).
    final = [c for c in fakes.calls if c.stage.startswith("reduce-")][-1]
    assert final.context == ["batch 1", "batch 2"]


async def test_a_batch_of_an_earlier_run_stays_steerable_after_continue_as_new(fake_worker):
    from baton.contracts import RewindRequest
    fakes, start = fake_worker
    release = fakes.hold("item-59")
    inp = MapReduceInput(goal="Tag", items=[f"r{i}" for i in range(60)], mapper="researcher", reducer="editor",
                         batch_size=1, max_batches_in_flight=10, max_history_events=200)
    handle = await start("MapReduceWorkflow", inp, MapReduceResult)
    await fakes.started["item-59"].wait()
    status = await until(handle, lambda s: s.info["runs"] >= 2 and "batch-1" in [r.name for r in s.stages])
    assert next(r for r in status.stages if r.name == "batch-1").state == "done"  # run 1's batch, shown again
    await handle.execute_update("rewind", RewindRequest(stage="batch-1"))
    release.set()
    result = await handle.result()
    assert result.runs >= 2 and result.mapped == 60 and fakes.stages_called().count("item-0") == 2


async def test_partials_carried_from_a_run_before_re_runs_reach_the_final_reduce(fake_worker):
    # A run started before baton-rerun-any-step kept its partials as a list; the run it
    # continues as new takes the new path and keeps them by batch: the reduce needs both.
    from baton.contracts import MapReduceProgress
    fakes, start = fake_worker
    carried = MapReduceProgress(next_batch=1, partials=["batch 1's partial, from the run before"], mapped=2, runs=2)
    inp = MapReduceInput(goal="Tag", items=[f"r{i}" for i in range(4)], mapper="researcher", reducer="editor",
                         batch_size=2, progress=carried)
    result = await (await start("MapReduceWorkflow", inp, MapReduceResult)).result()
    final = [c for c in fakes.calls if c.stage.startswith("reduce-")][-1]
    assert final.context == ["batch 1", "batch 2"] and result.mapped == 4
    assert result.result == "reduce-1.0 v2"  # the fake's answer to the second reduce-1.0 call (batch 2's child made the first)
