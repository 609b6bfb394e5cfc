"""Checking an LLM-made plan before anything runs, and the agents it defines.

Pure functions (the workflow sandbox passes this module through): the planner's
output is data, and nothing in it runs until it has passed these checks.
"""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter

from pydantic import ValidationError

from baton.contracts import NAME_PATTERN, AgentSpec, explain
from baton.schemas import NewAgent, PhasePlan, Plan

MAX_TASKS = 50
MAX_INSTRUCTIONS = 4000


def plan_errors(plan: Plan, known_agents: set[str]) -> list[str]:
    """Everything wrong with a plan, as sentences the planner can act on (empty: valid)."""
    errors: list[str] = []
    if not plan.tasks:
        errors.append("the plan has no tasks")
    if len(plan.tasks) > MAX_TASKS:
        errors.append(f"the plan has {len(plan.tasks)} tasks; at most {MAX_TASKS}")
    errors += new_agent_errors(plan.agents, known_agents)
    new_names = [a.name for a in plan.agents]
    ids = [t.id for t in plan.tasks]
    if len(set(ids)) != len(ids):
        errors.append("task ids must be unique: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
    agents = known_agents | set(new_names)
    for task in plan.tasks:
        if task.agent not in agents:
            errors.append(f"task {task.id!r} uses unknown agent {task.agent!r}; use one of {', '.join(sorted(agents))}")
        for dependency in task.depends_on:
            if dependency not in ids:
                errors.append(f"task {task.id!r} depends on missing task {dependency!r}")
            elif dependency == task.id:
                errors.append(f"task {task.id!r} depends on itself")
    if not errors:
        try:
            TopologicalSorter({t.id: t.depends_on for t in plan.tasks}).prepare()
        except CycleError as err:
            errors.append("the dependencies form a cycle: " + " -> ".join(map(str, err.args[1])))
    return errors


def new_agent_errors(agents: list[NewAgent], known_agents: set[str]) -> list[str]:
    errors: list[str] = []
    for agent in agents:
        if not re.match(NAME_PATTERN, agent.name):
            errors.append(f"new agent name {agent.name!r} is not valid: letters, digits, _ . - only, at most 64")
        if agent.name in known_agents:
            errors.append(f"new agent {agent.name!r} has the name of an existing agent")
        if len(agent.instructions) > MAX_INSTRUCTIONS:
            errors.append(f"new agent {agent.name!r}: instructions over {MAX_INSTRUCTIONS} characters")
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        errors.append("two new agents share a name")
    return errors


MAX_PHASES = 10


def phase_plan_errors(plan: PhasePlan, known_agents: set[str]) -> list[str]:
    """Everything wrong with a hierarchical plan of phases (empty: valid)."""
    errors = new_agent_errors(plan.agents, known_agents)
    if not plan.phases:
        errors.append("the plan has no phases")
    if len(plan.phases) > MAX_PHASES:
        errors.append(f"the plan has {len(plan.phases)} phases; at most {MAX_PHASES}")
    ids = [p.id for p in plan.phases]
    if len(set(ids)) != len(ids):
        errors.append("phase ids must be unique: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
    agents = known_agents | {a.name for a in plan.agents}
    from baton.patterns import phase_patterns  # each pattern declares whether it runs as a phase

    roles = {p.name: p.phase for p in phase_patterns()}
    for phase in plan.phases:
        role = roles.get(phase.pattern)
        if role is None:
            errors.append(f"phase {phase.id!r} has unknown pattern {phase.pattern!r}; use one of {', '.join(roles)}")
        elif len(phase.agents) < role.min_agents:
            errors.append(f"phase {phase.id!r} ({phase.pattern}) needs at least {role.min_agents} agents")
        if len(set(phase.agents)) != len(phase.agents) and phase.pattern != "pipeline":
            errors.append(f"phase {phase.id!r} lists an agent twice")
        for agent in phase.agents:
            if agent not in agents:
                errors.append(f"phase {phase.id!r} uses unknown agent {agent!r}; use one of {', '.join(sorted(agents))}")
    return errors


def new_agent_spec(agent: NewAgent, template: AgentSpec) -> AgentSpec:
    """An agent the planner defined, on the template's model, timeouts and retries.
    It never gets an output schema, tools or anything else the planner did not say."""
    try:
        return AgentSpec.model_validate({**template.model_dump(), "name": agent.name, "output_schema": None, "tools": [],
                                         "instructions": f"You are {agent.role}.\n{agent.instructions}"})
    except ValidationError as err:
        raise ValueError(f"new agent {agent.name!r}: {explain(err)}") from None
