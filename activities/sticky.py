"""A retried activity sends its run's next workflow task to every worker, not to the
one that has the run cached.

The worker that ran a run's last workflow task keeps the run in memory, and the
server gives the run's next task to that worker alone (its sticky queue) for
BATON_STICKY_SECONDS. When that worker died mid-call, the call is retried on
another worker once its heartbeat times out; without this, the retried call's
answer then waits out the dead worker's sticky queue before any worker replays
the run (BENCHMARKS.md, "time lost, a second worker already running").

A retry is the sign: before a retried attempt runs, the worker asks the server
to forget the run's sticky queue (``ResetStickyTaskQueue``), so the task its
answer wakes goes to the run's task queue at once. What that costs: when the
worker with the run cached is alive (the earlier attempt failed on a 500, a
429, a timeout), the next task may go to another worker, which replays the run's
history first, one replay per retried call."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.service import RPCError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

log = structlog.get_logger("baton.sticky")


class RetriesSkipStickyQueues(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ReleasingOnRetry(next)


class _ReleasingOnRetry(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        # A local activity's retries run inside its workflow task: no sticky queue to skip.
        if info.attempt > 1 and not info.is_local and info.workflow_id and info.workflow_run_id:
            await _release_sticky_queue(info)
        return await super().execute_activity(input)


async def _release_sticky_queue(info: activity.Info) -> None:
    request = ResetStickyTaskQueueRequest(
        namespace=info.workflow_namespace,
        execution=WorkflowExecution(workflow_id=info.workflow_id, run_id=info.workflow_run_id))
    try:
        await activity.client().workflow_service.reset_sticky_task_queue(request)
    except (RPCError, RuntimeError) as err:  # RuntimeError: no client (a sync activity)
        # Only the next workflow task's speed depends on it: the call goes on regardless.
        log.warning("could not release the run's sticky queue", workflow_id=info.workflow_id, error=str(err))
