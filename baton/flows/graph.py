"""A flow's graph, analysed once: which edges go back (loops), what each node
reaches, which labels a node chooses among, and the shape of each node's output.

An edge goes *back* when it returns to a node on the path from the start to its
source (found depth-first from the start, in the order edges are listed); every
other edge goes *forward*, and forward edges never form a cycle. Joins wait on
forward edges only; a back edge runs its target again (a loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from baton.contracts import FlowEdge, FlowInput

ELSE = "else"
CHOOSERS = ("agent", "human")  # kinds whose labelled edges out are a choice they make


@dataclass
class FlowGraph:
    nodes: dict[str, Any]  # id -> AgentNode | CodeNode | …, in the flow's order
    edges: list[FlowEdge]
    start: str
    back: set[int] = field(default_factory=set)  # indexes of back edges
    out: dict[str, list[int]] = field(default_factory=dict)
    forward_in: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, inp: FlowInput) -> FlowGraph:
        """The graph of a flow whose nodes and edges name each other (see ``problems``)."""
        graph = cls(nodes={n.id: n for n in inp.nodes}, edges=list(inp.edges), start=inp.start)
        graph.out = {n: [i for i, e in enumerate(graph.edges) if e.source == n] for n in graph.nodes}
        graph.back = _back_edges(graph)
        graph.forward_in = {n: [i for i, e in enumerate(graph.edges) if e.to == n and i not in graph.back]
                            for n in graph.nodes}
        return graph

    def reach(self, node: str) -> list[str]:
        """``node`` and every node forward edges lead to from it, in the flow's order."""
        found = _closure(node, lambda n: [self.edges[i].to for i in self.out[n] if i not in self.back])
        return [n for n in self.nodes if n in found]

    def labels(self, node: str) -> list[str]:
        """The labels a node chooses among (an agent or a person), in order; [] when it chooses none."""
        if self.nodes[node].kind not in CHOOSERS:
            return []
        found = [self.edges[i].label for i in self.out[node] if self.edges[i].on == "done" and self.edges[i].label]
        return list(dict.fromkeys(found))


def _back_edges(graph: FlowGraph) -> set[int]:
    back: set[int] = set()
    on_path: set[str] = set()
    seen: set[str] = set()

    def visit(node: str) -> None:  # recursion depth is bounded by the node count (≤ 200)
        seen.add(node)
        on_path.add(node)
        for i in graph.out[node]:
            target = graph.edges[i].to
            if target in on_path:
                back.add(i)
            elif target not in seen:
                visit(target)
        on_path.discard(node)

    visit(graph.start)
    # Edges among nodes the start never reaches are reported as problems; call them forward.
    return back


def unbounded_cycle(graph: FlowGraph) -> list[str] | None:
    """A cycle through no node with ``max_visits`` (its nodes, first one repeated), or None."""
    free = {n for n, node in graph.nodes.items() if node.max_visits is None}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for i in graph.out[node]:
            target = graph.edges[i].to
            if target not in free:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph.nodes:
        if node in free and node not in state and (found := visit(node)):
            return found
    return None


def reachable(graph: FlowGraph) -> set[str]:
    """The nodes the run can get to from the start: by edges, or sent by a bound (``on_max_visits``)."""
    def onward(node: str) -> list[str]:
        bound = graph.nodes[node].on_max_visits
        return [*(graph.edges[i].to for i in graph.out[node]), *([bound] if bound else [])]

    return _closure(graph.start, onward)


def _closure(start: str, onward: Callable[[str], Iterable[str]]) -> set[str]:
    """``start`` and every node ``onward`` leads to from it, directly or not."""
    found, todo = {start}, [start]
    while todo:
        for target in onward(todo.pop()):
            if target not in found:
                found.add(target)
                todo.append(target)
    return found


def describe(edge: FlowEdge) -> str:
    """An edge as messages name it: ``review → plan [retry]``."""
    extra = [f"[{edge.label}]"] if edge.label else []
    extra += [f"when {edge.when!r}"] if edge.when else []
    extra += ["on failure"] if edge.on == "failure" else []
    return " ".join([f"{edge.source} → {edge.to}", *extra])


def field_at(schema: Mapping[str, Any] | None, path: tuple[str, ...]) -> tuple[Mapping[str, Any] | None, str | None]:
    """The JSON schema at ``path`` inside ``schema`` (following $ref), or None and why not."""
    defs = (schema or {}).get("$defs", {})
    here = schema
    for depth, name in enumerate(path):
        here = _deref(here, defs)
        props = (here or {}).get("properties")
        if props is None:
            where = ".".join(path[:depth]) or "the output"
            return None, f"{where} has no fields"
        if name not in props:
            where = ".".join(path[:depth]) or "the output"
            return None, f"{where} has no field {name!r} (fields: {', '.join(props)})"
        here = props[name]
    return _deref(here, defs), None


def _deref(schema: Mapping[str, Any] | None, defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    while schema is not None and "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1])
    if schema is not None and "anyOf" in schema:  # Optional[X]: look through to X
        kinds = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(kinds) == 1:
            return _deref(kinds[0], defs)
    return schema
