"""The run's current details for the Temporal Web UI: a markdown table of stages."""

from __future__ import annotations

from baton.contracts import StageStatus, Usage

STATE_ICONS = {"pending": "⏳", "running": "▶️", "awaiting_review": "✋", "done": "✅"}


def render_details(pattern: str, state: str, stages: list[StageStatus], usage: Usage, info: dict | None = None) -> str:
    counts = " · ".join(f"{k} {v}" for k, v in (info or {}).items() if isinstance(v, int | float) or isinstance(v, str) and len(v) <= 40)
    lines = [f"**{pattern}** · {state} · {usage.total_tokens} tokens" + (f" · {counts}" if counts else "")]
    if not stages:
        return lines[0]
    lines += [
        "",
        "| stage | agent | state | model | runs | feedback |",
        "|---|---|---|---|---|---|",
    ]
    for s in stages:
        feedback = " / ".join(_cell(text) for text in s.feedback) or "–"
        lines.append(
            f"| {s.name} | {s.agent} | {STATE_ICONS.get(s.state, '')} {s.state} | {s.model or '–'} | {s.runs} | {feedback} |"
        )
    return "\n".join(lines)


def _cell(text: str, limit: int = 80) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
