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


def test_title_shows_tokens_and_cost_and_wide_runs_show_only_notable_rows():
    rows = [StageStatus(name=f"t{i}", agent="a", state="done") for i in range(100)]
    rows[42].state, rows[77].state = "running", "failed"
    table = render("run-1", status(stages=rows, usage=Usage(total_tokens=1200, cost_usd=0.0042)))
    assert "1200 tokens · $0.0042" in table.title and "99/100 steps" in table.title
    assert table.row_count == 2 and "98 more steps not shown" in table.caption
