"""The review loop's contracts: plan, work, review, for rounds."""

from __future__ import annotations

from pydantic import Field

from baton.contracts import (NAME_PATTERN, Contract, Goal, RunInput, RunResult, TaskFailure)


class ReviewLoopInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    workers: list[str] = Field(min_length=1, description="Agents the planner may assign tasks to")
    reviewer: str = Field(default="reviewer", pattern=NAME_PATTERN)
    max_rounds: int = Field(default=3, ge=1, le=10)
    max_parallel: int = Field(default=5, ge=1, le=100)


class ReviewRound(Contract):
    round: int
    outputs: dict[str, str]
    failed: list[TaskFailure] = Field(default_factory=list)
    approved: bool | None = None
    critique: str | None = None


class ReviewLoopResult(RunResult):
    rounds: list[ReviewRound]
    approved: bool
    critiques: list[str]
    final: dict[str, str]
