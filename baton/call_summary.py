"""An agent call's summary, the line the Web UI shows for it (the activity's user
metadata): who, which step, which fallback. A short agent's call is a local
activity, whose input the history does not keep, so its summary also names the
model asked, and the trace reads the call back from it here. Agent and step
names match ``NAME_PATTERN`` (no spaces): the separator is unambiguous."""

from __future__ import annotations

from typing import NamedTuple

SEPARATOR = " · "


class SummarizedCall(NamedTuple):
    agent: str
    step: str
    model: str | None  # named in short calls' summaries
    fallback: bool


def call_summary(agent: str, step: str, model: str, fallback_for: str | None, fallback_model: bool,
                 short: bool = False) -> str:
    """``agent · step``, a short call's ``· model MODEL``, then ``· fallback for AGENT``
    (a fallback agent's call) or ``· fallback MODEL`` (a fallback model's)."""
    parts = [agent, step, *([f"model {model}"] if short else [])]
    if fallback_for:
        parts.append(f"fallback for {fallback_for}")
    elif fallback_model:
        parts.append(f"fallback {model}")
    return SEPARATOR.join(parts)


def read_summary(summary: str) -> SummarizedCall | None:
    """The call a summary describes; None: not one of ours."""
    parts = summary.split(SEPARATOR)
    if len(parts) < 2:
        return None
    model = next((part.removeprefix("model ") for part in parts[2:] if part.startswith("model ")), None)
    return SummarizedCall(parts[0], parts[1], model, any(part.startswith("fallback") for part in parts[2:]))
