"""Server-sent events read from a response's lines (the WHATWG event-stream
format): how an OpenAI-compatible endpoint streams its answer.

Baton reads the events itself instead of through the ``openai`` client's
stream, which builds a pydantic object per piece of answer: a 155-word answer
cost 45 ms of the worker's CPU that way and 11-13 ms this way (BENCHMARKS.md,
"What the profile showed")."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass
class Event:
    data: str
    name: str | None = None  # the ``event:`` field; OpenAI's chat streams send none


async def events(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """Each event as its blank line ends it (the last one also when the stream just
    stops); ``data:`` lines of one event joined by newlines, comments skipped."""
    data: list[str] = []
    name: str | None = None
    async for line in lines:
        if not line:
            if data:
                yield Event("\n".join(data), name)
            data, name = [], None
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        # ``id``, ``retry`` and comments (``: keep-alive``) mean nothing to one answer.
    if data:
        yield Event("\n".join(data), name)
