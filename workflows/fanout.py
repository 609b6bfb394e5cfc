"""FanOutWorkflow: independent tasks in parallel (at most ``max_parallel`` at
once); a failed task does not sink the others, but at ``max_failures`` failed
tasks the run waits for a person; a synthesizer agent sums up what succeeded.
Feedback or rewind on a task runs it again, and the synthesis after it."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, FanOutInput, FanOutResult, TaskFailure, TaskSpec
    from baton.patterns import About, PhaseAsk, PhaseRole
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.dag import FAILURES, RERUN_ANY_STEP, run_dag
    from baton.workflows.runtime.parallel import run_parallel

SYNTHESIS = "synthesis"


def as_phase(ask: PhaseAsk) -> FanOutInput:
    """A hierarchical phase as a fan-out: each agent does its part in parallel. The
    parent run keeps the failure gate: the phase never waits for a person itself."""
    tasks = [TaskSpec(id=f"{n}-{agent}", agent=agent, prompt=f"Do your part of this phase: {ask.phase.goal}")
             for n, agent in enumerate(ask.phase.agents, 1)]
    return FanOutInput(goal=ask.goal, tasks=tasks, max_parallel=ask.max_parallel, synthesizer=ask.synthesizer,
                       max_failures=None, defined_agents=ask.defined, **ask.budget)


def phase_output(result: FanOutResult) -> str | None:
    return result.synthesis or "\n\n".join(f"{k}: {v}" for k, v in result.completed.items()) or None


@workflow.defn(name="FanOutWorkflow", failure_exception_types=[pydantic.ValidationError])
class FanOutWorkflow(ControlPlane[FanOutInput]):
    about = About(
        "fan-out", FanOutInput, FanOutResult, step_noun="task",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Tasks:** {len(i.tasks)}, at most {i.max_parallel} at once",
        phase=PhaseRole(min_agents=1, brief="agents in parallel", make_input=as_phase, output=phase_output),
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._synthesis: str | None = None

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> FanOutResult:
        inp = await self.begin()
        synthesizer = [(SYNTHESIS, inp.synthesizer)] if inp.synthesizer else []
        self.board.define([(t.id, t.agent) for t in inp.tasks] + synthesizer)
        with self.ends_of_run(inp):
            await self.agents.resolve({t.agent for t in inp.tasks} | {agent for _, agent in synthesizer}, defined=inp.defined_agents)
            if not workflow.patched(RERUN_ANY_STEP):
                await run_parallel(inp.tasks, lambda task: self._run_task(task.id), inp.max_parallel)
                await self._synthesize()
                return self.result()
            while True:
                await run_dag(self, {t.id: [] for t in inp.tasks}, self._run_task, inp.max_parallel, inp.max_failures,
                              gate=FAILURES)
                await self._synthesize()
                if self.take_jump() is None:
                    break
        return self.result()

    async def _run_task(self, task_id: str) -> None:
        task = next(t for t in self.inp.tasks if t.id == task_id)
        self.timeline.before(task.id)  # what feedback and rewind on this task go back to
        await self.try_step(task.id, task.agent, self.inp.goal, instructions=task.prompt)

    async def _synthesize(self) -> None:
        if self.inp.synthesizer and self.timeline.outputs:
            context = [ContextItem(name=t.id, output=self.timeline.outputs[t.id]) for t in self.inp.tasks
                       if t.id in self.timeline.outputs]
            self.timeline.before(SYNTHESIS)
            self._synthesis = await self.try_step(SYNTHESIS, self.inp.synthesizer, self.inp.goal, context,
                                                  "Synthesize the task results above into one answer to the goal.")

    def rerun_scope(self, step: str) -> list[str]:
        """A task runs again, then the synthesis; the synthesis alone."""
        if step == FAILURES:
            raise ValueError("approve to go on with the tasks that succeeded, or give feedback on a failed task "
                             "to run it again")
        return [step] + ([SYNTHESIS] if step != SYNTHESIS and SYNTHESIS in self.board else [])

    @workflow.query
    def result(self) -> FanOutResult:
        outputs = self.timeline.outputs
        return FanOutResult(
            completed={t.id: outputs[t.id] for t in self.inp.tasks if t.id in outputs},
            failed=[TaskFailure(id=name, agent=self.board.agent(name), error=self.board.error(name) or "")
                    for name in self.board.in_state("failed")],
            synthesis=self._synthesis,
            usage=self.agents.usage, truncated=self.agents.truncated(),
            state=self.run_state(),
        )
