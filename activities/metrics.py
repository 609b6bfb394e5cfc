"""Baton's agent metrics, recorded through the Temporal SDK's metric meter so
they reach whatever the worker's runtime exports (Prometheus with
``BATON_METRICS_BIND``; nothing otherwise)."""

from __future__ import annotations

import asyncio

from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from baton.activities.breaker import STATE_VALUES
from baton.contracts import Usage

# name -> description, as they appear at the Prometheus endpoint (docs/observability.md).
AGENT_METRICS = {
    "baton_agent_calls": "Agent call attempts by agent, model and outcome (ok, retryable, failed, circuit_open, cancelled)",
    "baton_agent_call_seconds": "Agent call attempt latency by agent, model and outcome",
    "baton_agent_tokens": "Tokens by agent, model and kind (prompt, completion)",
    "baton_agent_cost_usd": "Cost per agent call by agent and model; its _sum is the total cost",
    "baton_breaker_state": "Circuit breaker per model in this worker: 0 closed, 1 half-open, 2 open",
}


class AgentMetrics:
    def __init__(self, meter: MetricMeter):
        self.calls = meter.create_counter("baton_agent_calls", AGENT_METRICS["baton_agent_calls"])
        self.seconds = meter.create_histogram_float("baton_agent_call_seconds", AGENT_METRICS["baton_agent_call_seconds"], "s")
        self.tokens = meter.create_counter("baton_agent_tokens", AGENT_METRICS["baton_agent_tokens"])
        self.cost = meter.create_histogram_float("baton_agent_cost_usd", AGENT_METRICS["baton_agent_cost_usd"], "USD")
        self.breaker = meter.create_gauge("baton_breaker_state", AGENT_METRICS["baton_breaker_state"])

    def breaker_state(self, model: str, state: str) -> None:
        self.breaker.set(STATE_VALUES[state], {"model": model})  # type: ignore[index]

    def record(self, agent: str, model: str, outcome: str, seconds: float, usage: Usage | None = None) -> None:
        labels = {"agent": agent, "model": model}
        self.calls.add(1, {**labels, "outcome": outcome})
        self.seconds.record(seconds, {**labels, "outcome": outcome})
        if usage is not None:
            self.tokens.add(usage.prompt_tokens, {**labels, "kind": "prompt"})
            self.tokens.add(usage.completion_tokens, {**labels, "kind": "completion"})
            self.cost.record(usage.cost_usd, labels)


def outcome_of(err: BaseException) -> str:
    if isinstance(err, asyncio.CancelledError):
        return "cancelled"
    if isinstance(err, ApplicationError) and err.type == "CircuitOpen":
        return "circuit_open"  # failed fast: the provider was not called
    if isinstance(err, ApplicationError) and err.non_retryable:
        return "failed"
    return "retryable"
