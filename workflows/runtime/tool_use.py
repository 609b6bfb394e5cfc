"""An agent's turn loop with its tools, in the workflow: each model turn is one
agent activity, each tool call its own activity with the tool's timeout and
retry policy (parallel calls in parallel), so a crash repeats no completed turn
and no completed call. The model only ever reaches the tools its agent was
given when the run resolved it: a name from anywhere else (another agent's
output, an injected prompt) is answered with an error, never run.

What goes back to the model: the tool's result; an error it can correct (bad
arguments, an unknown tool); a person's denial with its reason. What fails the
step (``ToolFailed``): a tool that still fails after its retries.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from baton.contracts import (AgentRequest, AgentResult, ChatTurn, RunInput, ToolCall, ToolCallRequest, ToolCallResult,
                             ToolInfo, ToolOutcome, ToolSpec, Usage)
from baton.workflows.runtime.approvals import ToolApprovals
from baton.workflows.runtime.caller import retry_policy
from baton.workflows.runtime.parallel import gather_or_cancel

MAX_SHOWN_CALLS = 50  # tool calls kept for status
MAX_ERROR_CHARS = 1_000  # an error sent back to the model
TIMEOUT_MARGIN_SECONDS = 2.0  # the call's own timeout (activities/tools.py) reports first, naming the tool
LAST_TURN = ("You have used your turns with tools: answer now from what you have, without calling a tool.")


def arguments_of(raw: str) -> dict[str, Any]:
    """A model's JSON arguments as an object; ValueError saying what is wrong."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as err:
        raise ValueError(f"the arguments are not JSON ({err.msg})") from None
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object")
    return value


class ToolUse:
    def __init__(self, approvals: ToolApprovals, step_noun: str, pattern: str, changed: Callable[[], None]) -> None:
        self.calls: list[ToolOutcome] = []  # the latest MAX_SHOWN_CALLS, for status
        self._approvals, self._noun, self._pattern, self._changed = approvals, step_noun, pattern, changed

    async def converse(self, request: AgentRequest, tools: list[ToolInfo],
                       model_turn: Callable[[AgentRequest, bool], Awaitable[AgentResult]], limits: RunInput) -> AgentResult:
        """Model turns until an answer without tool calls, at most the agent's ``max_turns``
        (the last offers no tools and asks for the answer). ``model_turn(request, first)``:
        one gated agent call."""
        by_wire = {tool.wire_name: tool for tool in tools}
        offered = [ToolSpec(name=t.wire_name, description=t.description or t.name, parameters=t.parameters) for t in tools]
        conversation = list(request.conversation)
        usage = Usage()
        turns = request.agent.max_turns
        for turn in range(1, turns + 1):
            last = turn == turns  # offers no tools: the answer now (max_turns 1: tools never offered)
            asked = request.model_copy(update={
                "tools": [] if last else offered,
                "conversation": [*conversation, ChatTurn(role="user", content=LAST_TURN)] if last and turn > 1
                else conversation})
            reply = await model_turn(asked, turn == 1)
            usage += reply.usage
            if not reply.tool_calls:
                return reply.model_copy(update={"usage": usage})
            if last:
                break
            conversation.append(ChatTurn(role="assistant", content=reply.text or None, tool_calls=reply.tool_calls))
            results = await gather_or_cancel([self._call(request, by_wire, call, limits) for call in reply.tool_calls])
            conversation += [ChatTurn(role="tool", tool_call_id=call.id, content=result)
                             for call, result in zip(reply.tool_calls, results)]
        raise ApplicationError(f"{self._noun} {request.stage!r} ({request.agent.name}): no answer after {turns} model "
                               "turns with tools; raise the agent's max_turns", type="ToolTurnsExhausted")

    async def _call(self, request: AgentRequest, by_wire: dict[str, ToolInfo], call: ToolCall, limits: RunInput) -> str:
        """One tool call the model asked for: what goes back to it."""
        step, agent = request.stage, request.agent.name
        tool = by_wire.get(call.name)
        if tool is None:
            yours = ", ".join(by_wire) or "none"
            return self._record(step, agent, call.name, call.id, "unknown_tool",
                                f"error: you have no tool {call.name!r}; your tools: {yours}")
        try:
            arguments = arguments_of(call.arguments)
        except ValueError as err:
            return self._record(step, agent, tool.name, call.id, "invalid_arguments", f"error: {err}; call {call.name} again")
        decided_by = approval = None
        if tool.needs_approval:
            approval, decision = await self._approvals.ask(step, agent, tool.name, arguments, limits)
            decided_by = decision.by
            if not decision.approved:
                reason = decision.reason or "no reason given"
                return self._record(step, agent, tool.name, call.id, "denied",
                                    f"this call was denied and did not run: {reason}. Do not call it again with the same arguments.",
                                    decided_by, note=reason)
        try:
            result = await workflow.execute_activity(
                "call_tool", ToolCallRequest(tool=tool, arguments=arguments, agent=agent, step=step, call_id=call.id,
                                         approval=approval),
                result_type=ToolCallResult,
                start_to_close_timeout=timedelta(seconds=tool.timeout_seconds + TIMEOUT_MARGIN_SECONDS),
                # The call heartbeats as its agent's do: a dead worker's call is retried after the
                # agent's heartbeat_seconds, not at the tool's whole timeout.
                heartbeat_timeout=timedelta(seconds=request.agent.heartbeat_seconds),
                retry_policy=retry_policy(tool.retry),
                summary=f"{agent} · {tool.name}",
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):  # the run is being cancelled
                raise asyncio.CancelledError(f"{step} cancelled") from err
            cause = err.cause if isinstance(err.cause, ApplicationError) else None
            reason = cause.message if cause is not None else str(err.cause or err)
            if cause is not None and cause.type == "InvalidArguments":
                problem = cause.message[:MAX_ERROR_CHARS]
                return self._record(step, agent, tool.name, call.id, "invalid_arguments",
                                    f"error: {problem}; call {call.name} again with valid arguments", decided_by, note=problem)
            self._record(step, agent, tool.name, call.id, "failed", "", decided_by, note=reason[:MAX_ERROR_CHARS])
            raise ApplicationError(f"{self._noun} {step!r} ({agent}): tool {tool.name} failed: {reason}",
                                   type="ToolFailed") from err
        return self._record(step, agent, tool.name, call.id, "error" if result.is_error else "ok", result.text, decided_by)

    def _record(self, step: str, agent: str, tool: str, call_id: str, outcome: str, answer: str,
                decided_by: str | None = None, note: str | None = None) -> str:
        """Keep the call's outcome for status and metrics; returns ``answer``."""
        self.calls.append(ToolOutcome(step=step, agent=agent, tool=tool, call_id=call_id, outcome=outcome,  # type: ignore[arg-type]
                                      decided_by=decided_by, note=note))
        del self.calls[:-MAX_SHOWN_CALLS]
        # The workflow meter records on real executions only, never on replay.
        workflow.metric_meter().create_counter(
            "baton_tool_calls", "Agents' tool calls by tool and outcome (ok, error, invalid_arguments, unknown_tool, "
            "denied, failed)").add(1, {"pattern": self._pattern, "outcome": outcome,
                                       "tool": "unknown" if outcome == "unknown_tool" else tool})  # not the model's word
        self._changed()
        return answer
