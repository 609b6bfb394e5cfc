"""A change to PipelineWorkflow made the documented way (docs/versioning.md):
a final 'polish' call by the last stage's agent, behind ``workflow.patched``.
``UnguardedPipeline`` is the same change without the guard. Test-only: they
stand in for a real edit of workflows/pipeline.py."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.contracts import PipelineInput, PipelineResult
    from baton.workflows.inputs import NO_INPUT
    from baton.workflows.pipeline import PipelineWorkflow

PATCH = "final-polish"


@workflow.defn(name="PipelineWorkflow")
class PatchedPipeline(PipelineWorkflow):
    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> PipelineResult:
        await super().run(raw)
        if workflow.patched(PATCH):  # runs started before the change replay without it
            await self.polish(self.inp)
        return self.result()

    async def polish(self, inp: PipelineInput) -> None:
        final = self.timeline.outputs[inp.stages[-1].name]
        answer = await self.call_agent("polish", inp.stages[-1].agent, inp.goal, instructions=f"Polish this:\n{final}")
        self.timeline.outputs["polish"] = answer.text


@workflow.defn(name="PipelineWorkflow")
class UnguardedPipeline(PatchedPipeline):
    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> PipelineResult:
        await PipelineWorkflow.run(self, raw)
        await self.polish(self.inp)
        return self.result()
