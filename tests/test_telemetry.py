"""Metrics at the SDK's Prometheus endpoint (the SDK's and Baton's own) and
OpenTelemetry spans through Temporal's interceptor, on the real dev server."""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request
import uuid
from collections import Counter

from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from baton import client as baton
from baton import telemetry
from baton.contracts import PipelineInput, StageSpec
from baton.logs import configure_logging
from baton.telemetry import interceptor
from baton.temporal import connect
from tests.conftest import TOOL_AGENTS, address_of, free_port, real_worker
from tests.llm_server import Reply
from tests.test_pipeline_logic import until


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            found.append(float(match.group(2)))
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


async def test_prometheus_endpoint_has_sdk_and_baton_metrics(dev_env, llm, task_queue):
    port = free_port()
    client = await connect({"TEMPORAL_ADDRESS": address_of(dev_env), "BATON_METRICS_BIND": f"127.0.0.1:{port}"})
    llm.script_stage("research", Reply(status=500), "Tides follow the moon.")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher"),
                                                      StageSpec(name="draft", agent="writer", review=True)])
    # Tool calls: flaky_lookup fails once and is retried (one call, counted once, as it ended); a made-up tool.
    llm.script_stage("find", Reply(tool_calls=[("flaky_lookup", {"topic": "metrics"}), ("made_up_tool", {})]), "found")
    tools = PipelineInput(goal="Explain tides", stages=[StageSpec(name="find", agent="scout")])
    # A breaker that opens on the first failure and probes 50 ms later.
    async with real_worker(client, llm, task_queue, BATON_BREAKER_FAILURES="1", BATON_BREAKER_COOLDOWN_SECONDS="0.05",
                           BATON_AGENTS=TOOL_AGENTS):
        handle = await baton.start(client, inp, workflow_id=f"metrics-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await until(handle, lambda s: s.state == "awaiting_review", 30)
        await asyncio.sleep(0.5)  # a person takes a moment to read the draft
        await baton.approve(client, handle.id)
        await baton.wait_result(client, handle.id)
        tooled = await baton.start(client, tools, workflow_id=f"tool-metrics-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await baton.wait_result(client, tooled.id)
        text = await asyncio.to_thread(scrape, port)

    assert sample(text, "baton_agent_calls", agent="researcher", model="test-model", outcome="retryable") == 1
    assert sample(text, "baton_agent_calls", agent="researcher", model="test-model", outcome="ok") == 1
    assert sample(text, "baton_agent_calls", agent="writer", outcome="ok") == 1
    assert sample(text, "baton_agent_tokens", agent="writer", kind="completion") > 0
    assert sample(text, "baton_agent_cost_usd_sum", agent="writer", model="test-model") > 0
    assert sample(text, "baton_agent_call_seconds_count", agent="writer", outcome="ok") == 1
    assert sample(text, "baton_human_wait_seconds_count", pattern="pipeline", kind="review") == 1
    assert sample(text, "baton_breaker_state", model="test-model") == 0  # opened by the 500, closed by the probe
    assert sample(text, "baton_human_wait_seconds_sum", pattern="pipeline", kind="review") >= 0.5
    # Buckets fit each measure (seconds of a call, hours of a wait), not the SDK's millisecond defaults.
    assert sample(text, "baton_agent_call_seconds_bucket", agent="writer", le="0.5") == 1
    assert sample(text, "baton_human_wait_seconds_bucket", kind="review", le="0.5") == 0
    assert "temporal_workflow_completed" in text and "temporal_activity_execution_latency" in text
    assert sample(text, "baton_tool_calls", pattern="pipeline", tool="flaky_lookup", outcome="ok") == 1
    assert sample(text, "baton_tool_calls", pattern="pipeline", tool="unknown", outcome="unknown_tool") == 1
    assert "made_up_tool" not in text  # a name the model made up is not a label


async def test_spans_once_per_real_execution_even_when_every_task_replays(dev_env, llm, task_queue):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = await Client.connect(address_of(dev_env), data_converter=pydantic_data_converter, interceptors=[interceptor(provider)])
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name=n, agent="writer") for n in ("one", "two", "three")])
    # No workflow cache: each of the run's workflow tasks replays its history from the start.
    async with real_worker(client, llm, task_queue, BATON_MAX_CACHED_WORKFLOWS="0"):
        handle = await baton.start(client, inp, queue=task_queue)
        await baton.wait_result(client, handle.id)
    provider.force_flush()
    names = Counter(span.name for span in exporter.get_finished_spans())
    assert names["StartWorkflow:PipelineWorkflow"] == 1
    assert names["RunWorkflow:PipelineWorkflow"] == 1
    assert names["StartActivity:run_agent"] == 3 and names["RunActivity:run_agent"] == 3
    assert names["CompleteWorkflow:PipelineWorkflow"] <= 1


async def test_log_lines_name_the_run_and_call_and_are_not_repeated_on_replay(dev_env, llm, task_queue):
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    llm.script("Often fails", Reply(status=404), "backup answer")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="risky", agent="flaky"), StageSpec(name="one", agent="writer"),
                                                      StageSpec(name="two", agent="writer")])
    try:
        # No workflow cache: every workflow task replays the run from its start.
        async with real_worker(dev_env.client, llm, task_queue, BATON_MAX_CACHED_WORKFLOWS="0"):
            handle = await baton.start(dev_env.client, inp, queue=task_queue)
            await baton.wait_result(dev_env.client, handle.id)
    finally:
        configure_logging(level="WARNING", fmt="console", stream=io.StringIO())
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("workflow_id") == handle.id]

    [fallback] = [line for line in mine if line["event"].startswith("agent flaky failed on flaky-model")]
    assert (fallback["run_id"], fallback["pattern"], fallback["agent"], fallback["stage"]) == (
        handle.result_run_id, "PipelineWorkflow", "flaky", "risky")
    finished = [line for line in mine if line["event"] == "agent call finished"]
    assert [line["stage"] for line in finished] == ["risky", "one", "two"]
    assert all(line["run_id"] == handle.result_run_id and line["pattern"] == "PipelineWorkflow" and line["attempt"] == 1
               and line["agent"] for line in finished)
    [failed] = [line for line in mine if line["event"] == "agent call failed"]
    assert failed["outcome"] == "failed" and failed["model"] == "flaky-model" and "404" in failed["error"]


async def test_one_tracer_provider_per_process_whose_spans_reach_the_collector_at_exit(monkeypatch):
    received: list[str] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    async with TestServer(app) as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", str(collector.make_url("")).rstrip("/"))
        monkeypatch.setattr(telemetry, "_tracer_provider", None)
        first, second = telemetry.tracing_interceptors(), telemetry.tracing_interceptors()
        provider = telemetry._tracer_provider
        assert provider is not None and len(first) == len(second) == 1
        provider.get_tracer("test").start_span("agent call").end()  # batched, not yet sent
        await asyncio.to_thread(telemetry.flush)  # what the worker and starter.py do before exiting
    assert received == ["/v1/traces"] and telemetry._tracer_provider is None
