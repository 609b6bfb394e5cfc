"""Structured-output schemas agents can be given by name in ``agents.toml``.

An agent with ``output_schema = "Critique"`` is asked for JSON of that shape and
its answer is validated with pydantic before the workflow sees it. A schema
outside this module is named as ``"package.module:Class"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model


class Critique(BaseModel):
    verdict: Literal["approve", "revise"]
    score: int = Field(ge=1, le=10, description="Overall quality from 1 to 10")
    issues: list[str] = Field(description="Concrete problems to fix, most important first")


class Classification(BaseModel):
    label: str = Field(description="The category that fits best")
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str


class Review(BaseModel):
    approved: bool
    critique: str = Field(description="What must change before approval; empty when approved")


class Route(BaseModel):
    agent: str = Field(description="The name of the agent that should handle the input")
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str


class Consensus(BaseModel):
    consensus: str = Field(description="The answer the panel converges on")
    agreement: float = Field(ge=0.0, le=1.0, description="How far the experts agree, 0 to 1")
    dissent: list[str] = Field(description="Points on which some expert disagrees")


class PlannedTask(BaseModel):
    id: str
    agent: str
    prompt: str
    depends_on: list[str] = Field(default_factory=list)


class NewAgent(BaseModel):
    name: str
    role: str
    instructions: str


class Plan(BaseModel):
    tasks: list[PlannedTask]
    agents: list[NewAgent] = Field(default_factory=list, description="New agents the plan needs, if any")


def _phase_patterns(schema: dict[str, Any]) -> None:
    """The patterns a phase may run as, from the patterns themselves (each declares its phase role)."""
    from baton.patterns import phase_patterns

    found = phase_patterns()
    schema["enum"] = [p.name for p in found]
    schema["description"] = "How the phase runs: " + ", ".join(f"{p.name} ({p.phase.brief})" for p in found)


class Phase(BaseModel):
    id: str
    pattern: str = Field(json_schema_extra=_phase_patterns)  # unknown ones go back to the planner (plans.py)
    goal: str
    agents: list[str] = Field(description="The agents of the phase; for planned, those its planner may use")


class PhasePlan(BaseModel):
    phases: list[Phase]
    agents: list[NewAgent] = Field(default_factory=list, description="New agents the phases need, if any")


BUILT_IN: dict[str, type[BaseModel]] = {
    "Critique": Critique,
    "Classification": Classification,
    "Review": Review,
    "Route": Route,
    "Consensus": Consensus,
    "Plan": Plan,
    "PhasePlan": PhasePlan,
}


def choice_schema(base: type[BaseModel] | None, actions: list[str]) -> type[BaseModel]:
    """``base`` (or a text ``answer``) with an ``action``: one of a flow node's labelled edges."""
    action: Any = (Literal[tuple(actions)], Field(description="What happens next: one of " + ", ".join(actions)))
    if base is None:
        return create_model("Choice", answer=(str, Field(description="Your answer")), action=action)
    return create_model(f"{base.__name__}Choice", __base__=base, action=action)


def resolve_schema(name: str) -> type[BaseModel]:
    """The pydantic model a schema name stands for; ValueError when there is none.

    Only operator configuration names schemas (never model output), so importing
    ``package.module:Class`` is as safe as the config file itself.
    """
    if name in BUILT_IN:
        return BUILT_IN[name]
    module_name, sep, class_name = name.partition(":")
    if not sep:
        known = ", ".join(sorted(BUILT_IN))
        raise ValueError(f"unknown output schema {name!r}: use one of {known} or 'package.module:Class'")
    try:
        schema = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot import output schema {name!r}: {err}") from err
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise ValueError(f"output schema {name!r} is not a pydantic model")
    return schema


def json_schemas(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The JSON schema of each name that resolves (the others are left out: whoever
    named them reports them)."""
    found = {}
    for name in names:
        try:
            found[name] = resolve_schema(name).model_json_schema()
        except ValueError:
            continue
    return found
