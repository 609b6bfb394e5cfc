"""Baton's Python client: typed async functions over ``temporalio.client.Client``.

Other services import this module to start, steer and inspect runs::

    from baton import client as baton
    temporal = await baton.connect()
    handle = await baton.start(temporal, PipelineInput(goal=..., stages=[...]))  # any pattern's input
    await baton.approve(temporal, handle.id, stage="draft")
    print((await baton.status(temporal, handle.id)).state)

Every failure a caller can cause (a run that does not exist, a rejected update,
a finished run) is raised as ``BatonError`` with a message naming the problem.
Signals and updates are addressed by name, so they work on every pattern.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from baton.contracts import (
    PRIORITY_KEYS,
    AnswerRequest,
    ApproveRequest,
    Contract,
    FlowInput,
    FeedbackRequest,
    LiveAnswer,
    PipelineInput,
    RaiseBudgetRequest,
    RewindRequest,
    RunInput,
    Snapshot,
    SnapshotInfo,
    Status,
    SteerAck,
    ToolDecisionRequest,
    explain,
)
from baton import search
from baton.patterns import by_input, find_pattern
from baton.snapshots import SnapshotDiff, diff_snapshots
from baton.temporal import connect, task_queue
from baton.trace import RunTrace, trace_run

__all__ = [
    "BatonError",
    "approve",
    "approve_tool",
    "cancel",
    "deny_tool",
    "connect",
    "feedback",
    "live",
    "parse_input",
    "parse_pipeline_input",
    "pause",
    "raise_budget",
    "result",
    "resume",
    "rewind",
    "start",
    "start_pipeline",
    "snapshot",
    "snapshots",
    "snapshots_diff",
    "status",
    "trace",
    "wait_result",
]


log = structlog.get_logger("baton.client")


class BatonError(Exception):
    """A request Baton could not carry out; the message says why."""


def parse_input(pattern: str, raw: str | Mapping[str, Any]) -> Contract:
    """Validate a pattern's input (JSON text or a mapping) before anything starts.
    ``pattern``: a short name (``fan-out``) or a workflow type (``FanOutWorkflow``)."""
    try:
        model = find_pattern(pattern).input
    except ValueError as err:
        raise BatonError(str(err)) from None
    try:
        return model.model_validate_json(raw) if isinstance(raw, str) else model.model_validate(raw)
    except ValidationError as err:
        raise BatonError(f"invalid {pattern} input: {explain(err)}") from None


def parse_pipeline_input(raw: str | Mapping[str, Any]) -> PipelineInput:
    return parse_input("pipeline", raw)  # type: ignore[return-value]


async def start(
    client: Client, inp: Contract, *, workflow_id: str | None = None, queue: str | None = None
) -> WorkflowHandle[Any, Any]:
    """Start the pattern whose input ``inp`` is; the Web UI shows its goal and shape.
    A flow with problems (docs/flows.md) is refused before anything starts."""
    pattern = by_input(type(inp))
    if isinstance(inp, FlowInput):
        check_flow(inp)
    workflow_id = workflow_id or f"{pattern.name}-{uuid.uuid4().hex[:10]}"
    goal = pattern.goal(inp)
    options = dict(id=workflow_id, task_queue=queue or task_queue(), result_type=pattern.result,
                   static_summary=f"{pattern.name}: {_clip(goal, 120)}",
                   static_details=f"**Goal:** {_clip(goal, 1000)}\n\n{pattern.shape(inp)}")
    if isinstance(inp, RunInput):  # the run's agent calls and children inherit it
        options["priority"] = Priority(priority_key=PRIORITY_KEYS[inp.priority])
    indexed = TypedSearchAttributes([SearchAttributePair(search.PATTERN, pattern.name)])
    try:
        try:
            return await client.start_workflow(pattern.workflow_type, inp, search_attributes=indexed, **options)
        except RPCError as err:
            if err.status != RPCStatusCode.INVALID_ARGUMENT or "search attribute" not in err.message.lower():
                raise
            # A cluster without Baton's search attributes: the run works, unindexed.
            log.warning("search attributes not registered; starting without them (docs/observability.md)",
                        error=err.message)
            return await client.start_workflow(pattern.workflow_type, inp, **options)
    except WorkflowAlreadyStartedError:
        raise BatonError(f"a run with id {workflow_id!r} is already running") from None
    except RPCError as err:
        raise BatonError(f"cannot start the {pattern.name}: {err.message}") from None


start_pipeline = start  # the name the first release had


def check_flow(inp: FlowInput) -> None:
    """Refuse a flow with problems (BatonError, one line each), checked against what
    this machine knows (``baton.flows.local``); the run checks the rest."""
    from baton.flows.local import local_problems

    if found := local_problems(inp):
        raise BatonError("the flow cannot run:\n" + "\n".join(f"- {p}" for p in found))


async def pause(client: Client, workflow_id: str) -> None:
    await _call(client, workflow_id, lambda h: h.signal("pause"))


async def resume(client: Client, workflow_id: str) -> None:
    await _call(client, workflow_id, lambda h: h.signal("resume"))


async def live(client: Client, workflow_id: str) -> list[LiveAnswer]:
    """The agent calls in flight and what each has written so far (from their
    heartbeat details: a few seconds behind, no history events)."""
    description = await _call(client, workflow_id, lambda h: h.describe())
    answers = []
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name != "run_agent" or not pending.heartbeat_details.payloads:
            continue
        try:
            [details] = await client.data_converter.decode(pending.heartbeat_details.payloads, [LiveAnswer])
        except ValueError:  # a worker from before live answers heartbeats a plain count
            continue
        answers.append(details)
    return answers


async def approve(client: Client, workflow_id: str, stage: str | None = None, run: int | None = None) -> SteerAck:
    """Approve the stage awaiting review (``run``: only that run of it) through the
    ``approve`` update: an approval that fits nothing raises BatonError saying why."""
    request = ApproveRequest(stage=stage, run=run)
    return await _call(client, workflow_id, lambda h: h.execute_update("approve", request, result_type=SteerAck))


async def feedback(client: Client, workflow_id: str, text: str, stage: str | None = None) -> SteerAck:
    request = FeedbackRequest(text=text, stage=stage)
    return await _call(client, workflow_id, lambda h: h.execute_update("feedback", request, result_type=SteerAck))


async def rewind(client: Client, workflow_id: str, stage: str) -> SteerAck:
    request = RewindRequest(stage=stage)
    return await _call(client, workflow_id, lambda h: h.execute_update("rewind", request, result_type=SteerAck))


async def answer(client: Client, workflow_id: str, text: str, node: str | None = None, label: str | None = None) -> SteerAck:
    """Answer a flow's human node (``label``: which of its labelled edges to take)."""
    request = AnswerRequest(node=node, text=text, label=label)
    return await _call(client, workflow_id, lambda h: h.execute_update("answer", request, result_type=SteerAck))


async def approve_tool(client: Client, workflow_id: str, call: str | None = None, by: str | None = None) -> SteerAck:
    """Let a tool call waiting for a person run (``call``: its id in status.tool_approvals;
    default the only one waiting)."""
    request = ToolDecisionRequest(id=call, by=by)
    return await _call(client, workflow_id, lambda h: h.execute_update("approve_tool", request, result_type=SteerAck))


async def deny_tool(client: Client, workflow_id: str, reason: str, call: str | None = None, by: str | None = None) -> SteerAck:
    """Refuse a waiting tool call; the model gets ``reason`` as the tool's result."""
    request = ToolDecisionRequest(id=call, reason=reason, by=by)
    return await _call(client, workflow_id, lambda h: h.execute_update("deny_tool", request, result_type=SteerAck))


async def raise_budget(client: Client, workflow_id: str, max_tokens_total: int | None = None,
                       max_cost_usd: float | None = None) -> SteerAck:
    """Give a run waiting at its budget (``on_budget: wait``) more tokens or dollars."""
    request = RaiseBudgetRequest(max_tokens_total=max_tokens_total, max_cost_usd=max_cost_usd)
    return await _call(client, workflow_id, lambda h: h.execute_update("raise_budget", request, result_type=SteerAck))


async def status(client: Client, workflow_id: str) -> Status:
    """The run's status; for a run still going, ``elapsed_seconds`` counts up to now."""
    current: Status = await _call(client, workflow_id, lambda h: h.query("status", result_type=Status))
    if current.state not in ("completed", "failed", "cancelled"):
        current.elapsed_seconds = round((datetime.now(timezone.utc) - current.started_at).total_seconds(), 3)
    return current


async def result(client: Client, workflow_id: str) -> Any:
    """The results so far, without waiting (a query; works on finished runs too),
    as the run's pattern's result contract."""
    result_type = await _result_type(client, workflow_id)
    return await _call(client, workflow_id, lambda h: h.query("result", result_type=result_type))


async def wait_result(client: Client, workflow_id: str) -> Any:
    """Wait for the run to end; a failed or cancelled run raises BatonError with its reason."""
    result_type = await _result_type(client, workflow_id)
    try:
        return await _call(client, workflow_id, lambda h: h.result(), result_type=result_type)
    except WorkflowFailureError as err:
        raise BatonError(f"run {workflow_id} did not complete: {_reason(err)}") from None


async def _result_type(client: Client, workflow_id: str) -> type | None:
    described = await _call(client, workflow_id, lambda h: h.describe())
    try:
        return find_pattern(described.workflow_type).result
    except ValueError:
        return None  # not a Baton pattern: plain JSON


async def snapshots(client: Client, workflow_id: str) -> list[SnapshotInfo]:
    """The checkpoints the run took, before and after each step, in order."""
    return await _call(client, workflow_id, lambda h: h.query("snapshots", result_type=list[SnapshotInfo]))


async def snapshot(client: Client, workflow_id: str, seq: int) -> Snapshot:
    return await _call(client, workflow_id, lambda h: h.query("snapshot", seq, result_type=Snapshot))


async def snapshots_diff(client: Client, workflow_id: str, a: int, b: int) -> SnapshotDiff:
    """What changed in the run's outputs and feedback from checkpoint ``a`` to ``b``."""
    return diff_snapshots(await snapshot(client, workflow_id, a), await snapshot(client, workflow_id, b))


async def trace(client: Client, workflow_id: str, children: bool = True) -> RunTrace:
    """The run's trace from its history (finished, failed or still running), with its
    child runs'; render it with ``baton.trace_render.render``."""
    return await _call(client, workflow_id, lambda h: trace_run(client, workflow_id, h.run_id, children=children))


async def cancel(client: Client, workflow_id: str) -> None:
    await _call(client, workflow_id, lambda h: h.cancel())


async def _call(client: Client, workflow_id: str, action, result_type: type | None = None):
    handle = client.get_workflow_handle(workflow_id, result_type=result_type)
    try:
        return await action(handle)
    except WorkflowUpdateFailedError as err:
        raise BatonError(f"rejected: {_reason(err)}") from None
    except WorkflowQueryFailedError as err:
        raise BatonError(f"query failed on {workflow_id}: {err.message}") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND and "already completed" in err.message:
            raise BatonError(f"run {workflow_id!r} has finished; it can no longer be steered") from None
        if err.status == RPCStatusCode.NOT_FOUND:
            raise BatonError(f"no run with id {workflow_id!r} ({err.message})") from None
        if err.status == RPCStatusCode.FAILED_PRECONDITION:
            raise BatonError(f"run {workflow_id} cannot take this: {err.message}") from None
        raise BatonError(f"Temporal rejected the request for {workflow_id}: {err.message}") from None


def _reason(err: WorkflowFailureError | WorkflowUpdateFailedError) -> str:
    """The failure's own message (the workflow's, which already names its cause)."""
    cause = err.cause
    return getattr(cause, "message", None) or str(cause)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
