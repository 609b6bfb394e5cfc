"""A run whose result would not fit in one payload fails, naming its size, instead
of completing: Temporal would refuse the completion and the run would stay
Running, its last workflow task failing for ever. A worker interceptor, so every
pattern (a user's own too) gets it; the memo keeps the outputs, as on any failure."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (ExecuteWorkflowInput, Interceptor, WorkflowInboundInterceptor,
                               WorkflowInterceptorClassInput)

from baton.contracts import PAYLOAD_BYTES_LIMIT, PAYLOAD_ROOM, TOO_LARGE_ADVICE
from baton.workflows.runtime.caller import store_threshold, stored


class ResultSizeGuard(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _GuardedRun


class _GuardedRun(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        if result is None:
            return result
        size = workflow.payload_converter().to_payload(result).ByteSize()
        if size <= PAYLOAD_ROOM or stored(size, await store_threshold()):
            return result
        too_large = ApplicationError(f"the run's result is {size:,} bytes; one payload may be at most "
                                     f"{PAYLOAD_BYTES_LIMIT:,}: {TOO_LARGE_ADVICE}", type="PayloadTooLarge",
                                     non_retryable=True)
        end = getattr(workflow.instance(), "end", None)  # a Baton pattern's RunEnd: the memo keeps the outputs
        raise end.failed(too_large) if end is not None and hasattr(end, "failed") else too_large
