"""Metrics and traces, through Temporal's own integrations.

- ``BATON_METRICS_BIND`` (``host:port``, e.g. ``127.0.0.1:9464``; ``0.0.0.0`` only on a private network): the SDK's
  Prometheus endpoint, serving the SDK's metrics (``temporal_*``: task
  latencies, slots, polls...) and Baton's own, recorded through the SDK's
  metric meter (``baton_*``: see ``AGENT_METRICS`` and docs/observability.md).
- ``OTEL_EXPORTER_OTLP_ENDPOINT``: spans for every workflow, activity, signal,
  update and query through ``temporalio.contrib.opentelemetry``, exported over
  OTLP/HTTP. Workflow spans are created only on a real execution, never again
  when a workflow replays.

Both are set up once per process, before the client connects; ``flush()``
sends the spans still batched when the process ends (worker.py, starter.py).

The SDK core's own warnings (a payload past the server's warning size, a
workflow task that failed) go to the ``temporalio.core`` logger, so they reach
the structured log (baton/logs.py) instead of a console format of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from temporalio.client import Interceptor
import logging

from temporalio.runtime import (LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig,
                                TelemetryFilter)

_runtimes: dict[str, Runtime] = {}  # by metrics bind address ("": none); an endpoint binds once per process
CORE_LOGGER = "temporalio.core"
_tracer_provider = None  # opentelemetry TracerProvider, made on first use

# Baton's histograms in their own units (the SDK's defaults are milliseconds).
HISTOGRAM_BUCKETS = {
    "baton_agent_call_seconds": [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    "baton_agent_cost_usd": [0.0001, 0.001, 0.01, 0.1, 1, 10],
    "baton_human_wait_seconds": [0.5, 1, 10, 60, 300, 900, 3600, 14400, 86400],
}


def runtime(env: Mapping[str, str] = os.environ) -> Runtime:
    """The process's Temporal runtime: the core's warnings forwarded to the structured
    log, and a Prometheus endpoint when asked for (``BATON_METRICS_BIND``)."""
    bind = env.get("BATON_METRICS_BIND") or ""
    if bind not in _runtimes:
        metrics = PrometheusConfig(bind_address=bind, durations_as_seconds=True,
                                   histogram_bucket_overrides=HISTOGRAM_BUCKETS) if bind else None
        logs = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="WARN"),
                             forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)))
        _runtimes[bind] = Runtime(telemetry=TelemetryConfig(logging=logs, metrics=metrics))
    return _runtimes[bind]


def tracing_interceptors(env: Mapping[str, str] = os.environ) -> list[Interceptor]:
    if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return []
    # Imported only when tracing is on.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    global _tracer_provider
    if _tracer_provider is None:  # one per process: its batch exporter is flushed once, at exit
        _tracer_provider = TracerProvider(resource=Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME", "baton")}))
        _tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads the OTEL_EXPORTER_OTLP_* variables
    return [interceptor(_tracer_provider)]


def flush() -> None:
    """Send the spans still batched; a process calls it before it exits."""
    global _tracer_provider
    if _tracer_provider is not None:
        _tracer_provider.shutdown()
        _tracer_provider = None


def interceptor(provider) -> Interceptor:
    """Temporal's tracing interceptor on ``provider``, with workflow spans even for
    runs started without a client span (the CLI, the Web UI)."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return TracingInterceptor(provider.get_tracer("baton"), always_create_workflow_spans=True)
