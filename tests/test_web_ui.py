"""What a person sees in the Web UI and in `temporal workflow list`: runs
filterable by Baton's search attributes, kept current as the run moves."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import TEMPORAL_CLI, real_worker
from tests.test_pipeline_logic import until


async def listed(client: Client, query: str, expect: int = 1, timeout: float = 10) -> list[str]:
    """The ids a visibility query returns, polled until there are ``expect`` (visibility lags a little)."""
    async with asyncio.timeout(timeout):
        while True:
            ids = [w.id async for w in client.list_workflows(query)]
            if len(ids) >= expect:
                return ids
            await asyncio.sleep(0.2)


async def test_runs_are_filterable_by_pattern_and_live_state(dev_env, llm, task_queue):
    client = dev_env.client
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer", review=True)])
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"indexed-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await until(handle, lambda s: s.state == "awaiting_review", 30)
        mine = f"WorkflowId = '{handle.id}'"
        assert await listed(client, f"{mine} AND BatonPattern = 'pipeline' AND BatonState = 'awaiting_review'") == [handle.id]
        with pytest.raises(baton.BatonError, match="already running"):
            await baton.start(client, inp, workflow_id=handle.id, queue=task_queue)
        await baton.approve(client, handle.id)
        await baton.wait_result(client, handle.id)
        assert await listed(client, f"{mine} AND BatonState = 'completed'") == [handle.id]
    assert [w.id async for w in client.list_workflows(f"{mine} AND BatonState = 'awaiting_review'")] == []


async def test_a_cluster_without_the_attributes_still_runs_the_pattern(llm, task_queue):
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error",
                                                     data_converter=pydantic_data_converter) as bare:
        client = bare.client
        async with real_worker(client, llm, task_queue):
            inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")])
            handle = await baton.start(client, inp, queue=task_queue)
            result = await baton.wait_result(client, handle.id)
            assert result.outputs["draft"]
