"""The router's contracts: a classifier picks the agent."""

from __future__ import annotations

from pydantic import Field, model_validator

from baton.contracts import NAME_PATTERN, Contract, Prompt, RunInput, RunResult, unique


class RouteSpec(Contract):
    agent: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1, description="When this agent is the right one")


class RouterInput(RunInput):
    input: Prompt
    routes: list[RouteSpec] = Field(min_length=1, max_length=50)
    default: str = Field(pattern=NAME_PATTERN, description="Handles the input when the choice is unknown or unsure")
    classifier: str = Field(default="classifier", pattern=NAME_PATTERN)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _unique_routes(self) -> RouterInput:
        unique([r.agent for r in self.routes], "route")
        return self


class RouterResult(RunResult):
    route: str | None
    confidence: float | None
    reason: str | None
    fallback: bool = Field(description="The default handled it: the choice was unknown or unsure")
    output: str | None
