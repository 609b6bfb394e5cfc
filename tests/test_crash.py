"""Kill the worker (SIGKILL) while a stage runs: a new worker finishes the run,
and no completed stage's model call is made twice."""

from __future__ import annotations

import asyncio
import signal

from baton import client as baton
from temporalio.api.enums.v1 import EventType, TimeoutType

from baton.contracts import PipelineInput, StageSpec
from tests.conftest import TOOL_AGENTS, spawn_worker
from tests.llm_server import Reply


async def kill_and_finish(first, dev_env, llm, task_queue, tmp_path, workflow_id: str, **env: str):
    """SIGKILL the worker, start a second (stopped with SIGTERM after): the run's result and that worker."""
    first.send_signal(signal.SIGKILL)
    await first.wait()
    second = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-2.log", **env)
    try:
        return await asyncio.wait_for(baton.wait_result(dev_env.client, workflow_id), 60), second
    finally:
        second.terminate()
        await second.wait()


async def started_until_called(dev_env, llm, task_queue, tmp_path, inp: PipelineInput, stage: str):
    """A worker in its own process runs the pipeline until ``stage``'s call is in flight: that worker and the run."""
    first = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-1.log")
    handle = await baton.start_pipeline(dev_env.client, inp, queue=task_queue)
    async with asyncio.timeout(30):
        while llm.stage_calls(stage) == 0:
            await asyncio.sleep(0.05)
    return first, handle


async def test_worker_killed_mid_stage_run_completes_without_repeating_done_stages(dev_env, llm, task_queue, tmp_path):
    # The draft call is slow, so the worker is surely killed while it is in flight.
    llm.script("Your stage: draft", Reply(text="slow draft", delay=30), "draft after crash")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name=n, agent=a) for n, a in
                        [("research", "researcher"), ("draft", "writer"), ("edit", "editor")]])
    first, handle = await started_until_called(dev_env, llm, task_queue, tmp_path, inp, "draft")

    result, second = await kill_and_finish(first, dev_env, llm, task_queue, tmp_path, handle.id)

    assert result.outputs["draft"] == "draft after crash"
    assert result.final.startswith("answer #")  # edit ran after the new worker took over
    # research finished before the crash: never asked again. draft was in flight: asked once more.
    assert (llm.stage_calls("research"), llm.stage_calls("draft"), llm.stage_calls("edit")) == (1, 2, 1)
    # The retried draft released the dead worker's sticky queue: the task its answer woke went
    # straight to the new worker instead of timing out there first (activities/sticky.py).
    history = await dev_env.client.get_workflow_handle(handle.id).fetch_history()
    assert [e.event_type for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT] == []
    # SIGTERM let the second worker shut down cleanly.
    assert second.returncode == 0


async def test_worker_killed_between_tool_calls_repeats_no_completed_turn_or_call(dev_env, llm, task_queue, tmp_path):
    calls = tmp_path / "tool-calls.log"
    calls.touch()
    llm.script_stage("steps", Reply(tool_calls=[("slow_step", {"n": 1, "seconds": 0.1})]),
                     Reply(tool_calls=[("slow_step", {"n": 2, "seconds": 2.0})]), Reply(text="all steps done"))
    env = {"BATON_AGENTS": TOOL_AGENTS, "BATON_CODE": "tests.tool_functions", "BATON_TOOL_LOG": str(calls)}
    first = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-1.log", **env)
    inp = PipelineInput(goal="Do two steps", stages=[StageSpec(name="steps", agent="stepper")])
    handle = await baton.start_pipeline(dev_env.client, inp, queue=task_queue)
    async with asyncio.timeout(30):
        while "slow_step 2 started" not in calls.read_text():
            await asyncio.sleep(0.05)

    # Killed between the first tool call (done) and the second's answer.
    result, _ = await kill_and_finish(first, dev_env, llm, task_queue, tmp_path, handle.id, **env)

    assert result.outputs["steps"] == "all steps done"
    log = calls.read_text().splitlines()
    # The first call finished before the crash: never run again. The second was cut off: run once more.
    assert log.count("slow_step 1 started") == 1
    assert (log.count("slow_step 2 started"), log.count("slow_step 2 done")) == (2, 1)
    assert llm.stage_calls("steps") == 3  # three model turns, each asked once
    # The dead worker's tool call was noticed by its missing heartbeats (the stepper's 2 s),
    # not at the tool's own timeout (slow_step's 4 s, and the 2 s margin).
    history = await dev_env.client.get_workflow_handle(handle.id).fetch_history()
    retried = [e.activity_task_started_event_attributes for e in history.events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and e.activity_task_started_event_attributes.attempt == 2]
    assert len(retried) == 1
    assert retried[0].last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT


async def test_worker_killed_mid_short_call_makes_its_workflow_tasks_short_calls_again(dev_env, llm, task_queue, tmp_path):
    # The trade-off AgentSpec.short states: a short agent's calls are local activities, recorded
    # when their workflow task completes. triage and sort answered, file was in flight, all in
    # one workflow task: after the crash the new worker makes all three again (once the dead
    # worker's workflow task times out) and the run completes.
    llm.script_stage("file", Reply(text="slow", delay=30), "filed after crash")
    inp = PipelineInput(goal="Sort the mail", stages=[StageSpec(name=n, agent="quick") for n in ("triage", "sort", "file")])
    first, handle = await started_until_called(dev_env, llm, task_queue, tmp_path, inp, "file")

    result, _ = await kill_and_finish(first, dev_env, llm, task_queue, tmp_path, handle.id)

    assert result.outputs["file"] == "filed after crash"
    assert (llm.stage_calls("triage"), llm.stage_calls("sort"), llm.stage_calls("file")) == (2, 2, 2)
