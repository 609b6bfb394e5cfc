"""The contracts other languages read: `python starter.py schema` and
docs/schemas/, generated from the workflow classes and kept current."""

from __future__ import annotations

import json

import pytest

from baton import cli as starter
from baton.contract_schemas import SCHEMA_DIR, all_schemas, render
from baton.patterns import all_patterns


@pytest.mark.parametrize("name", [p.name for p in all_patterns() if p.built_in])
def test_docs_schemas_match_the_code(name):
    """A change to a contract or a handler changes its file: run
    `python -m baton.contract_schemas --write` and commit the result."""
    assert (SCHEMA_DIR / f"{name}.json").read_text() == render(all_schemas()[name])


def test_every_handler_a_client_may_call_is_described():
    pipeline = all_schemas()["pipeline"]
    assert pipeline["input"]["required"] == ["goal", "stages"]
    assert set(pipeline["signals"]) == {"pause", "resume", "approve"}
    assert set(pipeline["updates"]) == {"approve", "feedback", "rewind", "raise_budget", "approve_tool", "deny_tool",
                                        "edit_output", "skip", "set_agent", "set_model"}
    assert "edit_output" not in all_schemas()["fan-out"]["updates"]  # refused there: not offered
    assert set(pipeline["input"]["$defs"]["ForkSpec"]["properties"]) == {
        "source", "source_run_id", "at", "set", "agents", "models"}
    assert set(pipeline["queries"]) == {"status", "result", "snapshots", "snapshot"}
    # The approve signal reads its payload itself: it is still described as ApproveRequest.
    assert set(pipeline["signals"]["approve"]["payload"]["properties"]) == {"stage", "run"}
    assert pipeline["updates"]["feedback"]["answer"]["title"] == "SteerAck"
    assert "ignored_signals" in pipeline["queries"]["status"]["answer"]["properties"]
    assert pipeline["queries"]["snapshot"]["payload"] == {"type": "integer"}
    assert "InvalidInput" in pipeline["error_types"]


def test_the_schema_command_prints_one_pattern_or_all(capsys):
    assert starter.main(["schema", "fan-out"]) == 0
    assert json.loads(capsys.readouterr().out) == all_schemas()["fan-out"]
    assert starter.main(["schema"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {p.name for p in all_patterns()}
    assert starter.main(["schema", "fan-in"]) == 2
    assert "unknown pattern 'fan-in'" in capsys.readouterr().out
