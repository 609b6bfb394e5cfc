"""Changing a pattern while runs are open (docs/versioning.md): the change behind
``workflow.patched`` replays every recorded pipeline history and gives new runs
the new behaviour; the same change unguarded breaks the old histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from baton.activities import AgentActivities, make_openai_client
from baton.activities.indexing import SearchAttributeCheck
from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import agent_registry, worker_env
from tests.versioned_pipeline import PatchedPipeline, UnguardedPipeline
from baton.sandbox import workflow_runner

PIPELINE_HISTORIES = sorted((Path(__file__).parent / "histories").glob("pipeline_*.json"))


async def replay(workflow_class: type, path: Path):
    replayer = Replayer(workflows=[workflow_class], data_converter=pydantic_data_converter, workflow_runner=workflow_runner())
    return await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()), raise_on_replay_failure=False)


@pytest.mark.parametrize("path", PIPELINE_HISTORIES, ids=lambda p: p.stem)
async def test_the_patched_change_replays_runs_started_before_it(path):
    assert (await replay(PatchedPipeline, path)).replay_failure is None


async def test_the_same_change_unguarded_breaks_them():
    failure = (await replay(UnguardedPipeline, Path(__file__).parent / "histories" / "pipeline_straight.json")).replay_failure
    assert failure is not None and "Nondeterminism" in str(failure)


async def test_runs_started_after_the_change_take_the_new_path(dev_env, llm, task_queue):
    env = worker_env(llm, task_queue)
    model = make_openai_client(env)
    agents = AgentActivities(model, agent_registry())
    async with model, Worker(dev_env.client, task_queue=task_queue, workflows=[PatchedPipeline],
                             activities=[agents.run_agent, agents.resolve_agents, SearchAttributeCheck(dev_env.client).registered],
                             workflow_runner=workflow_runner()):
        handle = await baton.start(dev_env.client, PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")]),
                                   queue=task_queue)
        result = await baton.wait_result(dev_env.client, handle.id)
    assert list(result.outputs) == ["draft", "polish"]


@pytest.mark.parametrize("pattern", ["FanOutWorkflow", "PipelineWorkflow"])
async def test_baton_decides_its_patches_before_a_run_s_first_local_activity(fake_worker, skip_env, pattern):
    # A patch decided just after a local activity replays without its marker when a
    # query split the activity's workflow task from the next one (the SIGKILL
    # durability test failed that way on a new worker): Baton's patches are decided
    # at the start of every run, before resolve_agents.
    from baton.contracts import FanOutInput, TaskSpec
    fakes, start = fake_worker
    inp = FanOutInput(goal="g", tasks=[TaskSpec(id="a", agent="researcher", prompt="p")], synthesizer=None) \
        if pattern == "FanOutWorkflow" else PipelineInput(goal="g", stages=[StageSpec(name="a", agent="researcher")])
    handle = await start(pattern, inp)
    await handle.result()
    markers = [marker_of(e) for e in (await handle.fetch_history()).events if e.HasField("marker_recorded_event_attributes")]
    assert markers.index("patch baton-rerun-any-step") < markers.index("core_local_activity"), markers


def marker_of(event) -> str:
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != "core_patch":
        return marker.marker_name
    return "patch " + json.loads(marker.details["patch-data"].payloads[0].data)["id"]


async def test_a_map_reduce_decides_child_indexing_before_its_first_local_activity(dev_env, llm, task_queue):
    # Its first child run starts right after resolve_agents; starting a child of an
    # indexed run decided baton-index-own-run there, so a split workflow task broke
    # replay the same way (map_reduce_rerun, recorded while status queries polled).
    from baton.contracts import MapReduceInput
    from tests.conftest import real_worker
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await baton.start(dev_env.client, MapReduceInput(goal="g", items=["x"], mapper="researcher", reducer="editor"),
                                   queue=task_queue)  # started indexed (BatonPattern set), as baton.start does
        await baton.wait_result(dev_env.client, handle.id)
    events = (await dev_env.client.get_workflow_handle(handle.id).fetch_history()).events
    markers = [marker_of(e) for e in events if e.HasField("marker_recorded_event_attributes")]
    assert markers.index("patch baton-index-own-run") < markers.index("core_local_activity"), markers
