"""The expert panel's contracts: experts debate, a moderator concludes."""

from __future__ import annotations

from pydantic import Field, model_validator

from baton.contracts import (NAME_PATTERN, AgentSpec, Contract, Goal, RunInput, RunResult, unique)


class ExpertSpec(Contract):
    name: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    role: str = Field(min_length=1, description="The perspective this expert argues from")


class PanelInput(RunInput):
    question: Goal
    experts: list[ExpertSpec] = Field(min_length=2, max_length=20)
    rounds: int = Field(default=1, ge=1, le=5, description="Debate rounds; from round 2 each sees the others' answers")
    moderator: str = Field(default="summarizer", pattern=NAME_PATTERN)
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_experts(self) -> PanelInput:
        unique([e.name for e in self.experts], "expert name")
        return self


class PanelResult(RunResult):
    rounds: list[dict[str, str]] = Field(description="Per round, each expert's answer")
    consensus: str | None
    agreement: float | None
    dissent: list[str]
