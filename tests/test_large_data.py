"""Data beyond Temporal's limits never leaves a run stuck: a step whose input or
answer would not fit in one payload fails at once, naming the step, the size and
the limit, with the outputs so far kept in the memo (dev server, real worker,
the real ``openai`` client against the scripted model server)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError

from baton import client as baton
from baton import contracts
from baton.temporal import data_converter
from baton.contracts import FanOutInput, PipelineInput, StageSpec, TaskSpec
from tests.conftest import real_worker, spawn_worker


def pipeline(count: int, agent: str = "writer") -> PipelineInput:
    return PipelineInput(goal="Write at length", stages=[StageSpec(name=f"s{n}", agent=agent) for n in range(1, count + 1)])


async def failure_of(dev_env, task_queue: str, inp: PipelineInput):
    handle = await dev_env.client.start_workflow("PipelineWorkflow", inp, id=f"large-{uuid.uuid4().hex[:6]}",
                                                 task_queue=task_queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), 60)  # before: Running for ever, its workflow tasks failing
    return handle, failed.value.cause


async def test_a_step_whose_input_would_not_fit_fails_at_once_naming_it(dev_env, llm, task_queue):
    for n in range(1, 7):
        llm.script_stage(f"s{n}", chr(ord("a") + n) * 400_000)  # 400 KB answers: six of them overfill a payload
    async with real_worker(dev_env.client, llm, task_queue):
        handle, cause = await failure_of(dev_env, task_queue, pipeline(7))
        memo = await (await handle.describe()).memo()
    assert cause.type == "PayloadTooLarge"
    size = int(re.search(r"stage 's7': its input is ([\d,]+) bytes", cause.message).group(1).replace(",", ""))
    assert 2_400_000 < size < 2_410_000 and "s1 400,000" in cause.message  # six outputs, the spec and the JSON around them
    assert "2,097,152" in cause.message and '"artifacts": true' in cause.message
    assert [r.stage for r in llm.requests] == ["s1", "s2", "s3", "s4", "s5", "s6"]  # s7 was never asked
    assert set(memo["partial_outputs"]) == {"s1", "s2", "s3", "s4", "s5", "s6"}  # previews: the memo fits too
    assert len(str(memo)) < 200_000


async def test_an_answer_too_large_to_record_fails_at_its_first_attempt(dev_env, llm, task_queue):
    llm.script_stage("s1", "z" * 3_000_000)
    async with real_worker(dev_env.client, llm, task_queue):
        _, cause = await failure_of(dev_env, task_queue, pipeline(1, agent="flaky"))  # it has a fallback model
    assert cause.type == "PayloadTooLarge"
    assert len(llm.requests) == 1  # no paid retry, no fallback
    assert "3,000," in cause.message and "max_tokens" in cause.message and '"artifacts": true' in cause.message


async def test_a_fan_out_whose_synthesis_would_not_fit_fails_at_once_naming_it(dev_env, llm, task_queue):
    tasks = [TaskSpec(id=f"t{n}", agent="researcher", prompt=f"part {n}") for n in range(10)]
    for task in tasks:
        llm.script_stage(task.id, "q" * 400_000)
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow("FanOutWorkflow", FanOutInput(goal="g", tasks=tasks),
                                                     id=f"large-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 60)
    assert failed.value.cause.type == "PayloadTooLarge"
    assert "task 'synthesis'" in failed.value.cause.message and "its input is 4,00" in failed.value.cause.message
    assert "synthesis" not in {r.stage for r in llm.requests}


async def test_a_run_whose_result_would_not_fit_fails_instead_of_completing(dev_env, llm, task_queue):
    tasks = [TaskSpec(id=f"t{n}", agent="researcher", prompt=f"part {n}") for n in range(6)]
    for task in tasks:
        llm.script_stage(task.id, "r" * 400_000)
    inp = FanOutInput(goal="g", tasks=tasks, synthesizer=None)  # the result holds every answer: 2.4 MB
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow("FanOutWorkflow", inp, id=f"large-{uuid.uuid4().hex[:6]}",
                                                     task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 60)
        memo = await (await handle.describe()).memo()
    assert failed.value.cause.type == "PayloadTooLarge"
    assert "the run's result is 2,40" in failed.value.cause.message
    assert len(memo["partial_outputs"]) == 6  # previews of each


async def test_a_run_near_the_history_limits_stops_before_its_next_step_keeping_its_outputs(dev_env, llm, task_queue,
                                                                                            monkeypatch):
    # Temporal's limits (50 MiB of history) take minutes to reach; the guard, lowered, takes seconds.
    monkeypatch.setattr(contracts, "HISTORY_BYTES_GUARD", 150_000)
    for n in range(1, 6):
        llm.script_stage(f"s{n}", chr(ord("a") + n) * 30_000)
    async with real_worker(dev_env.client, llm, task_queue):
        handle, cause = await failure_of(dev_env, task_queue, pipeline(5))
        memo = await (await handle.describe()).memo()
    assert cause.type == "HistoryTooLarge"
    stopped = re.search(r"limits; '([^']+)' and the steps after it were not started", cause.message).group(1)
    done = [r.stage for r in llm.requests]
    assert stopped not in done and stopped == f"s{len(done) + 1}" and 1 < len(done) < 5
    assert "near Temporal's limits" in cause.message and "150,000 bytes" in cause.message
    assert set(memo["partial_outputs"]) == set(done)


async def test_the_sdks_payload_size_warnings_reach_the_structured_log(dev_env, llm, task_queue, tmp_path):
    llm.script_stage("s1", "w" * 600_000)  # past the SDK's 512 KiB warning size, within the limit
    log = tmp_path / "worker.log"
    worker = await spawn_worker(dev_env, llm, task_queue, log)
    try:
        handle = await dev_env.client.start_workflow("PipelineWorkflow", pipeline(1), id=f"warned-{uuid.uuid4().hex[:6]}",
                                                     task_queue=task_queue)
        await asyncio.wait_for(handle.result(), 60)
    finally:
        worker.terminate()
        await worker.wait()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    warned = [line for line in lines if line.get("logger", "").startswith("temporalio.core") and "payload" in line["event"].lower()]
    assert warned and warned[0]["level"] == "warning", log.read_text()[-3000:]


async def test_with_a_payload_store_the_large_pipeline_completes_and_its_history_stays_small(dev_env, llm, tmp_path):
    # What BATON_PAYLOAD_STORE gives every process: the same converter, the same store.
    converter = data_converter({"BATON_PAYLOAD_STORE": f"file://{tmp_path / 'payloads'}"})
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace, data_converter=converter)
    for n in range(1, 8):
        llm.script_stage(f"s{n}", chr(ord("a") + n) * 400_000)
    async with real_worker(client, llm, "stored-payloads"):
        handle = await client.start_workflow("PipelineWorkflow", pipeline(7), id=f"stored-{uuid.uuid4().hex[:6]}",
                                             task_queue="stored-payloads")
        result = await asyncio.wait_for(handle.result(), 60)
        info = (await handle.describe()).raw_description.workflow_execution_info
        trace = await baton.trace(client, handle.id)
    assert [r.stage for r in llm.requests] == [f"s{n}" for n in range(1, 8)]
    assert result["outputs"]["s7"] == "h" * 400_000  # read back whole from the store
    assert "f" * 400_000 in llm.requests[-1].prompt  # s7 saw s5's whole output: 2.4 MB of context
    assert info.history_size_bytes < 100_000 and info.history_length < 100  # the history holds references
    assert len(trace.calls) == 7  # the trace reads through the store too
    with pytest.raises(RuntimeError, match="TMPRL1105"):  # a client without the store cannot read them
        await dev_env.client.get_workflow_handle(handle.id).result()


@pytest.mark.parametrize("where", ["ftp://x", "s3://bucket/and/a/path", "file://", "/a/folder"])
def test_a_payload_store_that_is_neither_a_folder_nor_a_bucket_is_refused_by_name(where):
    with pytest.raises(ValueError, match=f"BATON_PAYLOAD_STORE='{where}': give file:///a/folder or s3://a-bucket"):
        data_converter({"BATON_PAYLOAD_STORE": where})


async def test_a_run_holding_data_near_the_limits_is_cancelled_keeping_previews_of_its_outputs(dev_env, llm, task_queue):
    # Before, such a run could be stuck with its workflow task failing, and cancel left it Running.
    for n in range(1, 5):
        llm.script_stage(f"s{n}", chr(ord("a") + n) * 400_000)
    inp = PipelineInput(goal="Write at length", stages=[*pipeline(4).stages, StageSpec(name="s5", agent="writer", review=True)])
    llm.script_stage("s5", "e" * 100)
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow("PipelineWorkflow", inp, id=f"large-{uuid.uuid4().hex[:6]}",
                                                     task_queue=task_queue)
        async with asyncio.timeout(60):
            while (await baton.status(dev_env.client, handle.id)).awaiting_review != "s5":
                await asyncio.sleep(0.2)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as stopped:
            await asyncio.wait_for(handle.result(), 30)
        memo = await (await handle.describe()).memo()
    assert type(stopped.value.cause).__name__ == "CancelledError"
    assert set(memo["partial_outputs"]) == {"s1", "s2", "s3", "s4", "s5"} and len(str(memo)) < 200_000
