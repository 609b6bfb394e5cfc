"""10,000 items through MapReduceWorkflow on the real dev server, with the real
agent activity and a scripted model that answers at once: every run (parent
continued-as-new runs and batch children) stays under 4,000 history events."""

from __future__ import annotations

import time
import uuid

import pytest

from baton.contracts import MapReduceInput, MapReduceResult
from tests.conftest import spawn_worker

ITEMS = 10_000
MAX_EVENTS_PER_RUN = 4_000


@pytest.mark.timeout(600)
async def test_ten_thousand_items_complete_and_no_run_exceeds_4000_events(dev_env, llm, task_queue, tmp_path):
    client = dev_env.client
    workflow_id = f"mr-scale-{uuid.uuid4().hex[:8]}"
    # Small batches and an early continue-as-new bound so the parent really does continue as new.
    inp = MapReduceInput(goal="Tag each review", items=[f"review {i}" for i in range(ITEMS)], mapper="researcher",
                         reducer="summarizer", batch_size=200, max_parallel=50, max_batches_in_flight=4,
                         max_history_events=200)
    began = time.monotonic()
    # The worker in its own process, as in production, so it does not share a GIL with the scripted model.
    worker = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker.log")
    try:
        handle = await client.start_workflow("MapReduceWorkflow", inp, id=workflow_id, task_queue=task_queue,
                                             result_type=MapReduceResult)
        result = await handle.result()
    finally:
        worker.terminate()
        await worker.wait()
    wall = time.monotonic() - began

    assert result.mapped == ITEMS and result.failed_count == 0 and result.result
    assert result.runs >= 2
    mapped_stages = {r.stage for r in llm.requests if r.stage and r.stage.startswith("item-")}
    assert mapped_stages == {f"item-{i}" for i in range(ITEMS)}

    runs = [run async for run in client.list_workflows(f"WorkflowId STARTS_WITH '{workflow_id}'")]
    parents = [r for r in runs if r.workflow_type == "MapReduceWorkflow"]
    batches = [r for r in runs if r.workflow_type == "MapBatchWorkflow"]
    assert len(parents) == result.runs and len(batches) == ITEMS // 200
    lengths = {f"{r.id}/{r.run_id[:8]}": (await client.get_workflow_handle(r.id, run_id=r.run_id).describe()).history_length
               for r in runs}
    largest = max(lengths, key=lengths.get)
    print(f"\n{ITEMS} items in {wall:.1f} s ({len(llm.requests) / wall:.0f} agent calls/s), {len(runs)} runs, "
          f"largest history {lengths[largest]} events ({largest})")
    assert lengths[largest] <= MAX_EVENTS_PER_RUN
