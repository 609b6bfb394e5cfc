"""Replay recorded runs against the current workflow code: the check before a
deploy that no open run would meet a non-determinism error on the new code.

Histories come from the server (a visibility query, newest first) or from files
exported with ``temporal workflow show --output json``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import _Definition

from baton.patterns import runs_query
from baton.temporal import data_converter


@dataclass
class Replayed:
    workflow_id: str
    run_id: str
    error: str | None  # None: the current code makes the same decisions
    replayed: bool = True  # False: the code here has no workflow of its type (error says so)


async def replay(histories: AsyncIterator[WorkflowHistory]) -> list[Replayed]:
    # Imported here: the workflows (and the sandbox runner) are only needed to replay.
    from baton.sandbox import workflow_runner
    from baton.workflows.runtime.result_size import ResultSizeGuard
    from baton.patterns import workflow_classes

    seen: list[WorkflowHistory] = []
    registered = {d.name for d in map(_Definition.from_class, workflow_classes()) if d is not None and d.name}
    unknown: dict[str, str] = {}  # run id -> why it was not replayed

    async def recorded() -> AsyncIterator[WorkflowHistory]:
        async for history in histories:
            seen.append(history)
            workflow_type = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
            if workflow_type not in registered:  # replaying it would report a misleading non-determinism
                unknown[history.run_id] = (f"workflow type {workflow_type!r} is not registered here: a pattern of "
                                           "your own? name its module in BATON_PATTERNS (docs/authoring.md)")
                continue
            yield history

    # The process's converter: encrypted histories replay with BATON_CODEC_KEYS set.
    replayer = Replayer(workflows=workflow_classes(), data_converter=data_converter(), workflow_runner=workflow_runner(),
                        interceptors=[ResultSizeGuard()])  # as the worker runs them
    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    return [Replayed(h.workflow_id, h.run_id, unknown[h.run_id], replayed=False) if h.run_id in unknown
            else Replayed(h.workflow_id, h.run_id, _message(results.replay_failures.get(h.run_id))) for h in seen]


def _message(err: Exception | None) -> str | None:
    if err is None:
        return None
    text = " ".join(str(err).split())
    # The core reports a Rust debug dump; its message field is the part a person needs.
    found = re.search(r'message: "(.*?)", source', text)
    return (found.group(1) if found else text)[:500]


async def from_server(client: Client, query: str | None, limit: int) -> AsyncIterator[WorkflowHistory]:
    async for history in client.list_workflows(query or runs_query(), limit=limit).map_histories():
        yield history


async def from_files(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history
