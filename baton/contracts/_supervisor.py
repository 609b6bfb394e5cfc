"""The supervisor's contracts: a supervisor agent delegates turn by turn."""

from __future__ import annotations

import re

from typing import Literal

from pydantic import Field, model_validator

from baton.contracts import NAME_PATTERN, Contract, Goal, RunInput, RunResult, unique


class SupervisorInput(RunInput):
    goal: Goal
    supervisor: str = Field(default="supervisor", pattern=NAME_PATTERN)
    workers: list[str] = Field(min_length=1, max_length=50, description="Agents the supervisor may delegate to")
    max_turns: int = Field(default=8, ge=1, le=50, description="Supervisor decisions before it must answer")
    allow_escalation: bool = Field(default=True, description="The supervisor may ask a person (awaiting_review)")

    @model_validator(mode="after")
    def _check_workers(self) -> SupervisorInput:
        for name in self.workers:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"worker {name!r} is not a valid agent name")
        unique(self.workers, "worker")
        if self.supervisor in self.workers:
            raise ValueError(f"the supervisor {self.supervisor!r} cannot also be a worker")
        return self


class Delegation(Contract):
    turn: int
    step: str
    agent: str
    instruction: str
    output: str | None = None
    error: str | None = None


class SupervisorResult(RunResult):
    answer: str | None
    turns: int
    delegations: list[Delegation]
    questions: list[dict[str, str]] = Field(description="What the supervisor asked a person, and the answer")
    stopped: Literal["finished", "max_turns"]
