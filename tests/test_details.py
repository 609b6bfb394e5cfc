"""The Web UI's current details: every step for small runs, counts and the
notable steps for large ones (its cost must not grow with the run)."""

from __future__ import annotations

from baton.contracts import MAX_ROWS, StageStatus, Usage
from baton.workflows.details import render_details


def rows(states: list[str]) -> list[StageStatus]:
    return [StageStatus(name=f"t{i}", agent="writer", state=state) for i, state in enumerate(states)]


def test_small_runs_show_every_step():
    text = render_details("pipeline", "running", rows(["done", "running", "pending"]), Usage(), {"route": "writer"})
    assert text.startswith("**pipeline** · running · 0 tokens · route writer")
    assert "- ✅ **t0** · writer · done" in text.splitlines() and "- ⏳ **t2** · writer · pending" in text.splitlines()


def test_each_field_stands_apart_and_markdown_in_text_shows_as_typed():
    """A table's cells ran together in the Web UI ("researchresearcher", "smollm21")."""
    row = StageStatus(name="draft_2", agent="writer", state="awaiting_review", model="smollm2", runs=2,
                      feedback=["Use a *beach* | analogy"], error=None)
    line = render_details("pipeline", "awaiting_review", [row], Usage()).splitlines()[-1]
    assert line == r"- ✋ **draft\_2** · writer · awaiting_review · smollm2 · 2 runs · feedback: Use a \*beach\* \| analogy"


def test_large_runs_show_counts_and_only_notable_steps():
    states = ["done"] * 400 + ["running"] * 20 + ["failed"] * 2 + ["pending"] * 78
    text = render_details("fan-out", "running", rows(states), Usage())
    assert "✅ done 400 · ▶️ running 20 · ❌ failed 2 · ⏳ pending 78 (of 500)" in text  # in order of first appearance
    table_rows = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(table_rows) == 22 and all("done" not in r and "pending" not in r for r in table_rows)


def test_large_runs_cap_the_table():
    text = render_details("fan-out", "running", rows(["running"] * 100), Usage())
    assert sum(1 for line in text.splitlines() if line.startswith("- ")) == MAX_ROWS
