"""The control plane for patterns that run child workflows (map-reduce batches,
hierarchical phases): ``pause`` and ``resume`` reach the children in flight too,
and each child is tracked for the status query."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from baton.workflows.control import ControlPlane, I
    from baton.workflows.inputs import NO_INPUT
    from baton.workflows.runtime import publishing


class ChildRunsPlane(ControlPlane[I]):
    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._children: dict[str, workflow.ChildWorkflowHandle] = {}

    @workflow.signal
    async def pause(self, *stray: Any) -> None:
        """Pause this run and every child in flight."""
        if self.stray_arguments("pause", stray):
            return
        self.pauses.pause()
        self.publish()
        await self._tell_children("pause")

    @workflow.signal
    async def resume(self, *stray: Any) -> None:
        if self.stray_arguments("resume", stray):
            return
        self.pauses.resume()
        self.publish()
        await self._tell_children("resume")

    async def _tell_children(self, signal: str) -> None:
        for child_id, child in list(self._children.items()):
            try:
                await child.signal(signal)
            except Exception as err:  # the child may have just finished: nothing to steer
                workflow.logger.info("could not %s child %s: %s", signal, child_id, err)

    async def run_child(self, workflow_type: str, inp: Any, child_id: str, result_type: type, summary: str) -> Any:
        """Start a child workflow of another pattern on this task queue and wait for its result."""
        await self.pauses.wait()
        await self.budget.check(self.publish)
        indexed = publishing.child_search_attributes()
        handle = await workflow.start_child_workflow(
            workflow_type, inp, id=child_id, result_type=result_type, static_summary=summary,
            execution_timeout=timedelta(days=30),
            search_attributes=TypedSearchAttributes(indexed) if indexed else None,
        )
        self._children[child_id] = handle
        try:
            result = await handle
        except ChildWorkflowError as err:
            self._raise_if_cancelled(child_id, err)
            raise
        finally:
            del self._children[child_id]
        self._raise_if_cancelled(child_id)
        return result

    @staticmethod
    def _raise_if_cancelled(child_id: str, cause: BaseException | None = None) -> None:
        # Cancelling this run sends the cancel on to the child and the await then
        # ends with the child's outcome (a ChildWorkflowError, or even a result)
        # instead of CancelledError: the run itself must still end cancelled.
        if asyncio.current_task().cancelling():
            raise asyncio.CancelledError(f"run cancelled while child {child_id} ran") from cause
