"""The pipeline's contracts: stages in order."""

from __future__ import annotations

from pydantic import Field, model_validator

from baton.contracts import (NAME_PATTERN, AgentSpec, Contract, Goal, RunInput, RunResult, unique)


class StageSpec(Contract):
    name: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    review: bool = Field(default=False, description="Wait for approve/feedback after it runs.")
    instructions: str | None = Field(default=None, max_length=100_000)


class PipelineInput(RunInput):
    goal: Goal
    stages: list[StageSpec] = Field(min_length=1, max_length=200)
    artifacts: bool = Field(default=False, description="Write each stage's output as a file under the artifacts folder")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_stage_names(self) -> PipelineInput:
        unique([s.name for s in self.stages], "stage name")
        return self


class PipelineResult(RunResult):
    outputs: dict[str, str]
    final: str | None
    artifacts: dict[str, str] = Field(default_factory=dict, description="Stage -> artifact key of its latest output")
