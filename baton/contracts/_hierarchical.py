"""The hierarchical pattern's contracts: phases as child runs of other patterns."""

from __future__ import annotations

from pydantic import Field

from baton.contracts import (NAME_PATTERN, Contract, Goal, RunInput, RunResult, StageState)


class HierarchicalInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    synthesizer: str = Field(default="summarizer", pattern=NAME_PATTERN)
    agents: list[str] | None = Field(default=None, description="Agents the phases may use (default: every configured agent)")
    allow_new_agents: bool = Field(default=True, description="The planner may define agents of its own")
    max_parallel: int = Field(default=5, ge=1, le=100, description="For fan-out and planned phases")
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed phases, wait for a person: approve goes on, feedback on the "
        "plan re-plans, feedback on a failed phase runs it again; null never waits")


class PhaseOutcome(Contract):
    id: str
    pattern: str
    goal: str
    workflow_id: str
    state: StageState
    output: str | None = None
    error: str | None = None


class HierarchicalResult(RunResult):
    phases: list[PhaseOutcome]
    new_agents: list[str]
    synthesis: str | None
