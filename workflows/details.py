"""The run's current details for the Temporal Web UI: a markdown table of stages.

It is rendered on every state change, so its cost must not grow with the run:
past ``MAX_ROWS`` steps it shows the counts by state and only the steps that
are running, waiting or failed (a 500-wide fan-out re-rendered 500 rows on each
of its 1,000 changes: 12% of the worker's time in the throughput benchmark)."""

from __future__ import annotations

from baton.contracts import MAX_ROWS, StageStatus, Usage, rows_to_show

STATE_ICONS = {"pending": "⏳", "running": "▶️", "awaiting_review": "✋", "done": "✅"}


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
    lines += [
        "",
        "| stage | agent | state | model | runs | feedback |",
        "|---|---|---|---|---|---|",
    ]
    for s in shown:
        feedback = " / ".join(_cell(text) for text in s.feedback) or "–"
        lines.append(
            f"| {s.name} | {s.agent} | {STATE_ICONS.get(s.state, '')} {s.state} | {s.model or '–'} | {s.runs} | {feedback} |"
        )
    return "\n".join(lines)


def _cell(text: str, limit: int = 80) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
