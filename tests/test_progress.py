"""The watch view's progress line, for step-shaped and item-shaped runs."""

from __future__ import annotations

from datetime import datetime, timezone

from baton.contracts import StageStatus, Status, Usage
from baton.progress import progress, render


def status(**fields) -> Status:
    base = dict(pattern="p", state="running", current_stage=None, running=[], completed_stages=[], elapsed_seconds=1.0,
                started_at=datetime.now(timezone.utc), usage=Usage(), stages=[], awaiting_review=None, error=None, info={})
    return Status(**{**base, **fields})


def test_map_reduce_counts_items_mapped_or_failed():
    assert progress(status(info={"items": 10_000, "mapped": 2_400, "failed": 100})) == "█████░░░░░░░░░░░░░░░ 2500/10000 items"


def test_other_patterns_count_finished_steps():
    rows = [StageStatus(name=n, agent="a", state=s) for n, s in [("a", "done"), ("b", "failed"), ("c", "running"), ("d", "pending")]]
    assert progress(status(stages=rows)).endswith(" 2/4 steps")
    assert progress(status()) == ""


def test_a_waiting_question_is_shown_with_how_to_answer():
    table = render("run-1", status(state="awaiting_review", awaiting_review="ask-1", info={"question": "Which coast?"}))
    assert "question: Which coast?" in table.caption and "starter.py feedback run-1" in table.caption
