"""Code functions and an output schema the example flows use. A worker loads
them with ``BATON_CODE=examples.flows.functions`` (the suite loads them too).

``search`` looks through a small built-in library of notes: it needs no
network, so the cascade example runs anywhere; swap in your own search."""

from __future__ import annotations

from pydantic import BaseModel, Field

from baton.code import function

LIBRARY = {
    "spring tides": "Spring tides come at new and full moon, when sun and moon pull in line: the highest highs.",
    "neap tides": "Neap tides come at the quarter moons, when sun and moon pull at right angles: the smallest range.",
    "tide tables": "Tide tables give the times and heights of high and low water for one port, usually a year ahead.",
    "rule of twelfths": "The rule of twelfths: the tide rises 1, 2, 3, 3, 2, 1 twelfths of its range in its six hours.",
    "tidal streams": "Tidal streams run fastest midway between high and low water, and slack near the turn.",
}


class Hit(BaseModel):
    topic: str
    note: str


class Hits(BaseModel):
    query: str
    hits: list[Hit]


class Answer(BaseModel):
    """A synthesized answer with how sure its writer is (the cascade's last agent)."""

    answer: str
    confidence: float = Field(ge=0.0, le=1.0, description="How sure you are the answer is right, 0 to 1")


@function(timeout_seconds=10, retries=3)
def search(query: str, limit: int = 3) -> Hits:
    """Find notes in the library sharing words with the query, best first."""
    words = {w.strip(".,?!").lower() for w in query.split() if len(w) > 3}
    scored = sorted(((sum(w in (topic + " " + note).lower() for w in words), topic, note)
                     for topic, note in LIBRARY.items()), reverse=True)
    return Hits(query=query, hits=[Hit(topic=t, note=n) for score, t, n in scored[:limit] if score > 0])
