"""The workflow a worker runs for a type it does not know (a typo such as
``--type PipelineWorkflw``): it fails the run at once, naming the type asked
for and the ones that exist, instead of leaving it Running with failing
workflow tasks forever."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from baton.patterns import all_patterns


@workflow.defn(dynamic=True)
class UnknownWorkflow:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> None:
        asked = workflow.info().workflow_type
        known = [p.workflow_type for p in all_patterns()]
        raise ApplicationError(f"unknown workflow type {asked!r}; Baton runs: {', '.join(known)}",
                               {"workflow_type": asked, "known": known}, type="UnknownWorkflowType", non_retryable=True)
