"""Baton's sandbox runner answers the SDK's payload-context questions without
entering the sandbox (baton/sandbox.py): every answer must be the one the SDK's
own sandboxed path gives, for the workflow, its activities and its children."""

from __future__ import annotations

from temporalio.converter import ActivitySerializationContext, StorageDriverStoreContext, WorkflowSerializationContext
from temporalio.worker.workflow_sandbox._runner import _Instance

from baton import client as baton
from baton.contracts import MapReduceInput, PipelineInput, StageSpec
from baton.sandbox import _ContextsLookedUpDirectly
from tests.conftest import real_worker


async def test_contexts_looked_up_directly_are_the_sandbox_s_own(dev_env, llm, task_queue, monkeypatch):
    answers: list[tuple[object, object]] = []

    def compared(direct, sandboxed):  # answers as Baton does, recording the SDK's own answer beside it
        def answer(self, command_info):
            answers.append((direct(self, command_info), sandboxed(self, command_info)))
            return answers[-1][0]
        return answer

    for lookup in ("get_serialization_context", "get_external_store_context"):
        monkeypatch.setattr(_ContextsLookedUpDirectly, lookup,
                            compared(getattr(_ContextsLookedUpDirectly, lookup), getattr(_Instance, lookup)))
    async with real_worker(dev_env.client, llm, task_queue):
        await baton.wait_result(dev_env.client, (await baton.start(
            dev_env.client, PipelineInput(goal="g", stages=[StageSpec(name="a", agent="researcher"), StageSpec(name="b", agent="writer")]),
            queue=task_queue)).id)
        # Map-reduce starts a child workflow per batch: a context of another workflow's id.
        inp = MapReduceInput(goal="g", items=["x", "y", "z"], mapper="researcher", reducer="editor", batch_size=2)
        mapped = await baton.start(dev_env.client, inp, queue=task_queue)
        await baton.wait_result(dev_env.client, mapped.id)

    assert answers and all(direct == sandboxed for direct, sandboxed in answers), answers
    seen = {type(d) for d, _ in answers}
    assert {ActivitySerializationContext, WorkflowSerializationContext} <= seen, seen
    # A batch child's start: its payloads belong to the child, stored under the child's id.
    assert {d.workflow_id for d, _ in answers if isinstance(d, WorkflowSerializationContext)} >= {
        f"{mapped.id}-batch-1", f"{mapped.id}-batch-2"}
    assert any(isinstance(d, StorageDriverStoreContext) and d.target.id == f"{mapped.id}-batch-1" and d.target.run_id is None
               for d, _ in answers)
