"""An update a validator refuses fails the caller's call with type ``InvalidRequest``,
not retryable: asking again with the same request is refused again. Without this,
a validator's ``ValueError`` reaches the caller as ``(type: ValueError, retryable:
true)``. A worker interceptor, so every pattern (a user's own too) gets it; a
rejected update is not recorded, so replays are unaffected."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError
from temporalio.worker import HandleUpdateInput, Interceptor, WorkflowInboundInterceptor, WorkflowInterceptorClassInput


class UpdateRejections(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _Rejecting


class _Rejecting(WorkflowInboundInterceptor):
    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        try:
            super().handle_update_validator(input)
        except ApplicationError:
            raise  # typed already
        except (ValueError, LookupError, TypeError) as err:
            raise ApplicationError(str(err), type="InvalidRequest", non_retryable=True) from None
