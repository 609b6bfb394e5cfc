"""HierarchicalWorkflow: a master planner splits the goal into phases, each run
as a child workflow of another pattern (pipeline, fan-out, panel, planned DAG)
seeing the earlier phases' results; a synthesizer combines them. A failed phase
is recorded and the next phases go on, until ``max_failures`` have failed: then a
person decides (approve: go on; feedback on the plan: re-plan; on a failed phase:
run it again). The planner may define new agents."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import AgentSpec, ContextItem, HierarchicalInput, HierarchicalResult, PhaseOutcome
    from baton.patterns import About, PhaseAsk, find_pattern, phase_patterns
    from baton.plans import new_agent_spec, phase_plan_errors
    from baton.schemas import Phase, PhasePlan
    from baton.workflows.children import ChildRunsPlane
    from baton.workflows.runtime.ending import root_message
    from baton.workflows.planning import ask_for_plan
    from baton.workflows.runtime.dag import RERUN_ANY_STEP

PLAN, SYNTHESIS = "plan", "synthesis"


def brief() -> str:
    """What the planner is asked for, naming every pattern a phase may run as."""
    kinds = "; ".join(f"{p.name}: {p.phase.brief}" for p in phase_patterns())
    return ("Split the goal into a few phases that run one after another, each seeing the results of the ones before. "
            f"For each phase give an id, a goal, a pattern ({kinds}) and its agents.")

MAX_CONTEXT_CHARS = 20_000  # per earlier phase, in a phase's goal


@workflow.defn(name="HierarchicalWorkflow", failure_exception_types=[pydantic.ValidationError])
class HierarchicalWorkflow(ChildRunsPlane[HierarchicalInput]):
    about = About(
        "hierarchical", HierarchicalInput, HierarchicalResult, step_noun="phase",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Planner:** {i.planner} · phases as child workflows",
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._phases: list[PhaseOutcome] = []
        self._new_agents: list[AgentSpec] = []
        self._synthesis: str | None = None
        self._phase_runs: dict[str, int] = {}  # phase id -> how many times it ran (a re-run gets its own child id)

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> HierarchicalResult:
        inp = await self.begin()
        self.board.define([(PLAN, inp.planner)])
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.planner, inp.synthesizer, *(inp.agents or [])}, every=inp.agents is None)
            known = set(inp.agents or self.agents.names()) - {inp.planner}
            while True:  # feedback on the plan plans again
                self.timeline.before(PLAN)
                plan: PhasePlan = await ask_for_plan(self, PLAN, inp.planner, inp.goal, known, [], brief(),
                                                     inp.allow_new_agents, schema="PhasePlan", check=phase_plan_errors)
                self._new_agents = [new_agent_spec(agent, self.agents.spec(inp.planner)) for agent in plan.agents]
                self.info["new_agents"] = [a.model_dump() for a in plan.agents]
                self.board.keep_only([PLAN])
                self.board.add([(phase.id, phase.pattern) for phase in plan.phases] + [(SYNTHESIS, inp.synthesizer)])
                self._phases = []
                if await self._run_phases(plan.phases) != PLAN:
                    break
        return self.result()

    async def _run_phases(self, phases: list[Phase]) -> str | None:
        """The phases in order, then the synthesis. Feedback or rewind on a phase runs it
        and every later phase again; returns PLAN when a person asked for a new plan."""
        order = [phase.id for phase in phases] + [SYNTHESIS]
        index, gate_open = 0, False
        while index < len(order):
            self.timeline.before(order[index])
            if order[index] == SYNTHESIS:
                await self._synthesize()
            else:
                await self._run_phase(phases[index], index)
                gate_open = gate_open or await self._failure_gate()
            jump = self.take_jump()
            if jump == PLAN:
                return PLAN
            index = order.index(jump) if jump else index + 1
        return None

    async def _failure_gate(self) -> bool:
        """At max_failures failed phases, wait for a person; True once they said go on."""
        failed = len(self.board.in_state("failed"))
        if self.inp.max_failures is None or failed < self.inp.max_failures or not workflow.patched(RERUN_ANY_STEP):
            return False
        await self.review_gate(PLAN)
        return self.timeline.jump is None

    async def _synthesize(self) -> None:
        done = [ContextItem(name=p.id, output=p.output) for p in self._phases if p.output]
        if done:
            self._synthesis = await self.try_step(SYNTHESIS, self.inp.synthesizer, self.inp.goal, done,
                                                  "Combine the phase results above into one answer to the goal.")

    async def _run_phase(self, phase: Phase, position: int) -> None:
        pattern = find_pattern(phase.pattern)  # the plan was checked: one with a phase role
        runs = self._phase_runs[phase.id] = self._phase_runs.get(phase.id, 0) + 1
        child_id = f"{workflow.info().workflow_id}-{phase.id}" + (f"-v{runs}" if runs > 1 else "")
        outcome = PhaseOutcome(id=phase.id, pattern=phase.pattern, goal=phase.goal, workflow_id=child_id, state="running")
        self._phases[position:] = [outcome]  # a phase run again: the later phases will run again too
        self._show()
        earlier = "\n\n".join(f"Result of phase {p.id}:\n{p.output[:MAX_CONTEXT_CHARS]}" for p in self._phases if p.output)
        goal = f"{phase.goal}\n\n(One phase of the overall goal: {self.inp.goal})" + (f"\n\n{earlier}" if earlier else "")
        child_input = pattern.phase.make_input(PhaseAsk(phase, goal, self._new_agents, self.inp.max_parallel, self.inp.planner,
                                                        self.inp.synthesizer, self.budget.child_share()))
        try:
            result = await self.run_child(pattern.workflow_type, child_input, child_id, pattern.result,
                                          f"{phase.pattern} phase {phase.id}")
        except ChildWorkflowError as err:
            outcome.state, outcome.error = "failed", root_message(err)
            self.board.fail(phase.id, outcome.error)
        else:
            self.agents.count(result.usage)
            outcome.output = pattern.phase.output(result)
            outcome.state = "done"
            self.step_done(phase.id, outcome.output or "")
        self._show()

    def _show(self) -> None:
        self.info["phases"] = [p.model_dump(exclude={"output", "goal"}) for p in self._phases]
        self.publish()

    @workflow.query
    def result(self) -> HierarchicalResult:
        return HierarchicalResult(phases=list(self._phases), new_agents=[a.name for a in self._new_agents],
                                  synthesis=self._synthesis,
                                  usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state())
