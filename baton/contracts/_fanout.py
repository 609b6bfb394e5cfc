"""The fan-out's contracts: independent tasks, then a synthesis."""

from __future__ import annotations

from pydantic import Field, model_validator

from baton.contracts import (NAME_PATTERN, AgentSpec, Contract, Goal, Prompt, RunInput, RunResult, TaskFailure, unique)


class TaskSpec(Contract):
    id: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    prompt: Prompt


class FanOutInput(RunInput):
    goal: Goal
    tasks: list[TaskSpec] = Field(min_length=1, max_length=500)
    max_parallel: int = Field(default=5, ge=1, le=200)
    synthesizer: str | None = Field(default="summarizer", pattern=NAME_PATTERN)
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed tasks, wait for a person: approve goes on with what succeeded, "
        "feedback on a failed task runs it again; null never waits")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_task_ids(self) -> FanOutInput:
        unique([t.id for t in self.tasks], "task id")
        return self


class FanOutResult(RunResult):
    completed: dict[str, str]
    failed: list[TaskFailure]
    synthesis: str | None
