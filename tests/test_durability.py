"""Durability on the real dev server: a worker SIGKILLed with 10 agent calls in
flight, a worker stopped with SIGTERM mid-call, the Temporal server itself
restarted mid-run (SQLite file), and 300 pipelines at once. Nothing is lost and
no completed agent call is made twice (counted at the test server)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid

from temporalio.client import Client

from baton import client as baton
from baton.agents import DEFAULT_AGENTS_FILE
from baton.contracts import PipelineInput, StageSpec
from baton.embedded import dev_server_argv
from baton.temporal import data_converter
from tests.conftest import free_port, spawn_worker
from tests.llm_server import Reply
from tests.test_pipeline_logic import until


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await process.wait()


async def test_sigkill_with_ten_calls_in_flight_repeats_no_completed_call(dev_env, llm, task_queue, tmp_path):
    tasks = [{"id": f"t{n}", "agent": "researcher", "prompt": f"part {n}"} for n in range(20)]
    for n in range(10, 20):  # the second ten hang until the worker dies, then answer
        llm.script_stage(f"t{n}", Reply(text=f"slow {n}", delay=60), f"after the crash {n}")
    first = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-1.log")
    handle = await baton.start(dev_env.client, baton.parse_input("fan-out", {"goal": "Compare", "tasks": tasks, "max_parallel": 10}),
                               queue=task_queue)
    try:
        status = await until(dev_env.client.get_workflow_handle(handle.id),
                             lambda s: len(s.completed_stages) == 10 and len(s.running) == 10, 30)
        async with asyncio.timeout(10):  # every one of the ten is at the provider
            while sum(llm.stage_calls(f"t{n}") for n in range(10, 20)) < 10:
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-2.log")
        result = await asyncio.wait_for(baton.wait_result(dev_env.client, handle.id), 60)
    finally:
        await stop(first)
        if "second" in locals():
            await stop(second)
    assert sorted(status.completed_stages) == sorted(f"t{n}" for n in range(10))
    assert len(result.completed) == 20 and result.failed == []
    assert [llm.stage_calls(f"t{n}") for n in range(10)] == [1] * 10  # done before the crash: never asked again
    assert [llm.stage_calls(f"t{n}") for n in range(10, 20)] == [2] * 10  # in flight: asked once more
    assert result.completed["t15"] == "after the crash 15"


async def test_sigterm_lets_the_call_in_flight_finish_and_nothing_is_repeated(dev_env, llm, task_queue, tmp_path):
    llm.script_stage("draft", Reply(text="finished during shutdown", delay=2))
    first = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-1.log")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer"), StageSpec(name="edit", agent="editor")])
    handle = await baton.start(dev_env.client, inp, queue=task_queue)
    async with asyncio.timeout(30):
        while llm.stage_calls("draft") == 0:
            await asyncio.sleep(0.05)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 30) == 0
    second = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker-2.log")
    try:
        result = await asyncio.wait_for(baton.wait_result(dev_env.client, handle.id), 60)
    finally:
        await stop(second)
    assert result.outputs["draft"] == "finished during shutdown"
    assert llm.stage_calls("draft") == 1 and llm.stage_calls("edit") == 1
    assert "agent call finished" in (tmp_path / "worker-1.log").read_text()


async def test_the_temporal_server_restarted_mid_run_loses_nothing(llm, task_queue, tmp_path):
    port = free_port()
    argv = dev_server_argv(port, free_port(), tmp_path / "temporal.db")
    log = open(tmp_path / "server.log", "ab")
    server = subprocess.Popen(argv, stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    worker = None
    try:
        client = await connect_when_up(address)
        llm.script_stage("research", Reply(text="researched across a restart", delay=3))
        worker = await spawn_worker(None, llm, task_queue, tmp_path / "worker.log", TEMPORAL_ADDRESS=address)
        inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher"),
                                                          StageSpec(name="draft", agent="writer")])
        handle = await baton.start(client, inp, workflow_id=f"restart-{uuid.uuid4().hex[:6]}", queue=task_queue)
        async with asyncio.timeout(30):
            while llm.stage_calls("research") == 0:
                await asyncio.sleep(0.05)
        server.terminate()  # mid-call: the server goes away with the run open
        server.wait(timeout=30)
        await asyncio.sleep(1)
        server = subprocess.Popen(argv, stdout=log, stderr=log)
        client = await connect_when_up(address)
        result = await asyncio.wait_for(baton.wait_result(client, handle.id), 90)
    finally:
        if worker is not None:
            await stop(worker)
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # The research call's answer may have been lost with the server (then the call is
    # retried after its heartbeat timeout): either way the run went on to the end.
    assert set(result.outputs) == {"research", "draft"}
    assert (await asyncio.to_thread(lambda: "worker started" in (tmp_path / "worker.log").read_text()))


async def connect_when_up(address: str, timeout: float = 30) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, data_converter=data_converter({}))
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def test_three_hundred_concurrent_pipelines_all_complete(dev_env, llm, task_queue, tmp_path):
    llm.latency = 0.05  # every agent call takes 50 ms at the provider
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher"),
                                                      StageSpec(name="draft", agent="writer")])
    client = dev_env.client
    # An operator's worker process with the shipped team and its production timeouts, on the test model.
    worker = await spawn_worker(dev_env, llm, task_queue, tmp_path / "worker.log",
                                BATON_AGENTS=str(DEFAULT_AGENTS_FILE), BATON_MODEL="test-model")
    began = time.monotonic()
    try:
        handles = await asyncio.gather(*(baton.start(client, inp, workflow_id=f"load-{n}-{uuid.uuid4().hex[:4]}", queue=task_queue)
                                         for n in range(300)))
        results = await asyncio.wait_for(asyncio.gather(*(baton.wait_result(client, h.id) for h in handles)), 240)
    finally:
        await stop(worker)
    wall = time.monotonic() - began
    completed = sum(1 for r in results if set(r.outputs) == {"research", "draft"})
    print(f"\n300 concurrent pipelines: {completed} completed in {wall:.1f}s ({600 / wall:.0f} agent calls/s)")
    assert completed == 300 and len(llm.requests) == 600
