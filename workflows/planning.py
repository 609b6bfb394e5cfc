"""Asking a planner agent for a plan, checked before anything runs: the plan's
errors go back to the planner, up to ``REPLANS`` more times. Shared by the
patterns that plan (planned DAG, review loop, hierarchical phases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from baton.contracts import ContextItem
from baton.plans import plan_errors
from baton.schemas import resolve_schema
from baton.workflows.control import ControlPlane

REPLANS = 2


async def ask_for_plan(plane: ControlPlane, step: str, planner: str, goal: str, agents: set[str],
                       context: list[ContextItem], brief: str, allow_new_agents: bool = False,
                       independent: bool = False, schema: str = "Plan",
                       check: Callable[[Any, set[str]], list[str]] = plan_errors) -> Any:
    menu = "\n".join(f"- {name}: {plane.agents.role(name)}" for name in sorted(agents))
    instructions = f"{brief}\nAgents:\n{menu}"
    if allow_new_agents:
        instructions += "\nYou may define new agents (name, role, instructions) when none of these fits."
    errors: list[str] = []
    for _ in range(1 + REPLANS):
        notes = [ContextItem(name="errors in your previous plan", output="\n".join(errors))] if errors else []
        answer = await plane.call_agent(step, planner, goal, [*context, *notes], instructions, schema=schema)
        plan = resolve_schema(schema).model_validate(answer.data)
        errors = check(plan, agents)
        if plan.agents and not allow_new_agents:
            errors.append("define no new agents: use only the listed ones")
        if independent and any(t.depends_on for t in plan.tasks):  # only for a Plan
            errors.append("tasks must be independent: leave depends_on empty")
        if not errors:
            plane.step_done(step, answer.text)
            return plan
    raise ApplicationError(f"the planner gave no valid plan in {1 + REPLANS} tries: {'; '.join(errors)}", type="InvalidPlan")
