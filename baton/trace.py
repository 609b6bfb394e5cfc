"""The trace of a run, read from its workflow history (and its children's).

The history is Baton's source of truth: every agent call is an activity with
its request and result as payloads, every person's action a signal, update or
cancel request. ``build_trace`` turns one history into a ``RunTrace``: per
agent call (and code step) the agent, step, models asked and answering, times,
attempts, failures, usage and cost; the people's actions in order; and the
edges taken (a call that saw a step's output follows that step; a flow records
each edge it takes in its memo, with its label or condition). ``trace_run`` fetches a
run and, recursively, its child runs from the server. Rendering lives in
``baton.trace_render``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from baton.call_summary import read_summary
from baton.context_store import ContextStore, context_names, context_store
from baton.contracts import (AgentRequest, AgentResult, CodeRequest, Contract, EdgeTaken, FlowInput, ForkInfo, ToolApproval,
                             ToolCallRequest, ToolCallResult, ToolDenial, Usage)

CODE = "code"  # the "model" of a code step's call in a trace
RESULT_PREVIEW_CHARS = 300
LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the SDK core's marker for a local activity's outcome
CallOutcome = Literal["running", "completed", "failed", "timed_out", "cancelled"]
RunOutcome = Literal["running", "completed", "failed", "cancelled", "terminated", "timed_out", "continued_as_new"]


class AgentCall(Contract):
    activity_id: str
    agent: str
    step: str
    model: str = Field(description="The model this call asked for")
    answered_by: str | None = Field(default=None, description="The model that answered, as the provider reported it")
    fallback: bool = Field(description="The call went to one of the agent's fallback models")
    scheduled_at: datetime
    started_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: CallOutcome = "running"
    attempts: int = 0
    failures: list[str] = Field(default_factory=list, description="The last retried attempt's error, then the final one's")
    usage: Usage = Field(default_factory=Usage)
    truncated: bool = Field(default=False, description="The answer stopped at the agent's max_tokens")
    breaker_wait_seconds: float = Field(default=0.0, description="Time it waited for an open circuit breaker")
    context: list[str] = Field(default_factory=list, description="Steps whose outputs this call saw")


class ToolCallTrace(Contract):
    """One tool call an agent's model asked for that ran or waited for a person."""

    agent: str
    step: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    activity_id: str | None = Field(default=None, description="None: it never ran (denied, or still waiting)")
    asked_at: datetime = Field(description="When the run took the model's call: scheduled it, or asked a person")
    closed_at: datetime | None = None
    outcome: Literal["running", "completed", "failed", "timed_out", "cancelled", "waiting", "denied", "not_run"] = "running"
    attempts: int = 0
    failures: list[str] = Field(default_factory=list)
    result: str | None = Field(default=None, description="The start of what went back to the model")
    is_error: bool = Field(default=False, description="The tool reported an error (an MCP tool's isError)")
    approval: str | None = Field(default=None, description="Its approval's id (tool-N), when it needed one")
    decided_by: str | None = Field(default=None, description="Who approved or denied it: the update's 'by', else "
                                   "the client identity that sent it")
    reason: str | None = Field(default=None, description="Why it was denied")


class HumanAction(Contract):
    at: datetime
    kind: Literal["signal", "update", "cancel"]
    name: str
    args: list[Any] = Field(default_factory=list)
    identity: str = ""
    outcome: str | None = Field(default=None, description="An update's result or error; 'ignored: why' for a signal "
                                "the run did nothing with")
    target: str | None = Field(default=None, description="The step it was about (named, or the one it re-ran)")


class Edge(Contract):
    source: str
    target: str


class FlowEdgeTaken(EdgeTaken):
    """An edge a flow run took, and when (from the memo change that recorded it)."""

    at: datetime


class ChildRef(Contract):
    workflow_id: str
    workflow_type: str
    started_at: datetime
    outcome: RunOutcome = "running"


class RunTrace(Contract):
    workflow_id: str
    run_id: str = ""
    workflow_type: str
    outcome: RunOutcome = "running"
    started_at: datetime
    closed_at: datetime | None = None
    error: str | None = None
    calls: list[AgentCall] = Field(default_factory=list)
    actions: list[HumanAction] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    child_runs: list[ChildRef] = Field(default_factory=list, description="Child runs, in the order they were started")
    children: list[RunTrace] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage, description="This run's calls and its children's")
    flow: FlowInput | None = Field(default=None, description="A flow run's graph (its input)")
    flow_edges: list[FlowEdgeTaken] = Field(default_factory=list, description="The edges a flow run took, in order")
    tool_calls: list[ToolCallTrace] = Field(default_factory=list, description="Agents' tool calls, in the order asked")
    fork: ForkInfo | None = Field(default=None, description="Where a forked run began: its source, the outputs it "
                                  "inherited (no call here) and what they cost there")

    def all_calls(self) -> list[AgentCall]:
        return [*self.calls, *(call for child in self.children for call in child.all_calls())]


_CLOSED: dict[int, RunOutcome] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued_as_new",
}


_CHILD_CLOSED: dict[int, tuple[RunOutcome, str]] = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: ("completed", "child_workflow_execution_completed_event_attributes"),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: ("failed", "child_workflow_execution_failed_event_attributes"),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: ("cancelled", "child_workflow_execution_canceled_event_attributes"),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: ("terminated", "child_workflow_execution_terminated_event_attributes"),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: ("timed_out", "child_workflow_execution_timed_out_event_attributes"),
}


def failure_text(failure: Failure) -> str:
    """A failure and its causes on one line, outermost first."""
    text = ""
    while True:
        if failure.message and failure.message not in text:  # a cause often repeats its wrapper's words
            text = f"{text}: {failure.message}" if text else failure.message
        if not failure.HasField("cause"):
            return text
        failure = failure.cause


class _Reader:
    def __init__(self, converter: DataConverter):
        self.converter = converter

    async def one(self, payloads: Payloads, type_hint: type | None = None) -> Any:
        if not payloads.payloads:
            return None
        values = await self.converter.decode(payloads.payloads[:1], [type_hint] if type_hint else None)
        return values[0]

    async def plain(self, payloads: Payloads) -> list[Any]:
        """Arguments as JSON-able values (pydantic models dumped)."""
        if not payloads.payloads:
            return []
        values = await self.converter.decode(list(payloads.payloads))
        return [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in values]


async def build_trace(history: WorkflowHistory, converter: DataConverter = pydantic_data_converter,
                      texts: ContextStore | None = None) -> RunTrace:
    """The trace of one run (children are listed by id, not fetched: see ``trace_run``)."""
    read = _Reader(converter)
    events: list[HistoryEvent] = list(history.events)
    first = events[0].workflow_execution_started_event_attributes
    trace = RunTrace(workflow_id=history.workflow_id, run_id=first.original_execution_run_id,
                     workflow_type=first.workflow_type.name, started_at=events[0].event_time.ToDatetime(tzinfo=UTC))
    if first.workflow_type.name == "FlowWorkflow":
        try:
            trace.flow = await read.one(first.input, FlowInput)
        except Exception:  # an input the run itself refused: the trace shows the run without its graph
            trace.flow = None
    calls: dict[int, AgentCall] = {}  # by scheduled event id
    tools = _ToolCalls()
    updates: dict[str, HumanAction] = {}
    children: dict[int, ChildRef] = {}  # by initiated event id
    for event in events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == "run_code":
                step: CodeRequest = await read.one(attrs.input, CodeRequest)
                calls[event.event_id] = AgentCall(activity_id=attrs.activity_id, agent=f"code:{step.function}",
                                                  step=step.node, model=CODE, fallback=False, scheduled_at=at)
                continue
            if attrs.activity_type.name == "call_tool":
                tools.scheduled(event.event_id, attrs.activity_id, await read.one(attrs.input, ToolCallRequest), at)
                continue
            if attrs.activity_type.name != "run_agent":
                continue
            request: AgentRequest = await read.one(attrs.input, AgentRequest)
            calls[event.event_id] = AgentCall(
                activity_id=attrs.activity_id, agent=request.agent.name, step=request.stage, model=request.model,
                fallback=request.model != request.agent.model or request.fallback_for is not None, scheduled_at=at,
                context=[*(await context_names(texts, request.context_ref) if request.context_ref else []),
                         *(item.name for item in request.context)])
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if (call := calls.get(attrs.scheduled_event_id) or tools.by_event.get(attrs.scheduled_event_id)) is not None:
                call.attempts = attrs.attempt
                if isinstance(call, AgentCall):
                    call.started_at = at
                if attrs.HasField("last_failure"):
                    call.failures.append(f"attempt {attrs.attempt - 1}: {failure_text(attrs.last_failure)}")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            if (tool := tools.by_event.get(attrs.scheduled_event_id)) is not None:
                answer: ToolCallResult = await read.one(attrs.result, ToolCallResult)
                tool.closed_at, tool.outcome, tool.is_error = at, "completed", answer.is_error
                tool.result = answer.text[:RESULT_PREVIEW_CHARS]
            if (call := calls.get(attrs.scheduled_event_id)) is not None:
                call.closed_at, call.outcome = at, "completed"
                if call.model != CODE:  # a code step has no model and no usage
                    result: AgentResult = await read.one(attrs.result, AgentResult)
                    call.answered_by, call.usage, call.truncated = result.model, result.usage, result.truncated
                    call.breaker_wait_seconds = result.breaker_wait_seconds
        elif kind in (EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            failed = kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
            attrs = event.activity_task_failed_event_attributes if failed else event.activity_task_timed_out_event_attributes
            if (call := calls.get(attrs.scheduled_event_id) or tools.by_event.get(attrs.scheduled_event_id)) is not None:
                call.closed_at, call.outcome = at, "failed" if failed else "timed_out"
                call.attempts = max(call.attempts, 1)
                call.failures.append(f"attempt {call.attempts}: {failure_text(attrs.failure)}")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            attrs = event.activity_task_canceled_event_attributes
            if (call := calls.get(attrs.scheduled_event_id) or tools.by_event.get(attrs.scheduled_event_id)) is not None:
                call.closed_at, call.outcome = at, "cancelled"
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            if (call := await _short_call(read, event, at)) is not None:
                calls[event.event_id] = call
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = event.workflow_execution_signaled_event_attributes
            args = await read.plain(attrs.input)
            trace.actions.append(HumanAction(at=at, kind="signal", name=attrs.signal_name, args=args,
                                             identity=attrs.identity, target=_named_step(args)))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
            memo = event.workflow_properties_modified_event_attributes.upserted_memo.fields
            if "ignored_signals" in memo:  # the run appends the signal it just ignored
                ignored = (await read.one(Payloads(payloads=[memo["ignored_signals"]])))[-1]
                _mark_ignored(trace.actions, ignored["name"], ignored["reason"])
            if "tool_approval" in memo:  # a tool call now waits for a person
                tools.asked(ToolApproval.model_validate(await read.one(Payloads(payloads=[memo["tool_approval"]]))))
            if "tool_denied" in memo:  # nobody decided by the review deadline
                tools.denied(ToolDenial.model_validate(await read.one(Payloads(payloads=[memo["tool_denied"]]))), at)
            if "fork" in memo:  # a fork's start: what it inherited
                trace.fork = ForkInfo.model_validate(await read.one(Payloads(payloads=[memo["fork"]])))
            if "flow_edges" in memo:  # the edges a flow node just fired
                taken = await read.one(Payloads(payloads=[memo["flow_edges"]]))
                trace.flow_edges += [FlowEdgeTaken(at=at, **edge) for edge in taken]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attrs = event.workflow_execution_update_accepted_event_attributes
            request_ = attrs.accepted_request
            args = await read.plain(request_.input.args)
            action = HumanAction(at=at, kind="update", name=request_.input.name, args=args,
                                 identity=request_.meta.identity, target=_named_step(args))
            updates[attrs.protocol_instance_id] = action
            trace.actions.append(action)
            if action.name in ("approve_tool", "deny_tool"):
                tools.decided(action)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            attrs = event.workflow_execution_update_completed_event_attributes
            if (action := updates.get(attrs.meta.update_id)) is not None:
                outcome = attrs.outcome
                if outcome.HasField("failure"):
                    action.outcome = f"error: {failure_text(outcome.failure)}"
                else:
                    value = await read.plain(outcome.success)
                    action.outcome = json.dumps(value)[:200]
                    if value and isinstance(value[0], dict) and value[0].get("rerun_from"):
                        action.target = value[0]["rerun_from"]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            attrs = event.workflow_execution_cancel_requested_event_attributes
            trace.actions.append(HumanAction(at=at, kind="cancel", name="cancel", identity=attrs.identity,
                                             args=[attrs.cause] if attrs.cause else []))
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            attrs = event.start_child_workflow_execution_initiated_event_attributes
            children[event.event_id] = ChildRef(workflow_id=attrs.workflow_id, workflow_type=attrs.workflow_type.name,
                                                started_at=at)
        elif kind in _CHILD_CLOSED:
            outcome, field = _CHILD_CLOSED[kind]
            if (ref := children.get(getattr(event, field).initiated_event_id)) is not None:
                ref.outcome = outcome
        elif kind in _CLOSED:
            trace.outcome, trace.closed_at = _CLOSED[kind], at
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                trace.error = failure_text(event.workflow_execution_failed_event_attributes.failure)
    trace.calls = list(calls.values())
    trace.tool_calls = tools.in_order(still_running=trace.outcome == "running")
    trace.child_runs = list(children.values())
    trace.edges = _edges(trace) if trace.flow is None else _taken(trace.flow_edges)
    trace.usage = sum((call.usage for call in trace.calls), Usage())
    return trace


async def _short_call(read: _Reader, event: HistoryEvent, at: datetime) -> AgentCall | None:
    """A short agent's call (a local activity): its marker keeps the attempts and the result
    or failure, not the request; who, which step and which model come from its summary."""
    attrs = event.marker_recorded_event_attributes
    if attrs.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attrs.details:
        return None
    data = json.loads(attrs.details["data"].payloads[0].data)
    summary = await read.one(Payloads(payloads=[event.user_metadata.summary]), str) if event.user_metadata.HasField("summary") else ""
    if data.get("activity_type") != "run_agent" or (said := read_summary(summary)) is None:
        return None
    call = AgentCall(activity_id=f"local-{data.get('activity_id', event.event_id)}", agent=said.agent, step=said.step,
                     model=said.model or "", fallback=said.fallback, scheduled_at=_time(data.get("original_schedule_time")) or at,
                     closed_at=at, attempts=int(data.get("attempt") or 1))
    if attrs.HasField("failure"):
        call.outcome = "failed"
        call.failures.append(f"attempt {call.attempts}: {failure_text(attrs.failure)}")
    elif "result" in attrs.details:
        result: AgentResult = await read.one(attrs.details["result"], AgentResult)
        call.outcome, call.answered_by, call.usage, call.truncated = "completed", result.model, result.usage, result.truncated
        call.model = call.model or result.model
    return call


def _time(stamp: dict | None) -> datetime | None:
    """A marker's timestamp, as the SDK core writes it: ``{"seconds": …, "nanos": …}``."""
    if isinstance(stamp, dict) and "seconds" in stamp:
        return datetime.fromtimestamp(int(stamp["seconds"]) + int(stamp.get("nanos", 0)) / 1e9, tz=UTC)
    return None


class _ToolCalls:
    """Tool calls as a history tells them: asked approvals (memo), people's decisions
    (updates), the calls that ran (``call_tool`` activities)."""

    def __init__(self) -> None:
        self.by_event: dict[int, ToolCallTrace] = {}  # ran, by scheduled event id
        self._approvals: dict[str, ToolCallTrace] = {}  # asked, by approval id
        self._waiting: list[str] = []

    def asked(self, approval: ToolApproval) -> None:
        self._approvals[approval.id] = ToolCallTrace(agent=approval.agent, step=approval.step, tool=approval.tool,
                                                     arguments=approval.arguments, asked_at=approval.asked_at,
                                                     outcome="waiting", approval=approval.id)
        self._waiting.append(approval.id)

    def decided(self, action: HumanAction) -> None:
        """An accepted approve_tool / deny_tool (its validator let it in: it named a waiting call,
        or there was exactly one)."""
        request = action.args[0] if action.args and isinstance(action.args[0], dict) else {}
        denied = (request.get("reason") or "no reason given") if action.name == "deny_tool" else None
        self._close(request.get("id") or (self._waiting[0] if self._waiting else None),
                    request.get("by") or action.identity, action.at, denied)

    def denied(self, denial: ToolDenial, at: datetime) -> None:
        """A waiting call the run denied itself, at its review deadline."""
        self._close(denial.id, denial.by, at, denial.reason)

    def _close(self, approval_id: str | None, by: str | None, at: datetime, denied: str | None) -> None:
        """A waiting call decided by ``by``: denied (why: ``denied``), else approved, to run."""
        if approval_id not in self._waiting:
            return
        self._waiting.remove(approval_id)
        call = self._approvals[approval_id]
        call.decided_by = by
        if denied is not None:
            call.outcome, call.closed_at, call.reason = "denied", at, denied

    def scheduled(self, event_id: int, activity_id: str, request: ToolCallRequest, at: datetime) -> None:
        asked = self._approvals.get(request.approval or "")
        call = ToolCallTrace(agent=request.agent, step=request.step, tool=request.tool.name, arguments=request.arguments,
                             activity_id=activity_id, asked_at=asked.asked_at if asked else at, approval=request.approval,
                             decided_by=asked.decided_by if asked else None)
        if asked is not None:
            self._approvals[asked.approval or ""] = call  # the approved call, now running
        self.by_event[event_id] = call

    def in_order(self, still_running: bool) -> list[ToolCallTrace]:
        unran = [call for call in self._approvals.values() if call.activity_id is None]
        for call in unran:
            if call.outcome == "waiting" and not still_running:
                call.outcome = "not_run"  # the run went on (a review deadline) or ended without a decision
        every = {id(call): call for call in [*self.by_event.values(), *unran]}
        return sorted(every.values(), key=lambda call: call.asked_at)


def _mark_ignored(actions: list[HumanAction], name: str, reason: str) -> None:
    """The latest signal of that name not yet marked is the one the run ignored."""
    for action in reversed(actions):
        if action.kind == "signal" and action.name == name and action.outcome is None:
            action.outcome = f"ignored: {reason}"
            return


def _named_step(args: list[Any]) -> str | None:
    first = args[0] if args else None
    stage = first.get("stage") if isinstance(first, dict) else None
    return stage if isinstance(stage, str) else None  # a malformed request names no step


def _edges(trace: RunTrace) -> list[Edge]:
    """A call that saw a step's output follows that step (child runs are in ``child_runs``)."""
    seen: dict[tuple[str, str], None] = {}
    for call in trace.calls:
        for source in call.context:
            if source != call.step:
                seen[(source, call.step)] = None
    return [Edge(source=s, target=t) for s, t in seen]


def _taken(edges: list[FlowEdgeTaken]) -> list[Edge]:
    """A flow's edges as taken, each once."""
    return [Edge(source=s, target=t) for s, t in dict.fromkeys((e.source, e.to) for e in edges)]


async def trace_run(client: Client, workflow_id: str, run_id: str | None = None, children: bool = True,
                    max_children: int = 200) -> RunTrace:
    """Fetch a run's history from the server and trace it, with its child runs
    (at most ``max_children`` per run, fetched a few at a time)."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    trace = await build_trace(history, client.data_converter, context_store(client.data_converter))
    if children and trace.child_runs:
        gate = asyncio.Semaphore(8)

        async def child(child_id: str) -> RunTrace:
            async with gate:
                return await trace_run(client, child_id, children=True, max_children=max_children)

        ids = [ref.workflow_id for ref in trace.child_runs[:max_children]]
        trace.children = list(await asyncio.gather(*(child(c) for c in ids)))
        trace.usage = trace.usage + sum((c.usage for c in trace.children), Usage())
    return trace


def history_from_file(text: str, workflow_id: str = "") -> WorkflowHistory:
    """A history exported with ``temporal workflow show --output json`` (or the Web UI's download)."""
    document = json.loads(text)
    if not workflow_id:
        started = document["events"][0].get("workflowExecutionStartedEventAttributes", {})
        workflow_id = started.get("workflowId") or started.get("originalExecutionRunId", "history")
    return WorkflowHistory.from_json(workflow_id, document)
