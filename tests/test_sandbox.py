"""Baton's sandbox runner (baton/sandbox.py): it loads Baton's pattern modules once
per worker, and answers the SDK's payload-context questions without entering the
sandbox: every answer must be the one the SDK's own sandboxed path gives, for the
workflow, its activities and its children."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import ActivitySerializationContext, StorageDriverStoreContext, WorkflowSerializationContext
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox._runner import _Instance

from baton import client as baton
from baton.contracts import MapReduceInput, PipelineInput, StageSpec
from baton.patterns import workflow_classes
from baton.sandbox import BatonSandboxRunner, _ContextsLookedUpDirectly, workflow_runner
from baton.workflows.pipeline import PipelineWorkflow
from examples.critics import CriticsWorkflow
from tests.conftest import real_worker

HISTORIES = Path(__file__).parent / "histories"


async def test_baton_s_patterns_load_once_per_worker_and_one_s_own_afresh_per_run(monkeypatch):
    runs: list[type] = []  # the workflow class each run was made of

    def create_instance(self, det):
        instance = original(self, det)
        if det.info.workflow_id != "sandbox-validate-workflow_id":  # not the SDK's check of each class at worker start
            runs.append(instance.globals_and_locals["__temporal_workflow_class"])
        return instance
    original = BatonSandboxRunner.create_instance
    monkeypatch.setattr(BatonSandboxRunner, "create_instance", create_instance)

    async def replay_twice(name: str, runner) -> list[type]:
        runs.clear()
        history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
        replayer = Replayer(workflows=workflow_classes(), data_converter=pydantic_data_converter, workflow_runner=runner)
        for _ in range(2):
            assert (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure is None
        return list(runs)

    # The worker's runner: both runs use the class the worker imported.
    assert await replay_twice("pipeline_straight", workflow_runner()) == [PipelineWorkflow, PipelineWorkflow]
    # Strict (what the replay tests add), and a pattern of one's own: a fresh copy of the module per run.
    for first, second in (await replay_twice("pipeline_straight", workflow_runner(strict=True)),
                          await replay_twice("critics", workflow_runner())):
        assert first.__name__ == second.__name__ and first is not second
        assert first not in (PipelineWorkflow, CriticsWorkflow)


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
