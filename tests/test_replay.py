"""Recorded histories of every pattern replay against the current workflow code:
a change that breaks determinism for runs already open fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from baton.patterns import PATTERNS
from worker import workflow_runner
from workflows import ALL_WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_pattern_has_a_recorded_history():
    recorded = {WorkflowHistory.from_json(p.stem, p.read_text()).events[0]
                .workflow_execution_started_event_attributes.workflow_type.name for p in HISTORIES}
    assert {p.workflow_type for p in PATTERNS} <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # the recorder used the file name as the id
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
