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
from typing import Any, TypeVar

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
    EditOutputRequest,
    FeedbackRequest,
    ForkSpec,
    LiveAnswer,
    PipelineInput,
    RaiseBudgetRequest,
    RewindRequest,
    RunInput,
    SetAgentRequest,
    SetModelRequest,
    SkipRequest,
    Snapshot,
    SnapshotInfo,
    Status,
    SteerAck,
    Usage,
    ToolDecisionRequest,
    explain,
)
from baton import search
from baton.patterns import Pattern, by_input, find_pattern
from baton.run_diff import RunDiff, StepSide, diff_runs
from baton.snapshots import SnapshotDiff, diff_snapshots, pick_snapshot
from baton.temporal import connect, task_queue
from baton.trace import RunTrace, trace_run

__all__ = [
    "BatonError",
    "approve",
    "approve_tool",
    "cancel",
    "deny_tool",
    "connect",
    "diff",
    "edit_output",
    "feedback",
    "fork",
    "live",
    "parse_input",
    "parse_pipeline_input",
    "pattern_of",
    "pause",
    "raise_budget",
    "result",
    "resume",
    "rewind",
    "set_agent",
    "set_model",
    "skip",
    "source_input",
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
    fork = inp.fork if isinstance(inp, RunInput) else None
    forked = f" (fork of {fork.source} @ {fork.at})" if fork and fork.source else " (seeded)" if fork else ""
    options = dict(id=workflow_id, task_queue=queue or task_queue(), result_type=pattern.result,
                   static_summary=f"{pattern.name}{forked}: {_clip(goal, 120)}",
                   static_details=f"**Goal:** {_clip(goal, 1000)}\n\n{pattern.shape(inp)}"
                   + (f"\n\n**Fork of** {fork.source} at snapshot {fork.at}" if fork and fork.source else ""))
    if isinstance(inp, RunInput):  # the run's agent calls and children inherit it
        options["priority"] = Priority(priority_key=PRIORITY_KEYS[inp.priority])
    pairs = [SearchAttributePair(search.PATTERN, pattern.name)]
    if fork and fork.source:
        pairs.append(SearchAttributePair(search.FORK_OF, fork.source))
    indexed = TypedSearchAttributes(pairs)
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


async def fork(client: Client, source: str, at: int | str, *, set: Mapping[str, str] | None = None,
               agents: Mapping[str, str] | None = None, models: Mapping[str, str] | None = None,
               inp: Contract | None = None, workflow_id: str | None = None, queue: str | None = None,
               source_run_id: str | None = None) -> WorkflowHandle[Any, Any]:
    """Start a NEW run that begins at the source run's snapshot ``at`` (its seq or
    label): the steps whose outputs that snapshot holds take them (no model call, no
    cost); ``set`` gives steps other outputs, ``agents`` / ``models`` other agents or
    models; the rest runs. ``inp``: the new run's input (default: the source's). The
    source is untouched. docs/time-travel.md."""
    pattern = await _forkable(client, source, source_run_id)
    base = inp if inp is not None else await source_input(client, source, source_run_id)
    if not isinstance(base, pattern.input):
        raise BatonError(f"{source!r} is a {pattern.name} run; the fork's input must be a {pattern.name} input")
    labels = await snapshots(client, source) if source_run_id is None else None
    if labels is not None:
        try:
            pick_snapshot(labels, at)
        except ValueError as err:
            raise BatonError(f"cannot fork {source!r}: {err}") from None
    try:
        spec = ForkSpec(source=source, source_run_id=source_run_id, at=at, set=dict(set or {}),
                        agents=dict(agents or {}), models=dict(models or {}))
    except ValidationError as err:
        raise BatonError(f"invalid fork: {explain(err)}") from None
    changes: dict[str, Any] = {"fork": spec}
    if "progress" in type(base).model_fields:  # a flow's continue-as-new state: the fork brings its own
        changes["progress"] = None
    return await start(client, base.model_copy(update=changes), workflow_id=workflow_id, queue=queue)


async def pattern_of(client: Client, workflow_id: str, run_id: str | None = None) -> Pattern:
    """The pattern a run is a run of (BatonError: no such run, or not a Baton pattern's)."""
    described = await _call(client, workflow_id, lambda h: client.get_workflow_handle(workflow_id, run_id=run_id).describe())
    try:
        return find_pattern(described.workflow_type)
    except ValueError:
        raise BatonError(f"{workflow_id!r} is not a Baton run ({described.workflow_type})") from None


async def _forkable(client: Client, source: str, run_id: str | None) -> Pattern:
    pattern = await pattern_of(client, source, run_id)
    if not getattr(pattern.workflow, "time_travel", False):
        raise BatonError(f"a {pattern.name} run cannot be forked; the pipeline, planned DAG and flow can "
                         "(docs/time-travel.md)")
    return pattern


async def source_input(client: Client, workflow_id: str, run_id: str | None = None) -> Contract:
    """The input a run was started with (its first run's, for a run that continued as new: read from its history)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    described = await _call(client, workflow_id, lambda h: handle.describe())
    first_run = client.get_workflow_handle(workflow_id, run_id=described.raw_description.workflow_execution_info
                                           .first_run_id or described.run_id)
    async for event in first_run.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        model = find_pattern(described.workflow_type).input
        try:
            [value] = await client.data_converter.decode(payloads[:1], [model])
        except (ValueError, ValidationError) as err:
            raise BatonError(f"cannot read {workflow_id!r}'s input: {err}") from None
        return value
    raise BatonError(f"{workflow_id!r} has no history")


async def edit_output(client: Client, workflow_id: str, stage: str, text: str, note: str | None = None,
                      rerun: bool = False) -> SteerAck:
    """Replace a finished step's output (``rerun``: what came after it runs again)."""
    request = _request(EditOutputRequest, stage=stage, text=text, note=note, rerun=rerun)
    return await _call(client, workflow_id, lambda h: h.execute_update("edit_output", request, result_type=SteerAck))


async def skip(client: Client, workflow_id: str, stage: str, reason: str, output: str | None = None) -> SteerAck:
    """A step that has not started does not run: it takes ``output``, or none."""
    request = _request(SkipRequest, stage=stage, reason=reason, output=output)
    return await _call(client, workflow_id, lambda h: h.execute_update("skip", request, result_type=SteerAck))


async def set_agent(client: Client, workflow_id: str, stage: str, agent: str) -> SteerAck:
    request = _request(SetAgentRequest, stage=stage, agent=agent)
    return await _call(client, workflow_id, lambda h: h.execute_update("set_agent", request, result_type=SteerAck))


async def set_model(client: Client, workflow_id: str, stage: str, model: str) -> SteerAck:
    request = _request(SetModelRequest, stage=stage, model=model)
    return await _call(client, workflow_id, lambda h: h.execute_update("set_model", request, result_type=SteerAck))


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


async def diff(client: Client, run_a: str, run_b: str) -> RunDiff:
    """Two runs step by step (a fork and its source, two forks): which outputs differ,
    and each step's calls and cost in each run, or where its output came from."""
    async def sides(workflow_id: str) -> tuple[dict[str, StepSide], Usage]:
        outputs = getattr(await result(client, workflow_id), "outputs", {})
        rows = (await status(client, workflow_id)).stages
        calls = (await trace(client, workflow_id, children=False)).calls
        found: dict[str, StepSide] = {}
        for row in rows:
            mine = [c for c in calls if c.step == row.name]
            found[row.name] = StepSide(output=outputs.get(row.name), calls=len(mine), origin=row.origin,
                                       usage=sum((c.usage for c in mine), Usage()))
        for step, text in outputs.items():  # steps without a row (none today), shown all the same
            found.setdefault(step, StepSide(output=text))
        return found, sum((c.usage for c in calls), Usage())

    (sides_a, usage_a), (sides_b, usage_b) = await sides(run_a), await sides(run_b)
    return diff_runs(run_a, run_b, sides_a, sides_b, usage_a, usage_b)


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


C = TypeVar("C", bound=Contract)


def _request(contract: type[C], **fields: Any) -> C:
    """An update's request, or BatonError naming what is wrong with it (nothing is sent)."""
    try:
        return contract(**fields)
    except ValidationError as err:
        raise BatonError(f"invalid request: {explain(err)}") from None


def _reason(err: WorkflowFailureError | WorkflowUpdateFailedError) -> str:
    """The failure's own message (the workflow's, which already names its cause)."""
    cause = err.cause
    return getattr(cause, "message", None) or str(cause)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
