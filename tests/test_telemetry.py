"""Metrics at the SDK's Prometheus endpoint (the SDK's and Baton's own) and
OpenTelemetry spans through Temporal's interceptor, on the real dev server."""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request
import uuid
from collections import Counter

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from baton.telemetry import interceptor
from baton.temporal import connect
from tests.conftest import address_of, real_worker
from tests.llm_server import Reply
from tests.test_pipeline_logic import until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"metrics-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await until(handle, lambda s: s.state == "awaiting_review", 30)
        await asyncio.sleep(0.5)  # a person takes a moment to read the draft
        await baton.approve(client, handle.id)
        await baton.wait_result(client, handle.id)
        text = await asyncio.to_thread(scrape, port)

    assert sample(text, "baton_agent_calls", agent="researcher", model="test-model", outcome="retryable") == 1
    assert sample(text, "baton_agent_calls", agent="researcher", model="test-model", outcome="ok") == 1
    assert sample(text, "baton_agent_calls", agent="writer", outcome="ok") == 1
    assert sample(text, "baton_agent_tokens", agent="writer", kind="completion") > 0
    assert sample(text, "baton_agent_cost_usd_sum", agent="writer", model="test-model") > 0
    assert sample(text, "baton_agent_call_seconds_count", agent="writer", outcome="ok") == 1
    assert sample(text, "baton_human_wait_seconds_count", pattern="pipeline", kind="review") == 1
    assert sample(text, "baton_human_wait_seconds_sum", pattern="pipeline", kind="review") >= 0.5
    # Buckets fit each measure (seconds of a call, hours of a wait), not the SDK's millisecond defaults.
    assert sample(text, "baton_agent_call_seconds_bucket", agent="writer", le="0.5") == 1
    assert sample(text, "baton_human_wait_seconds_bucket", kind="review", le="0.5") == 0
    assert "temporal_workflow_completed" in text and "temporal_activity_execution_latency" in text


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
