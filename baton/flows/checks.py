"""A flow checked before anything runs: every problem, each naming its node or
edge. The client refuses a flow with problems before starting it; the run
itself checks again (a run started by the temporal CLI or another SDK) and
fails at once with the same lines (type InvalidInput).

What is checked depends on what is known: the structure always; agents,
output schemas and code functions when the caller knows them (the run knows
the worker's, recorded in its history)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from functools import cache

from pydantic import BaseModel, ValidationError

from baton.contracts import FlowInput, explain
from baton.contracts._flow import RESERVED_IDS
from baton.flows import expressions
from baton.flows.expressions import ExpressionError
from baton.flows.graph import ELSE, FlowGraph, describe, field_at, reachable, unbounded_cycle
from baton.patterns import all_patterns, find_pattern

TEXT: dict[str, Any] = {"type": "string"}  # the shape of an output that is text
UNKNOWN: dict[str, Any] = {}  # a shape nothing is known about (unchecked)
MAP_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "outputs": {"type": "array", "description": "Each item's output, in the items' order (null where it failed)"},
    "failed": {"type": "array", "description": "[{index, error}] for each item that failed"}}}
ACTION = "action"  # the field a choosing agent's structured answer carries its label in


@dataclass
class Knowledge:
    """What the checker knows besides the flow. None: unknown, not checked."""

    agents: Mapping[str, str | None] | None = None  # agent -> its own output schema name
    schemas: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # schema name -> JSON schema
    functions: Mapping[str, Any] | None = None  # function name -> CodeInfo
    patterns: Mapping[str, dict[str, Any]] | None = None  # pattern name -> its result's JSON schema


def schema_names(inp: FlowInput, agents: Mapping[str, str | None]) -> list[str]:
    """The output schemas checking ``inp`` needs: its agent nodes' and the agents' own."""
    names = {n.output_schema for n in inp.nodes if n.kind == "agent" and n.output_schema}
    return sorted(names | {schema for schema in agents.values() if schema})


def pattern_results() -> dict[str, dict[str, Any]]:
    """Each pattern's result as JSON schema: what a pattern node's output holds."""
    return {p.name: _json_schema(p.result) for p in all_patterns()}


@cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()  # built once per worker, not once per flow run


def output_shape(graph: FlowGraph, node_id: str, known: Knowledge) -> dict[str, Any]:
    """The JSON schema of a node's output (TEXT when it is text, UNKNOWN when unknown)."""
    node = graph.nodes[node_id]
    if node.kind == "agent":
        name = node.output_schema or (known.agents or {}).get(node.agent)
        if name is None:
            return TEXT if known.agents is not None or node.output_schema else UNKNOWN
        return known.schemas.get(name, UNKNOWN)
    if node.kind == "code":
        info = (known.functions or {}).get(node.function)
        return UNKNOWN if info is None else (info.result or TEXT)
    if node.kind == "map":
        return MAP_OUTPUT
    if node.kind == "pattern":
        return (known.patterns or {}).get(node.pattern, UNKNOWN)
    return TEXT  # a person's answer


def problems(inp: FlowInput, known: Knowledge = Knowledge()) -> list[str]:
    """Every problem of the flow, one line each; [] when it can run."""
    found: list[str] = []
    ids = [n.id for n in inp.nodes]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    found += [f"node {d!r}: two nodes have this id" for d in dupes]
    found += [f"node {n!r}: {n!r} is a reserved word in conditions; choose another id" for n in ids if n in RESERVED_IDS]
    if inp.start not in ids:
        found.append(f"start: no node {inp.start!r} (nodes: {', '.join(ids)})")
    for i, edge in enumerate(inp.edges):
        for end in (edge.source, edge.to):
            if end not in ids:
                found.append(f"edge {i} ({describe(edge)}): no node {end!r}")
    for node in inp.nodes:
        if node.on_max_visits is not None and node.on_max_visits not in ids:
            found.append(f"node {node.id!r}: on_max_visits names no node {node.on_max_visits!r}")
    if found:
        return found  # the rest needs a graph whose names resolve
    graph = FlowGraph.of(inp)
    seen = reachable(graph)
    found += [f"node {n!r}: cannot be reached from start {inp.start!r}" for n in ids if n not in seen]
    if (cycle := unbounded_cycle(graph)) is not None:
        found.append(f"cycle {' → '.join(cycle)}: no bound; give one of its nodes max_visits")
    found += _edge_problems(graph, known)
    for node in inp.nodes:
        found += [f"node {node.id!r}: {p}" for p in _node_problems(graph, node, known)]
    return found


def _edge_problems(graph: FlowGraph, known: Knowledge) -> list[str]:
    found: list[str] = []
    elses: set[tuple[str, str]] = set()
    for i, edge in enumerate(graph.edges):
        where = f"edge {i} ({edge.source} → {edge.to})"
        if edge.when == ELSE:
            if (edge.source, edge.on) in elses:
                found.append(f"{where}: a second 'else' edge out of {edge.source!r}")
            elses.add((edge.source, edge.on))
        elif edge.when is not None:
            found += [f"{where}: {p}" for p in expression_problems(graph, edge.when, known)]
        if edge.label and edge.on == "done" and edge.when is None and graph.nodes[edge.source].kind not in ("agent", "human"):
            found.append(f"{where}: only an agent or a person chooses a label; route a "
                         f"{graph.nodes[edge.source].kind} node with 'when'")
    return found


def _node_problems(graph: FlowGraph, node: Any, known: Knowledge) -> list[str]:
    found = [f"context names no node {c!r}" for c in node.context if c not in graph.nodes]
    if node.kind in ("agent", "map") and getattr(node, "agent", None) and known.agents is not None \
            and node.agent not in known.agents:
        found.append(f"unknown agent {node.agent!r} (agents: {', '.join(sorted(known.agents))})")
    if node.kind == "agent" and node.output_schema and node.output_schema not in known.schemas and known.agents is not None:
        found.append(f"unknown output schema {node.output_schema!r}")
    if node.kind in ("code", "map") and getattr(node, "function", None):
        found += _function_problems(graph, node, known)
    if node.kind == "map":
        found += _map_problems(graph, node, known)
    if node.kind == "pattern":
        found += _pattern_problems(node, known)
    if graph.labels(node.id) and node.kind == "agent" and output_shape(graph, node.id, known) not in (TEXT, UNKNOWN):
        shape = output_shape(graph, node.id, known)
        if ACTION in shape.get("properties", {}):
            found.append(f"its output schema has a field {ACTION!r}, where its choice of edge goes; rename the field")
    return found


def _pattern_problems(node: Any, known: Knowledge) -> list[str]:
    if known.patterns is None:
        return []
    if node.pattern not in known.patterns:
        return [f"unknown pattern {node.pattern!r} (patterns: {', '.join(known.patterns)})"]
    contract = find_pattern(node.pattern).input
    given = {"goal": "(the flow's goal)", **node.input} if "goal" in contract.model_fields else node.input
    try:
        contract.model_validate(given)
    except ValidationError as err:
        return [f"input for {node.pattern}: {explain(err)}"]
    return []


def _function_problems(graph: FlowGraph, node: Any, known: Knowledge) -> list[str]:
    found: list[str] = []
    for name, value in node.args.items():
        if isinstance(value, str) and value.startswith("="):
            found += [f"args.{name}: {p}" for p in expression_problems(graph, value[1:], known, item=node.kind == "map")]
    if known.functions is None:
        return found
    info = known.functions.get(node.function)
    if info is None:
        registered = ", ".join(sorted(known.functions)) or "none"
        return [*found, f"unknown code function {node.function!r} (registered: {registered})"]
    params = info.parameters.get("properties", {})
    found += [f"args.{a}: {node.function} takes no argument {a!r} (it takes: {', '.join(params) or 'none'})"
              for a in node.args if a not in params]
    found += [f"args: {node.function} needs argument {a!r}" for a in info.parameters.get("required", [])
              if a not in node.args]
    return found


def _map_problems(graph: FlowGraph, node: Any, known: Knowledge) -> list[str]:
    try:
        tree = expressions.parse(node.over)
    except ExpressionError as err:
        return [f"over {node.over!r}: {err}"]
    if not isinstance(tree, expressions.Ref):
        return [f"over {node.over!r}: name an earlier output, e.g. 'plan.tasks'"]
    found = expression_problems(graph, node.over, known)
    if found:
        return [f"over: {p}" for p in found]
    source, path = tree.path[0], tree.path[1:]
    if source == "goal":
        return [f"over {node.over!r}: the goal is text, not a list"]
    shape = output_shape(graph, source, known)
    at, _ = field_at(shape, path) if path else (shape, None)
    if at is not None and at is not UNKNOWN and at.get("type") not in (None, "array"):
        what = "text" if at.get("type") == "string" else f"a {at.get('type')}"
        return [f"over {node.over!r}: is {what}, not a list"]
    return []


def expression_problems(graph: FlowGraph, text: str, known: Knowledge, item: bool = False) -> list[str]:
    """Why a condition cannot run: it does not parse, or names a node or field that is not there."""
    try:
        tree = expressions.parse(text)
    except ExpressionError as err:
        return [f"{text!r} does not parse: {err}"]
    found: list[str] = []
    for ref in expressions.refs(tree):
        head, path = ref.path[0], ref.path[1:]
        if head == "goal" or (item and head == "item"):
            if path and head == "goal":
                found.append(f"{text!r}: the goal is text; it has no field {path[0]!r}")
            continue
        if head not in graph.nodes:
            found.append(f"{text!r} names {head!r}, which is no node")
            continue
        if not path:
            continue
        shape = output_shape(graph, head, known)
        if shape is UNKNOWN:
            continue
        if shape is TEXT:
            found.append(f"{text!r}: {head!r}'s output is text (it has no output schema), so it has no field {path[0]!r}")
            continue
        _, why = field_at(shape, path)
        if why:
            found.append(f"{text!r}: {head!r}: {why}")
    return found
