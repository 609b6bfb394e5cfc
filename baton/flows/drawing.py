"""A flow drawn as a Mermaid flowchart: its graph before it runs, or the path a
run took over it (edges taken drawn thick, with how often)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from baton.contracts import EdgeTaken, FlowInput

SHAPES = {"agent": ("[", "]"), "code": ("[[", "]]"), "human": ("{{", "}}"), "pattern": ("[/", "/]"), "map": ("[(", ")]")}


def _text(text: str) -> str:
    return '"' + text.replace('"', "'").replace("\n", " ")[:80] + '"'


def _what(node) -> str:
    if node.kind == "agent":
        return f"{node.id} · {node.agent}"
    if node.kind == "code":
        return f"{node.id} · {node.function}()"
    if node.kind == "map":
        return f"{node.id} · each of {node.over}"
    if node.kind == "pattern":
        return f"{node.id} · {node.pattern}"
    return f"{node.id} · person"


def draw(inp: FlowInput, taken: Iterable[EdgeTaken] | None = None) -> str:
    """The flowchart; with ``taken``, the path a run took is drawn over it."""
    counts = Counter((e.source, e.to, e.label, e.when, e.on) for e in taken or [])
    visited = {e.source for e in taken or []} | {e.to for e in taken or []}
    lines = ["flowchart TD"]
    for node in inp.nodes:
        left, right = SHAPES[node.kind]
        bound = f" ≤{node.max_visits}×" if node.max_visits else ""
        lines.append(f"    {node.id}{left}{_text(_what(node) + bound)}{right}")
    styles: list[str] = []
    for n, edge in enumerate(inp.edges):
        words = [w for w in (edge.label, edge.when, "on failure" if edge.on == "failure" else None) if w]
        times = counts.get((edge.source, edge.to, edge.label, edge.when, edge.on), 0)
        if times > 1:
            words.append(f"×{times}")
        arrow = "==>" if times else ("-.->" if edge.on == "failure" else "-->")
        lines.append(f"    {edge.source} {arrow}" + (f"|{_text(' · '.join(words))}|" if words else "") + f" {edge.to}")
    for node in inp.nodes:
        if node.max_visits and node.on_max_visits:
            lines.append(f"    {node.id} -.->|{_text(f'after {node.max_visits} visits')}| {node.on_max_visits}")
    if taken is not None:
        styles += [f"    style {n} stroke-width:3px" for n in [inp.start, *sorted(visited)] if n]
        lines.append("    classDef notrun opacity:0.5")
        idle = [node.id for node in inp.nodes if node.id not in visited and node.id != inp.start]
        if idle:
            lines.append(f"    class {','.join(idle)} notrun")
    return "\n".join(dict.fromkeys(lines + styles))
