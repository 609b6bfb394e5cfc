"""Kill the worker (SIGKILL) while a stage runs: a new worker finishes the run,
and no completed stage's model call is made twice."""

from __future__ import annotations

import asyncio
import signal

from baton import client as baton
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


async def test_worker_killed_mid_stage_run_completes_without_repeating_done_stages(dev_env, llm, task_queue, tmp_path):
    # The draft call is slow, so the worker is surely killed while it is in flight.
    llm.script("Your stage: draft", Reply(text="slow draft", delay=30), "draft after crash")
    first = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-1.log")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name=n, agent=a) for n, a in
                        [("research", "researcher"), ("draft", "writer"), ("edit", "editor")]])
    handle = await baton.start_pipeline(dev_env.client, inp, queue=task_queue)
    async with asyncio.timeout(30):
        while llm.stage_calls("draft") == 0:
            await asyncio.sleep(0.05)

    result, second = await kill_and_finish(first, dev_env, llm, task_queue, tmp_path, handle.id)

    assert result.outputs["draft"] == "draft after crash"
    assert result.final.startswith("answer #")  # edit ran after the new worker took over
    # research finished before the crash: never asked again. draft was in flight: asked once more.
    assert (llm.stage_calls("research"), llm.stage_calls("draft"), llm.stage_calls("edit")) == (1, 2, 1)
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
