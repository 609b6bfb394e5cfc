"""Baton's Python client: typed async functions over ``temporalio.client.Client``.

Other services import this module to start, steer and inspect runs::

    from baton import client as baton
    temporal = await baton.connect()
    handle = await baton.start_pipeline(temporal, PipelineInput(goal=..., stages=[...]))
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

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from baton.contracts import (
    ApproveRequest,
    FeedbackRequest,
    PipelineInput,
    PipelineResult,
    RewindRequest,
    Status,
    SteerAck,
    explain,
)
from baton.temporal import connect, task_queue

__all__ = [
    "BatonError",
    "approve",
    "cancel",
    "connect",
    "feedback",
    "parse_pipeline_input",
    "pause",
    "result",
    "resume",
    "rewind",
    "start_pipeline",
    "status",
    "wait_result",
]


class BatonError(Exception):
    """A request Baton could not carry out; the message says why."""


def parse_pipeline_input(raw: str | Mapping[str, Any]) -> PipelineInput:
    """Validate pipeline input (JSON text or a mapping) before anything starts."""
    try:
        if isinstance(raw, str):
            return PipelineInput.model_validate_json(raw)
        return PipelineInput.model_validate(raw)
    except ValidationError as err:
        raise BatonError(f"invalid pipeline input: {explain(err)}") from None


async def start_pipeline(
    client: Client, inp: PipelineInput, *, workflow_id: str | None = None, queue: str | None = None
) -> WorkflowHandle[Any, PipelineResult]:
    workflow_id = workflow_id or f"pipeline-{uuid.uuid4().hex[:10]}"
    stages = " → ".join(s.name + (" (review)" if s.review else "") for s in inp.stages)
    try:
        return await client.start_workflow(
            "PipelineWorkflow",
            inp,
            id=workflow_id,
            task_queue=queue or task_queue(),
            result_type=PipelineResult,
            static_summary=f"pipeline: {_clip(inp.goal, 120)}",
            static_details=f"**Goal:** {_clip(inp.goal, 1000)}\n\n**Stages:** {stages}",
        )
    except RPCError as err:
        if err.status == RPCStatusCode.ALREADY_EXISTS:
            raise BatonError(f"a run with id {workflow_id!r} is already running") from None
        raise BatonError(f"cannot start the pipeline: {err.message}") from None


async def pause(client: Client, workflow_id: str) -> None:
    await _call(client, workflow_id, lambda h: h.signal("pause"))


async def resume(client: Client, workflow_id: str) -> None:
    await _call(client, workflow_id, lambda h: h.signal("resume"))


async def approve(client: Client, workflow_id: str, stage: str | None = None) -> None:
    await _call(client, workflow_id, lambda h: h.signal("approve", ApproveRequest(stage=stage)))


async def feedback(client: Client, workflow_id: str, text: str, stage: str | None = None) -> SteerAck:
    request = FeedbackRequest(text=text, stage=stage)
    return await _call(client, workflow_id, lambda h: h.execute_update("feedback", request, result_type=SteerAck))


async def rewind(client: Client, workflow_id: str, stage: str) -> SteerAck:
    request = RewindRequest(stage=stage)
    return await _call(client, workflow_id, lambda h: h.execute_update("rewind", request, result_type=SteerAck))


async def status(client: Client, workflow_id: str) -> Status:
    """The run's status; for a run still going, ``elapsed_seconds`` counts up to now."""
    current: Status = await _call(client, workflow_id, lambda h: h.query("status", result_type=Status))
    if current.state not in ("completed", "failed", "cancelled"):
        current.elapsed_seconds = round((datetime.now(timezone.utc) - current.started_at).total_seconds(), 3)
    return current


async def result(client: Client, workflow_id: str) -> PipelineResult:
    """The outputs so far, without waiting (a query; works on finished runs too)."""
    return await _call(client, workflow_id, lambda h: h.query("result", result_type=PipelineResult))


async def wait_result(client: Client, workflow_id: str) -> PipelineResult:
    """Wait for the run to end; a failed or cancelled run raises BatonError with its reason."""
    try:
        return await _call(client, workflow_id, lambda h: h.result(), result_type=PipelineResult)
    except WorkflowFailureError as err:
        raise BatonError(f"run {workflow_id} did not complete: {_reason(err)}") from None


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
        if err.status == RPCStatusCode.NOT_FOUND:
            raise BatonError(f"no run with id {workflow_id!r} (or it has finished: {err.message})") from None
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
