"""Build a flow in Python, in the spirit of PocketFlow; it makes the same data
as a flow file (``FlowInput``).

    from baton.flows.builder import Flow, agent, map_over

    review, finalize = agent("review", "reviewer"), agent("finalize", "editor")
    plan = agent("plan", "planner", output_schema="Plan", max_visits=3, on_max_visits=finalize)
    work = map_over("work", "plan.tasks", agent="writer")
    plan >> work >> review
    review - "retry" >> plan            # an action label the reviewer chooses
    review - "approved" >> finalize
    inp = Flow("Write a guide to tide pools", start=plan).input()

``a.when("a.score > 5") >> b`` is a conditional edge, ``a.on_failure() >> b``
fires when ``a`` fails.
"""

from __future__ import annotations

from typing import Any

from baton.contracts import FlowInput


class Node:
    def __init__(self, id: str, kind: str, **fields: Any) -> None:
        bound_target = fields.get("on_max_visits")
        self.routes = [bound_target] if isinstance(bound_target, Node) else []  # where the bound sends the run
        fields["on_max_visits"] = bound_target.id if isinstance(bound_target, Node) else bound_target
        self.spec = {"id": id, "kind": kind, **{k: v for k, v in fields.items() if v is not None}}
        self.edges: list[dict[str, Any]] = []  # edges out, in the order written

    @property
    def id(self) -> str:
        return self.spec["id"]

    def __rshift__(self, other: Node) -> Node:
        return _Edge(self) >> other

    def __sub__(self, label: str) -> _Edge:
        return _Edge(self, label=label)

    def when(self, condition: str) -> _Edge:
        return _Edge(self, when=condition)

    def otherwise(self) -> _Edge:
        """Fires when no other edge out of this node did."""
        return _Edge(self, when="else")

    def on_failure(self, when: str | None = None) -> _Edge:
        return _Edge(self, on="failure", when=when)


class _Edge:
    def __init__(self, source: Node, **fields: Any) -> None:
        self.source, self.fields = source, {k: v for k, v in fields.items() if v is not None}

    def __rshift__(self, target: Node) -> Node:
        self.source.edges.append({"from": self.source.id, "to": target.id, **self.fields, "_target": target})
        return target


def agent(id: str, agent: str, **fields: Any) -> Node:
    return Node(id, "agent", agent=agent, **fields)


def code(id: str, function: str, **fields: Any) -> Node:
    return Node(id, "code", function=function, **fields)


def human(id: str, question: str | None = None, **fields: Any) -> Node:
    return Node(id, "human", question=question, **fields)


def pattern(id: str, pattern: str, input: dict[str, Any] | None = None, **fields: Any) -> Node:
    return Node(id, "pattern", pattern=pattern, input=input, **fields)


def map_over(id: str, over: str, **fields: Any) -> Node:
    return Node(id, "map", over=over, **fields)


class Flow:
    def __init__(self, goal: str, start: Node, **options: Any) -> None:
        self.goal, self.start, self.options = goal, start, options

    def nodes(self) -> list[Node]:
        """Every node the start's edges lead to, in the order first met; then the
        nodes only a bound sends the run to (``on_max_visits``)."""
        found, todo = [self.start], [self.start]
        while todo:
            for target in (e["_target"] for e in todo.pop(0).edges):
                if target not in found:
                    found.append(target)
                    todo.append(target)
            if not todo:
                todo = [t for node in found for t in node.routes if t not in found]
                found += todo
        return found

    def data(self) -> dict[str, Any]:
        nodes = self.nodes()
        edges = [{k: v for k, v in e.items() if k != "_target"} for n in nodes for e in n.edges]
        return {"goal": self.goal, "start": self.start.id, "nodes": [n.spec for n in nodes], "edges": edges,
                **self.options}

    def input(self) -> FlowInput:
        return FlowInput.model_validate(self.data())
