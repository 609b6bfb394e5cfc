"""Recorded histories of every pattern replay against the current workflow code:
a change that breaks determinism for runs already open fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from baton import cli as starter
from baton.patterns import all_patterns
from baton.sandbox import workflow_runner
from baton.workflows.runtime.result_size import ResultSizeGuard
from baton.patterns import workflow_classes

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_pattern_has_a_recorded_history():
    recorded = {WorkflowHistory.from_json(p.stem, p.read_text()).events[0]
                .workflow_execution_started_event_attributes.workflow_type.name for p in HISTORIES}
    assert {p.workflow_type for p in all_patterns()} <= recorded


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # the recorder used the file name as the id
    # As the worker runs them, then strictly: the pattern's module imported afresh under
    # the sandbox's restrictions, which the worker skips (baton/sandbox.py).
    for runner in (workflow_runner(), workflow_runner(strict=True)):
        replayer = Replayer(workflows=workflow_classes(), data_converter=pydantic_data_converter, workflow_runner=runner,
                            interceptors=[ResultSizeGuard()])
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_replay_command_names_the_run_the_code_no_longer_matches(tmp_path, capsys):
    good = HISTORIES[0]
    # The same run, as if an agent call of the past had been another activity: the
    # current code would schedule run_agent where the history says otherwise.
    document = json.loads(good.read_text())
    scheduled = next(e for e in document["events"] if "activityTaskScheduledEventAttributes" in e)
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "old_agent_activity"
    started = document["events"][0]["workflowExecutionStartedEventAttributes"]
    started["originalExecutionRunId"] = started["firstExecutionRunId"] = "0badc0de-0000-0000-0000-000000000000"
    bad = tmp_path / "changed.json"
    bad.write_text(json.dumps(document))

    assert starter.main(["replay", "--file", str(good), str(bad)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"{good} (run " in out and "ok" in out
    assert f"{bad} (run 0badc0de) NON-DETERMINISTIC [TMPRL1100] Nondeterminism error: Activity type" in out
    assert "old_agent_activity" in out
    assert "2 runs replayed against the current code, 1 failed" in out


def test_a_run_of_a_workflow_type_not_registered_is_named_not_called_non_deterministic(tmp_path, capsys):
    # A pattern of one's own replayed without its module loaded (BATON_PATTERNS unset).
    document = json.loads(HISTORIES[0].read_text())
    started = document["events"][0]["workflowExecutionStartedEventAttributes"]
    started["workflowType"]["name"] = "OwnPatternWorkflow"
    own = tmp_path / "own.json"
    own.write_text(json.dumps(document))
    assert starter.main(["replay", "--file", str(own)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "NOT REPLAYED workflow type 'OwnPatternWorkflow' is not registered here" in out and "BATON_PATTERNS" in out
    assert "Nondeterminism" not in out
