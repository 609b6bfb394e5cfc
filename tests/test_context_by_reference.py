"""With a payload store (``BATON_PAYLOAD_STORE``), large runs complete and their
histories grow with their steps, not their square: each output is in the history
once (the result of its call), later steps' inputs name it by reference, and the
activity reads it back whole (dev server, Baton's worker, the real ``openai``
client against the scripted model server). The issue's "done means" runs."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from baton.contracts import FanOutInput, PipelineInput, StageSpec, TaskSpec
from baton.context_store import context_store
from baton.replay import from_files, replay
from baton.trace import build_trace
from baton.temporal import data_converter
from tests.conftest import real_worker

HISTORY_EVENTS_BOUND = 4_000
HISTORY_BYTES_BOUND = 4 * 1024 * 1024


@pytest.fixture
def store_env(tmp_path) -> dict[str, str]:
    return {"BATON_PAYLOAD_STORE": (tmp_path / "store").as_uri()}


@pytest.fixture
def stored_client(dev_env, store_env) -> Client:
    # What BATON_PAYLOAD_STORE gives every process: the same converter, the same store.
    return Client(dev_env.client.service_client, namespace=dev_env.client.namespace, data_converter=data_converter(store_env))


def pipeline(count: int) -> PipelineInput:
    return PipelineInput(goal="Write at length", stages=[StageSpec(name=f"s{n}", agent="writer") for n in range(1, count + 1)])


async def run(client: Client, llm, store_env, workflow: str, inp, timeout: float):
    """The run's result and its history's size (bytes, events), from a worker with the store."""
    queue = f"refs-{uuid.uuid4().hex[:6]}"
    async with real_worker(client, llm, queue, **store_env):
        handle = await client.start_workflow(workflow, inp, id=f"refs-{uuid.uuid4().hex[:6]}", task_queue=queue)
        result = await asyncio.wait_for(handle.result(), timeout)
        info = (await handle.describe()).raw_description.workflow_execution_info
        history = await handle.fetch_history()
    return result, info.history_size_bytes, info.history_length, history


def agent_inputs(history) -> list[dict]:
    """Each agent call's input as the history holds it (small ones inline; none here is large)."""
    return [json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data) for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == "run_agent"]


async def test_a_200_stage_pipeline_holds_each_output_once(stored_client, llm, store_env):
    # The contract's longest pipeline, 4,000-character answers: before, every stage's input repeated
    # every earlier output and the server terminated the run at stage 161 (53 MB of history).
    llm.keep_prompt_chars = 200
    for n in range(1, 201):
        llm.script_stage(f"s{n}", f"{n:03d}" + "x" * 3_997)
    result, size, events, history = await run(stored_client, llm, store_env, "PipelineWorkflow", pipeline(200), 300)
    assert result["final"] == "200" + "x" * 3_997
    assert size < HISTORY_BYTES_BOUND and events < HISTORY_EVENTS_BOUND, (size, events)
    inputs = agent_inputs(history)
    sizes = [len(json.dumps(inp)) for inp in inputs]
    assert inputs[-1]["context"] == [] and inputs[-1]["context_ref"]  # 199 earlier outputs, one reference
    assert max(sizes) < 2_500 and max(sizes[16:]) - min(sizes[16:]) < 10  # an input's size does not grow with the run
    # The trace still says which outputs each call saw, read from the store.
    trace = await build_trace(history, stored_client.data_converter, context_store(stored_client.data_converter, store_env))
    assert trace.calls[-1].context == [f"s{n}" for n in range(1, 200)]
    assert llm.requests[-1].prompt_chars > 199 * 4_000  # the model still read every earlier output whole


async def test_a_60_stage_pipeline_of_400_kb_answers_completes(stored_client, llm, store_env):
    # Before: stuck at stage 7, its input 2.4 MB, past Temporal's 2 MB payload limit.
    llm.keep_prompt_chars = 200
    for n in range(1, 61):
        llm.script_stage(f"s{n}", f"{n:02d}" + "y" * 399_998)
    result, size, events, _ = await run(stored_client, llm, store_env, "PipelineWorkflow", pipeline(60), 600)
    print("SIXTY", size, events)
    assert result["final"] == "60" + "y" * 399_998 and len(result["outputs"]) == 60
    assert size < HISTORY_BYTES_BOUND and events < HISTORY_EVENTS_BOUND, (size, events)
    assert llm.requests[-1].prompt_chars > 59 * 400_000


async def test_a_10_task_fan_out_of_400_kb_answers_is_synthesised(stored_client, llm, store_env):
    # Before: stuck at the synthesis, its input 4 MB.
    tasks = [TaskSpec(id=f"t{n}", agent="researcher", prompt=f"part {n}") for n in range(10)]
    for n, task in enumerate(tasks):
        llm.script_stage(task.id, str(n) * 400_000)
    llm.script_stage("synthesis", "the synthesis")
    result, size, events, _ = await run(stored_client, llm, store_env, "FanOutWorkflow", FanOutInput(goal="g", tasks=tasks), 120)
    assert result["synthesis"] == "the synthesis"
    synthesis = next(r for r in llm.requests if r.stage == "synthesis")
    assert all(str(n) * 400_000 in synthesis.prompt for n in range(10))  # every answer whole
    assert size < HISTORY_BYTES_BOUND and events < HISTORY_EVENTS_BOUND, (size, events)


async def test_a_3_mb_answer_is_kept_whole_and_its_run_replays_through_the_store(stored_client, llm, store_env,
                                                                                   monkeypatch):
    # Before: 5 paid attempts, then PayloadsTooLarge; without a store it now fails at the first (test_large_data).
    llm.script_stage("s1", "z" * 3_000_000)
    llm.script_stage("s2", "read it")
    result, size, events, history = await run(stored_client, llm, store_env, "PipelineWorkflow", pipeline(2), 60)
    assert result["outputs"]["s1"] == "z" * 3_000_000 and len(llm.requests) == 2
    assert "z" * 3_000_000 in llm.requests[1].prompt
    assert size < HISTORY_BYTES_BOUND and events < HISTORY_EVENTS_BOUND, (size, events)
    # `starter.py replay` before a deploy: the history holds references, which it reads from the same store.
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    [replayed] = await replay(from_files([history]))
    assert replayed.replayed and replayed.error is None
