"""The tool-approval gate: a call to a ``needs_approval`` tool waits here for a
person's ``approve_tool`` / ``deny_tool``. Several calls may wait at once (an
agent's parallel calls, parallel steps); each has its own id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from baton.contracts import RunInput, ToolApproval, ToolDecisionRequest, ToolDenial
from baton.workflows.runtime.gates import STEADY_STATES, record_human_wait, wait_for_person

# Patch (workflow.patched): a call denied at the review deadline is recorded in the memo.
DENIAL_IN_MEMO = "baton-tool-denial-in-memo"


@dataclass(frozen=True)
class Decision:
    approved: bool
    reason: str | None = None
    by: str | None = None


class ToolApprovals:
    def __init__(self, pattern: str, changed: Callable[[], None]) -> None:
        self.waiting: dict[str, ToolApproval] = {}  # by id, in the order asked
        self._decided: dict[str, Decision] = {}
        self._asked = 0
        self._pattern, self._changed = pattern, changed

    def problem(self, request: ToolDecisionRequest, run_state: str) -> str | None:
        """Why this decision decides nothing, or None."""
        if run_state not in STEADY_STATES:
            return f"the run is {run_state}; no tool call waits for approval"
        if not self.waiting:
            return "no tool call is waiting for approval"
        ids = ", ".join(self.waiting)
        if request.id is None and len(self.waiting) > 1:
            return f"{len(self.waiting)} tool calls wait for approval: name one with id ({ids})"
        if request.id is not None and request.id not in self.waiting:
            return f"no tool call {request.id!r} waits for approval; waiting: {ids}"
        return None

    def _withdraw(self, approval_id: str) -> None:
        # Not in a `finally`: a run evicted from the worker's cache closes its coroutines,
        # and nothing may touch the workflow then.
        if self.waiting.pop(approval_id, None) is not None:
            self._changed()

    def decide(self, request: ToolDecisionRequest, approved: bool) -> ToolApproval:
        approval = self.waiting.pop(request.id or next(iter(self.waiting)))
        self._decided[approval.id] = Decision(approved, request.reason, request.by)
        self._changed()
        return approval

    async def ask(self, step: str, agent: str, tool: str, arguments: dict[str, Any],
                  limits: RunInput) -> tuple[str, Decision]:
        """Wait for a person's decision on one call: its approval id and the decision. At
        the run's review deadline the call is denied whatever ``on_review_deadline`` says:
        nothing dangerous runs unattended (``fail`` still fails the run)."""
        self._asked += 1
        approval_id = f"tool-{self._asked}"
        began = workflow.now()
        asked = self.waiting[approval_id] = ToolApproval(id=approval_id, step=step, agent=agent, tool=tool,
                                                         arguments=arguments, asked_at=began)
        # In the memo, so the Web UI shows what waits and the trace knows what a decision was about.
        workflow.upsert_memo({"tool_approval": asked.model_dump(mode="json")})
        self._changed()
        try:
            answered = await wait_for_person(lambda: approval_id in self._decided, limits,
                                             f"nobody approved tool call {approval_id} ({tool})")
        except (asyncio.CancelledError, ApplicationError):  # the step or run ends while it waits: withdrawn
            self._withdraw(approval_id)
            raise
        self._withdraw(approval_id)  # a review deadline's end (a decision took it out already)
        record_human_wait(self._pattern, "tool", began)
        if not answered:
            deadline = limits.review_deadline_seconds or 0
            denied = ToolDenial(id=approval_id, reason=f"nobody approved it within {deadline:g}s", by="review deadline")
            if workflow.patched(DENIAL_IN_MEMO):
                # The trace reads the history alone: without this the call looked still waiting.
                workflow.upsert_memo({"tool_denied": denied.model_dump(mode="json")})
            return approval_id, Decision(False, denied.reason, by=denied.by)
        return approval_id, self._decided.pop(approval_id)
