"""Code functions the tool tests give agents (registered as a worker registers
BATON_CODE modules). Calls are counted in the file BATON_TOOL_LOG names, when set,
so a test can count executions across worker processes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from baton.code import function

FLAKY_FAILURES = 1  # flaky_lookup fails this many times per topic, then answers
_failures: dict[str, int] = {}


def _log(line: str) -> None:
    path = os.environ.get("BATON_TOOL_LOG")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(line + "\n")


@function(retries=3)
def flaky_lookup(topic: str) -> str:
    """Look a topic up in a source that fails once, then answers."""
    _log(f"flaky_lookup {topic}")
    if _failures.get(topic, 0) < FLAKY_FAILURES:
        _failures[topic] = _failures.get(topic, 0) + 1
        raise ConnectionError(f"source unreachable for {topic}")
    return f"facts about {topic}"


@function(retries=1)
def broken_lookup(topic: str) -> str:
    """A lookup whose source is gone for good."""
    raise ConnectionError("source gone")


@function(timeout_seconds=30)
async def slow_step(n: int, seconds: float = 1.0) -> str:
    """Wait, then answer (the crash test kills the worker while one runs)."""
    _log(f"slow_step {n} started")
    await asyncio.sleep(seconds)
    _log(f"slow_step {n} done")
    return f"step {n} done"
