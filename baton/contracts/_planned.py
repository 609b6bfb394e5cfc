"""The planned DAG's contracts: a planner's task graph."""

from __future__ import annotations

from pydantic import Field

from baton.contracts import (NAME_PATTERN, AgentSpec, Contract, Goal, RunInput, RunResult, StageState, TaskFailure)


class PlannedInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    agents: list[str] | None = Field(default=None, description="Agents the plan may use (default: every configured agent)")
    allow_new_agents: bool = Field(default=True, description="The planner may define agents of its own")
    max_parallel: int = Field(default=5, ge=1, le=100)
    max_failures: int = Field(default=3, ge=1, description="At this many failed tasks, stop and wait for a person")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")


class PlannedTaskState(Contract):
    id: str
    agent: str
    depends_on: list[str]
    state: StageState
    error: str | None = None


class PlannedResult(RunResult):
    plan: list[PlannedTaskState]
    new_agents: list[str]
    outputs: dict[str, str]
    failed: list[TaskFailure]
    skipped: list[str]
    replans: int
