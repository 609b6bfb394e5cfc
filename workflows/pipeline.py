"""PipelineWorkflow: stages run in order, each agent seeing the goal and the
outputs of the stages before it; stages marked ``review`` wait for a person."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, PipelineInput, PipelineResult, StageSpec
    from baton.patterns import About, PhaseAsk, PhaseRole
    from baton.workflows.control import ControlPlane


def as_phase(ask: PhaseAsk) -> PipelineInput:
    """A hierarchical phase as a pipeline: its agents in order, one stage each."""
    stages = [StageSpec(name=f"{n}-{agent}", agent=agent) for n, agent in enumerate(ask.phase.agents, 1)]
    return PipelineInput(goal=ask.goal, stages=stages, defined_agents=ask.defined, **ask.budget)


# A ValidationError (bad input typed at the CLI) fails the run with its message
# instead of retrying the workflow task forever.
@workflow.defn(name="PipelineWorkflow", failure_exception_types=[pydantic.ValidationError])
class PipelineWorkflow(ControlPlane[PipelineInput]):
    about = About(
        "pipeline", PipelineInput, PipelineResult, step_noun="stage",
        goal=lambda i: i.goal,
        shape=lambda i: "**Stages:** " + " → ".join(s.name + (" (review)" if s.review else "") for s in i.stages),
        phase=PhaseRole(min_agents=1, brief="agents in order", make_input=as_phase, output=lambda r: r.final),
    )

    time_travel = True

    def fork_steps(self) -> set[str]:
        return {s.name for s in self.inp.stages}

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> PipelineResult:
        inp = await self.begin()
        self.board.define([(s.name, s.agent) for s in inp.stages])
        order = [s.name for s in inp.stages]
        index = 0
        with self.ends_of_run(inp):
            await self.agents.resolve({s.agent for s in inp.stages}, defined=inp.defined_agents)
            while index < len(inp.stages):
                stage = inp.stages[index]
                self.timeline.before(stage.name)
                if self.take_skip(stage.name):  # a person's: later stages see no output of it
                    index += 1
                    continue
                context = [ContextItem(name=n, output=self.timeline.outputs[n], artifact=self.timeline.artifacts.get(n))
                           for n in order[:index] if n in self.timeline.outputs]
                result = await self.call_agent(stage.name, stage.agent, inp.goal, context, stage.instructions,
                                               artifact=inp.artifacts)
                self.step_done(stage.name, result.text)
                if stage.review:
                    await self.review_gate(stage.name)
                rerun_from = self.take_jump()
                index = order.index(rerun_from) if rerun_from else index + 1
        return self.result()

    @workflow.query
    def result(self) -> PipelineResult:
        """The outputs so far (all of them once the run has completed)."""
        outputs = self.timeline.outputs
        final = outputs[list(outputs)[-1]] if outputs else None
        return PipelineResult(outputs=dict(outputs), final=final, artifacts=dict(self.timeline.artifacts),
                              usage=self.agents.usage, truncated=self.agents.truncated(),
                              state=self.run_state())
