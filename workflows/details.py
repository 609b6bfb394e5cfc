"""The run's current details for the Temporal Web UI: a markdown list of stages,
one line each with its fields separated by " · " (the Web UI draws a markdown
table without cell padding, so a table's cells ran together: "researchresearcher").

It is rendered on every state change, so its cost must not grow with the run:
past ``MAX_ROWS`` steps it shows the counts by state and only the steps that
are running, waiting or failed (a 500-wide fan-out re-rendered 500 rows on each
of its 1,000 changes: 12% of the worker's time in the throughput benchmark)."""

from __future__ import annotations

from baton.contracts import MAX_ROWS, StageStatus, Usage, breaker_waited, rows_to_show

STATE_ICONS = {"pending": "⏳", "running": "▶️", "awaiting_review": "✋", "done": "✅", "failed": "❌", "skipped": "⏭️"}


def render_details(pattern: str, state: str, stages: list[StageStatus], usage: Usage, info: dict | None = None) -> str:
    counts = " · ".join(f"{k} {v}" for k, v in (info or {}).items() if isinstance(v, int | float) or isinstance(v, str) and len(v) <= 40)
    cost = f" · ${usage.cost_usd:.4f}" if usage.cost_usd else ""
    lines = [f"**{pattern}** · {state} · {usage.total_tokens} tokens{cost}" + (f" · {counts}" if counts else "")]
    if not stages:
        return lines[0]
    shown = rows_to_show(stages)
    if len(stages) > MAX_ROWS:
        by_state: dict[str, int] = {}
        for s in stages:
            by_state[s.state] = by_state.get(s.state, 0) + 1
        lines.append("\n" + " · ".join(f"{STATE_ICONS.get(k, '')} {k} {n}" for k, n in by_state.items()) + f" (of {len(stages)})")
        if not shown:
            return "\n".join(lines)
    lines.append("")
    lines += [step_line(s) for s in shown]
    return "\n".join(lines)


def step_line(s: StageStatus) -> str:
    """``- ✅ **draft** · writer · done · gpt-4o-mini · 2 runs · feedback: …``"""
    fields = [f"- {STATE_ICONS[s.state]} **{_plain(s.name)}**", _plain(s.agent), s.state]
    if s.model:
        fields.append(_plain(s.model))
    if s.runs:
        fields.append(f"{s.runs} run" + ("" if s.runs == 1 else "s"))
    if s.origin:
        fields.append(s.origin)
    if s.override:
        fields.append("chosen: " + _plain(s.override, 80))
    if s.feedback:
        fields.append("feedback: " + " / ".join(_plain(text, 80) for text in s.feedback))
    if s.truncated:
        fields.append("cut at max_tokens")
    if s.breaker_wait_seconds:
        fields.append(breaker_waited(s.breaker_wait_seconds))
    if s.error:
        fields.append("error: " + _plain(s.error, 120))
    return " · ".join(fields)


def _plain(text: str, limit: int = 200) -> str:
    """One line of text that markdown shows as typed."""
    text = " ".join(text.split())
    text = "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
