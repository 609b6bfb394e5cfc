"""Every orchestration pattern Baton runs: its workflow type, short name, input
and result contracts, and what of its input names the run in the Web UI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baton.contracts import (Contract, ExpertSpec, FanOutInput, FanOutResult, HierarchicalInput, HierarchicalResult,
                             MapReduceInput, MapReduceResult, PanelInput, PanelResult, PipelineInput, PipelineResult,
                             PlannedInput, PlannedResult, ReviewLoopInput, ReviewLoopResult, RouterInput, RouterResult,
                             SupervisorInput, SupervisorResult)


@dataclass(frozen=True)
class Pattern:
    name: str
    workflow_type: str
    input: type[Contract]
    result: type[Contract]
    goal: Callable[[Contract], str]
    shape: Callable[[Contract], str]  # one line for the Web UI's details


def _experts(experts: list[ExpertSpec]) -> str:
    return ", ".join(f"{e.name} ({e.agent})" for e in experts)


PATTERNS = [
    Pattern("pipeline", "PipelineWorkflow", PipelineInput, PipelineResult, lambda i: i.goal,
            lambda i: "**Stages:** " + " → ".join(s.name + (" (review)" if s.review else "") for s in i.stages)),
    Pattern("fan-out", "FanOutWorkflow", FanOutInput, FanOutResult, lambda i: i.goal,
            lambda i: f"**Tasks:** {len(i.tasks)}, at most {i.max_parallel} at once"),
    Pattern("map-reduce", "MapReduceWorkflow", MapReduceInput, MapReduceResult, lambda i: i.goal,
            lambda i: f"**Items:** {len(i.items)} · mapper {i.mapper} · reducer {i.reducer}"),
    Pattern("panel", "ExpertPanelWorkflow", PanelInput, PanelResult, lambda i: i.question,
            lambda i: f"**Experts:** {_experts(i.experts)} · {i.rounds} round(s)"),
    Pattern("router", "RouterWorkflow", RouterInput, RouterResult, lambda i: i.input,
            lambda i: "**Routes:** " + ", ".join(r.agent for r in i.routes) + f" · default {i.default}"),
    Pattern("supervisor", "SupervisorWorkflow", SupervisorInput, SupervisorResult, lambda i: i.goal,
            lambda i: f"**Workers:** {', '.join(i.workers)} · at most {i.max_turns} turns"),
    Pattern("hierarchical", "HierarchicalWorkflow", HierarchicalInput, HierarchicalResult, lambda i: i.goal,
            lambda i: f"**Planner:** {i.planner} · phases as child workflows"),
    Pattern("planned", "PlannedWorkflow", PlannedInput, PlannedResult, lambda i: i.goal,
            lambda i: f"**Planner:** {i.planner} · at most {i.max_parallel} tasks at once"),
    Pattern("review-loop", "ReviewLoopWorkflow", ReviewLoopInput, ReviewLoopResult, lambda i: i.goal,
            lambda i: f"**Workers:** {', '.join(i.workers)} · reviewer {i.reviewer} · {i.max_rounds} round(s)"),
]
BY_NAME = {key: p for p in PATTERNS for key in (p.name, p.workflow_type)}
BY_INPUT = {p.input: p for p in PATTERNS}


def runs_query(patterns: list[Pattern] = PATTERNS) -> str:
    """A visibility query for these patterns' runs (every Baton run by default),
    whichever task queue they ran on; by workflow type, so it needs no custom
    search attribute."""
    return "WorkflowType IN (" + ", ".join(f"'{p.workflow_type}'" for p in patterns) + ")"


def find_pattern(name: str) -> Pattern:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown pattern {name!r}; one of: {', '.join(p.name for p in PATTERNS)} "
                         f"(or their workflow types: {', '.join(p.workflow_type for p in PATTERNS)})") from None
