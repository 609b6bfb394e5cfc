"""How a hierarchical plan's phase becomes a child workflow of another pattern,
and what text its result contributes. Pure mapping, no workflow calls."""

from __future__ import annotations

from typing import Any

from baton.contracts import (AgentSpec, ExpertSpec, FanOutInput, FanOutResult, PanelInput, PanelResult, PipelineInput,
                             PipelineResult, PlannedInput, PlannedResult, StageSpec, TaskSpec)
from baton.schemas import Phase

CHILD_TYPES: dict[str, tuple[str, type]] = {
    "pipeline": ("PipelineWorkflow", PipelineResult),
    "fan-out": ("FanOutWorkflow", FanOutResult),
    "panel": ("ExpertPanelWorkflow", PanelResult),
    "planned": ("PlannedWorkflow", PlannedResult),
}


def phase_input(phase: Phase, goal: str, defined: list[AgentSpec], max_parallel: int, planner: str, synthesizer: str,
                budget: dict | None = None) -> Any:
    """The child's input; ``defined`` are the planner's new agents the phase may use,
    ``budget`` what is left of the parent's."""
    budget = budget or {}
    match phase.pattern:
        case "pipeline":
            stages = [StageSpec(name=f"{n}-{agent}", agent=agent) for n, agent in enumerate(phase.agents, 1)]
            return PipelineInput(goal=goal, stages=stages, defined_agents=defined, **budget)
        case "fan-out":
            tasks = [TaskSpec(id=f"{n}-{agent}", agent=agent, prompt=f"Do your part of this phase: {phase.goal}")
                     for n, agent in enumerate(phase.agents, 1)]
            return FanOutInput(goal=goal, tasks=tasks, max_parallel=max_parallel, synthesizer=synthesizer, defined_agents=defined, **budget)
        case "panel":
            experts = [ExpertSpec(name=agent, agent=agent, role=f"the {agent}") for agent in phase.agents]
            return PanelInput(question=goal, experts=experts, moderator=synthesizer, defined_agents=defined, **budget)
        case "planned":
            return PlannedInput(goal=goal, planner=planner, agents=phase.agents or None, allow_new_agents=False,
                                max_parallel=max_parallel, defined_agents=defined, **budget)
    raise ValueError(f"unknown phase pattern {phase.pattern!r}")


def phase_output(result: Any) -> str | None:
    """The text a finished phase hands to the next phases and the synthesis."""
    match result:
        case PipelineResult():
            return result.final
        case FanOutResult():
            return result.synthesis or "\n\n".join(f"{k}: {v}" for k, v in result.completed.items()) or None
        case PanelResult():
            return result.consensus
        case PlannedResult():
            return "\n\n".join(f"{k}: {v}" for k, v in result.outputs.items()) or None
    raise TypeError(f"not a phase result: {type(result).__name__}")
