"""PlannedWorkflow: a planner agent writes a task DAG (validated structured
output, re-planned up to twice when invalid); ready tasks run in parallel up to
``max_parallel``, each seeing only its dependencies' outputs; a failed task's
dependents are skipped; at ``max_failures`` failures the run waits for a person
(``approve`` continues with partial results, ``feedback`` on the plan re-plans,
on a failed task runs it again). Feedback or rewind on a task runs it and its
dependents again (``runtime/dag.py``)."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, PlannedInput, PlannedResult, PlannedTaskState, TaskFailure
    from baton.patterns import About, PhaseAsk, PhaseRole
    from baton.plans import new_agent_spec
    from baton.schemas import Plan
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.dag import dependents, run_dag
    from baton.workflows.planning import ask_for_plan

PLAN = "plan"


def as_phase(ask: PhaseAsk) -> PlannedInput:
    """A hierarchical phase as a planned DAG: the planner plans it with the phase's agents (all, if none)."""
    return PlannedInput(goal=ask.goal, planner=ask.planner, agents=ask.phase.agents or None, allow_new_agents=False,
                        max_parallel=ask.max_parallel, defined_agents=ask.defined, **ask.budget)


def phase_output(result: PlannedResult) -> str | None:
    return "\n\n".join(f"{k}: {v}" for k, v in result.outputs.items()) or None


@workflow.defn(name="PlannedWorkflow", failure_exception_types=[pydantic.ValidationError])
class PlannedWorkflow(ControlPlane[PlannedInput]):
    about = About(
        "planned", PlannedInput, PlannedResult, step_noun="task",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Planner:** {i.planner} · at most {i.max_parallel} tasks at once",
        phase=PhaseRole(min_agents=0, brief="a planner makes a task graph from the agents you list",
                        make_input=as_phase, output=phase_output),
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._plan = Plan(tasks=[])
        self._new_agents: list[str] = []
        self._replans = 0

    time_travel = True  # a fork's plan comes from its source, when the snapshot holds it

    def fork_steps(self) -> set[str] | None:
        """The plan and its tasks, when the fork begins with a plan (inherited or given);
        else the tasks are known only once planned."""
        text = self.inheritance.peek(PLAN)
        try:
            plan = Plan.model_validate_json(text) if text is not None else None
        except ValueError:
            return None
        return {PLAN, *(t.id for t in plan.tasks)} if plan is not None else None

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> PlannedResult:
        inp = await self.begin()
        self.board.define([(PLAN, inp.planner)])
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.planner, *(inp.agents or [])}, every=inp.agents is None, defined=inp.defined_agents)
            while True:
                self.timeline.before(PLAN)
                await self._make_plan()
                await self._run_dag()
                if self.take_jump() != PLAN:  # feedback at the gate asks for a new plan
                    break
                self._replans += 1
        return self.result()

    async def _make_plan(self) -> None:
        known = set(self.inp.agents or self.agents.names()) - {self.inp.planner}
        brief = "Plan the goal as tasks with ids, an agent each, a prompt, and the ids they depend on. Independent tasks run in parallel."
        plan = await ask_for_plan(self, PLAN, self.inp.planner, self.inp.goal, known, [], brief, self.inp.allow_new_agents)
        for agent in plan.agents:
            self.agents.define(new_agent_spec(agent, self.agents.spec(self.inp.planner)))
        self._plan, self._new_agents = plan, [a.name for a in plan.agents]
        self.info["plan"] = [t.model_dump() for t in plan.tasks]
        self.info["new_agents"] = [a.model_dump() for a in plan.agents]
        self.board.keep_only([PLAN])  # a new plan's tasks replace the old plan's
        self.board.add([(t.id, t.agent) for t in plan.tasks])

    def _needs(self) -> dict[str, list[str]]:
        return {t.id: t.depends_on for t in self._plan.tasks}

    async def _run_dag(self) -> None:
        await run_dag(self, self._needs(), self._run_task, self.inp.max_parallel, self.inp.max_failures, gate=PLAN)

    async def _run_task(self, task_id: str) -> None:
        task = next(t for t in self._plan.tasks if t.id == task_id)
        self.timeline.before(task.id)  # what feedback and rewind on this task go back to
        if self.take_skip(task.id):  # a person's: the tasks that need it are skipped in turn
            return
        context = [ContextItem(name=d, output=self.timeline.outputs[d]) for d in task.depends_on]
        await self.try_step(task.id, task.agent, self.inp.goal, context, task.prompt)

    def rerun_scope(self, step: str) -> list[str]:
        """A task runs again with every task that needs it; the plan, with everything."""
        return super().rerun_scope(step) if step == PLAN else dependents(self._needs(), step)

    @workflow.query
    def result(self) -> PlannedResult:
        rows = [PlannedTaskState(id=t.id, agent=t.agent, depends_on=t.depends_on, state=self.board.state(t.id),
                                 error=self.board.error(t.id)) for t in self._plan.tasks if t.id in self.board]
        return PlannedResult(
            plan=rows, new_agents=self._new_agents,
            outputs={r.id: self.timeline.outputs[r.id] for r in rows if r.state == "done"},
            failed=[TaskFailure(id=r.id, agent=r.agent, error=r.error or "") for r in rows if r.state == "failed"],
            skipped=[r.id for r in rows if r.state == "skipped"],
            replans=self._replans, usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state(),
        )
