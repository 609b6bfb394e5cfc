"""FanOutWorkflow: independent tasks in parallel (at most ``max_parallel`` at
once); a failed task does not sink the others; a synthesizer agent sums up
what succeeded."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, FanOutInput, FanOutResult, TaskFailure, TaskSpec
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.parallel import run_parallel

SYNTHESIS = "synthesis"


@workflow.defn(name="FanOutWorkflow", failure_exception_types=[pydantic.ValidationError])
class FanOutWorkflow(ControlPlane[FanOutInput]):
    contract = FanOutInput
    pattern = "fan-out"
    step_noun = "task"

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
            await run_parallel(inp.tasks, self._run_task, inp.max_parallel)
            if inp.synthesizer and self.timeline.outputs:
                context = [ContextItem(name=t.id, output=self.timeline.outputs[t.id]) for t in inp.tasks if t.id in self.timeline.outputs]
                self._synthesis = await self.try_step(SYNTHESIS, inp.synthesizer, inp.goal, context,
                                                      "Synthesize the task results above into one answer to the goal.")
        return self.result()

    async def _run_task(self, task: TaskSpec) -> None:
        await self.try_step(task.id, task.agent, self.inp.goal, instructions=task.prompt)

    @workflow.query
    def result(self) -> FanOutResult:
        outputs = self.timeline.outputs
        return FanOutResult(
            completed={t.id: outputs[t.id] for t in self.inp.tasks if t.id in outputs},
            failed=[TaskFailure(id=name, agent=self.board.agent(name), error=self.board.error(name) or "")
                    for name in self.board.in_state("failed")],
            synthesis=self._synthesis,
            usage=self.agents.usage,
            state=self.run_state(),
        )
