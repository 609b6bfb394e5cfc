"""A Baton worker: every workflow and the agent activity, for the Temporal
server in TEMPORAL_ADDRESS and the model endpoint in OPENAI_BASE_URL.

    python worker.py

It starts nothing else (no dev server, no model): that is ``starter.py run``.
SIGTERM / Ctrl-C stop polling and let agent calls in flight finish within
BATON_SHUTDOWN_GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta

import openai
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from baton.activities import AgentActivities, make_openai_client
from baton.activities.artifacts import ArtifactStore, artifacts_dir
from baton.context_store import context_store
from baton.activities.breaker import BreakerBoard
from baton.activities.forks import ForkLoader
from baton.activities.indexing import SearchAttributeCheck
from baton.activities.payload_limits import PayloadStoreCheck
from baton.activities.sticky import RetriesSkipStickyQueues
from baton import telemetry
from baton.agents import AgentRegistry, load_agents
from baton.contracts import PAYLOAD_BYTES_LIMIT
from baton.embedded import model_configured, no_model_message
from baton.logs import configure_logging
from baton.temporal import connect, task_queue
from baton import code, patterns
from baton.activities import code as code_steps
from baton.activities.tools import ToolActivities
from baton.sandbox import workflow_runner
from baton.workflows.runtime.rejections import UpdateRejections
from baton.workflows.runtime.result_size import ResultSizeGuard

log = structlog.get_logger("baton.worker")


def build_worker(
    client: Client,
    registry: AgentRegistry,
    llm: openai.AsyncOpenAI,
    env: Mapping[str, str] = os.environ,
    tools: ToolActivities | None = None,
) -> Worker:
    """``tools``: the worker's tool activities, when the caller closes their MCP sessions
    (``ToolActivities.close``) after the worker stops."""
    patterns.use(env=env)  # a user's own patterns (BATON_PATTERNS), registered with Baton's
    code.use(env=env)  # a user's code functions (BATON_CODE), for flows' code nodes and agents' tools
    breakers = BreakerBoard(failures_to_open=int(env.get("BATON_BREAKER_FAILURES", "5")),
                            cooldown_seconds=float(env.get("BATON_BREAKER_COOLDOWN_SECONDS", "30")))
    # With a payload store, an answer past the limit is stored and referenced: no limit of its own.
    stored = client.data_converter.external_storage is not None
    agents = AgentActivities(llm, registry, ArtifactStore(artifacts_dir(env)), breakers,
                             payload_limit=None if stored else int(env.get("BATON_PAYLOAD_LIMIT_BYTES", PAYLOAD_BYTES_LIMIT)),
                             context=context_store(client.data_converter, env))
    tools = tools or ToolActivities(registry, env)
    slots = int(env.get("BATON_MAX_CONCURRENT_AGENTS", "20"))
    eager_calls = _eager_calls(env, slots)
    indexing = SearchAttributeCheck(client)
    return Worker(
        client,
        task_queue=task_queue(env),
        workflows=patterns.workflow_classes(),
        activities=[agents.run_agent, agents.resolve_agents, agents.keep_context, indexing.registered, indexing.fork_registered,
                    code_steps.run_code, code_steps.flow_catalog, tools.resolve_tools, tools.call_tool,
                    ForkLoader(client).load_fork, PayloadStoreCheck(client).threshold],
        # One slot per concurrent LLM call this worker may make.
        max_concurrent_activities=slots,
        # Agent calls started per second by this worker, and by all workers of the
        # task queue together (enforced by the server): a provider's requests-per-minute.
        max_activities_per_second=_rate(env, "BATON_AGENT_CALLS_PER_SECOND"),
        max_task_queue_activities_per_second=_rate(env, "BATON_QUEUE_AGENT_CALLS_PER_SECOND"),
        # Runs kept in memory between their tasks; one evicted is replayed from its
        # history when it next wakes. 500 instead of the SDK's 1,000 kept a worker
        # with 1,000 runs waiting for people at 280 MB instead of ~400 MB (BENCHMARKS.md).
        max_cached_workflows=int(env.get("BATON_MAX_CACHED_WORKFLOWS", "500")),
        graceful_shutdown_timeout=timedelta(seconds=float(env.get("BATON_SHUTDOWN_GRACE_SECONDS", "30"))),
        # How long a run's next workflow task waits for the worker that has it cached before
        # any worker takes it (replaying its history). A worker that died stalls its runs
        # this long after their next event (a call retried after the crash skips it:
        # activities/sticky.py). The SDK's 10 s cost 10 s of every crash
        # recovery; 2 s cost no measurable throughput (500-wide fan-out: 59 and 61 calls/s
        # against 56-63 at 10 s), 1 s cost ~12% (52, 57) in replays (BENCHMARKS.md).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=float(env.get("BATON_STICKY_SECONDS", "2"))),
        # How often an agent call's answer so far (its heartbeat details) reaches the
        # server, where `watch` reads it; the SDK's default waits up to 80% of the
        # heartbeat timeout (8 s with the shipped 10 s).
        max_heartbeat_throttle_interval=timedelta(seconds=float(env.get("BATON_LIVE_SECONDS", "2"))),
        # The agent calls a workflow task schedules come back to this worker with the task's
        # completion (eager dispatch), up to its free slots, instead of a trip through the
        # task queue each: 200 calls 50 at once went 92 → 104 calls/s (BENCHMARKS.md).
        max_eager_activity_reservations_per_workflow_task=max(eager_calls, 1),  # the SDK wants ≥ 1 even when off
        disable_eager_activity_execution=eager_calls == 0,
        workflow_runner=workflow_runner(),
        interceptors=[ResultSizeGuard(), UpdateRejections(), RetriesSkipStickyQueues()],
    )


def _eager_calls(env: Mapping[str, str], slots: int) -> int:
    """How many of the calls one workflow task schedules this worker takes at once
    (BATON_EAGER_AGENTS; 0: every call through the task queue). By default all its slots,
    so a run's calls stay on the worker that runs it while it has room; the rest go
    through the queue to any worker, in priority order. Off with a rate limit: a call
    taken eagerly skips both the worker's limiter and the queue's."""
    limited = [name for name in ("BATON_AGENT_CALLS_PER_SECOND", "BATON_QUEUE_AGENT_CALLS_PER_SECOND") if env.get(name)]
    raw = env.get("BATON_EAGER_AGENTS", "")
    if not raw:
        return 0 if limited else slots
    if not raw.isdigit():
        raise ValueError(f"BATON_EAGER_AGENTS must be a whole number of agent calls (0 turns eager dispatch off), not {raw!r}")
    if int(raw) and limited:
        raise ValueError(f"BATON_EAGER_AGENTS={raw} would start calls past {limited[0]}'s limit: "
                         "leave it unset (eager dispatch is off under a rate limit) or set it to 0")
    return int(raw)


def _rate(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if not raw:
        return None
    rate = float(raw)
    if rate <= 0:
        raise ValueError(f"{name} must be a positive number of agent calls per second, not {raw!r}")
    return rate




async def run_worker(env: Mapping[str, str] = os.environ) -> None:
    registry = load_agents(env=env)
    llm = make_openai_client(env)
    client = await connect(env)
    tools = ToolActivities(registry, env)
    worker = build_worker(client, registry, llm, env, tools)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Everything loaded at start (SDK, sandbox, openai, pydantic schemas) leaves the
    # garbage collector's view: full collections then scan only what runs create.
    gc.freeze()
    log.info("worker started", task_queue=worker.task_queue, agents=registry.names, llm=str(llm.base_url))
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing agent calls in flight")
    await tools.close()
    await llm.close()
    telemetry.flush()
    log.info("worker stopped")


def entry() -> None:
    """``baton-worker`` (installed) and ``python worker.py`` (a checkout)."""
    configure_logging()
    try:
        patterns.use()  # a user's own (BATON_PATTERNS): a module that does not import stops the worker here
    except patterns.PatternsError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if not model_configured():
        print(f"error: {no_model_message()}", file=sys.stderr)
        sys.exit(2)
    asyncio.run(run_worker())
    # Skip interpreter teardown: the Temporal client's Rust threads can abort a
    # finalizing interpreter (temporalio/sdk-python#300), turning a clean stop
    # into SIGABRT. Everything is flushed by now (spans in run_worker).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    entry()
