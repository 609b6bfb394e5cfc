"""Which nodes of a flow run next: the flow's state machine, pure (no Temporal),
over ``FlowProgress`` (what a run carries across continue-as-new).

- The start runs first. When a node ends, its edges out are decided in order:
  a choosing node (an agent or a person with labelled edges) fires the edges of
  the label it chose; other edges fire when their ``when`` holds (no ``when``:
  always); an ``else`` edge fires when no other edge of the same outcome did.
  ``on: failure`` edges are decided instead when the node failed.
- Join rule: a node with forward edges into it runs once each of them has fired
  or can no longer fire, and at least one fired (``join: all``, the default), or
  as soon as one fires (``join: any``). A node none of whose edges in fired is
  skipped, and its own edges out cannot fire: whole branches not taken are
  skipped this way.
- A back edge that fires runs its target again: the target and everything
  forward of it start a new pass (pending again), once none of them is running.
- ``max_visits``: a node about to run past its bound goes to ``on_max_visits``
  instead, or the run fails.
"""

from __future__ import annotations

from typing import Any

from baton.contracts import Activation, EdgeTaken, FlowProgress, NodeOutput
from baton.flows import expressions
from baton.flows.expressions import ExpressionError, Ref
from baton.flows.graph import ELSE, FlowGraph

PATH_KEPT = 200  # edges taken kept in the result (all of them are in the history)


class FlowError(Exception):
    """The flow cannot go on (a bound hit with nowhere to go, a condition that cannot be decided)."""


class FlowScheduler:
    def __init__(self, graph: FlowGraph, progress: FlowProgress, goal: str) -> None:
        self.graph, self.progress, self.goal = graph, progress, goal
        for node in graph.nodes:
            progress.states.setdefault(node, "pending")
            progress.visits.setdefault(node, 0)

    # ------------------------------------------------------------ what runs next

    def queue(self, activation: Activation) -> None:
        """Run ``activation.node`` next whatever its join (the start, a loop, a person's re-run)."""
        self.progress.queued.append(activation)

    def ready(self) -> list[str]:
        """The nodes that may start now, in the flow's order."""
        self._activate_queued()
        self._skip_dead()
        states = self.progress.states
        return [n for n in self.graph.nodes if states[n] == "ready" or (states[n] == "pending" and self._joined(n))]

    def running(self) -> list[str]:
        return [n for n, state in self.progress.states.items() if state == "running"]

    def idle(self) -> bool:
        """Nothing runs, nothing is ready, nothing is queued: the flow is over."""
        return not self.running() and not self.progress.queued and not self.ready()

    def _activate_queued(self) -> None:
        waiting: list[Activation] = []
        for activation in self.progress.queued:
            region = self.graph.reach(activation.node)
            if any(self.progress.states[n] == "running" for n in region):
                waiting.append(activation)  # a new pass begins once the old one's nodes are done
                continue
            self.reset(region)
            self.progress.activated[activation.node] = activation
            self.progress.states[activation.node] = "ready"
        self.progress.queued = waiting

    def reset(self, region: list[str]) -> None:
        """Nodes that start a new pass: pending, their edges out undecided."""
        p = self.progress
        for node in region:
            p.states[node] = "pending"
            p.fed_by.pop(node, None)
            p.activated.pop(node, None)
            for i in self.graph.out[node]:
                p.settled.pop(i, None)

    def _joined(self, node: str) -> bool:
        fired = [self.progress.settled.get(i) for i in self.graph.forward_in[node]]
        if not fired:
            return False
        if self.graph.nodes[node].join == "any":
            return any(f is True for f in fired)
        return all(f is not None for f in fired) and any(fired)

    def _skip_dead(self) -> None:
        changed = True
        while changed:  # a skipped node's edges out cannot fire: its own targets may be skipped next
            changed = False
            for node in self.graph.nodes:
                ins = self.graph.forward_in[node]
                if self.progress.states[node] == "pending" and ins and all(self.progress.settled.get(i) is False for i in ins):
                    self._skip(node)
                    changed = True

    def _skip(self, node: str) -> None:
        self.progress.states[node] = "skipped"
        for i in self.graph.out[node]:
            if i not in self.graph.back:
                self.progress.settled[i] = False

    # ------------------------------------------------------------ a node's run

    def start(self, node: str) -> list[str]:
        """``node`` starts: the nodes that fed it. Raises FlowError past its bound
        with nowhere to go; returns [] after routing to ``on_max_visits`` (check ``started``)."""
        p, spec = self.progress, self.graph.nodes[node]
        activation = p.activated.pop(node, None)
        counted = activation.counted if activation else True
        fed_by = activation.fed_by if activation else list(p.fed_by.get(node, []))
        if counted and spec.max_visits is not None and p.visits[node] >= spec.max_visits:
            if spec.on_max_visits is None:
                raise FlowError(f"node {node!r} reached max_visits {spec.max_visits} and names no on_max_visits node")
            self._skip(node)
            self.queue(Activation(node=spec.on_max_visits, fed_by=[node]))
            return []
        p.states[node] = "running"
        p.visits[node] += 1 if counted else 0
        p.fed_by[node] = fed_by
        return fed_by

    def skip(self, node: str) -> None:
        """A person skipped ``node`` before it started: its edges out cannot fire."""
        self.progress.activated.pop(node, None)
        self._skip(node)

    def restartable(self, keep: str | None = None) -> FlowProgress:
        """A copy of the progress as a run could begin from it: nodes running now (but
        ``keep``) ready to start again, their visit not yet counted; nothing else changed."""
        copy = self.progress.model_copy(deep=True)
        for node in self.running():
            if node == keep:
                continue
            copy.states[node] = "ready"
            copy.visits[node] = max(0, copy.visits[node] - 1)
            copy.activated[node] = Activation(node=node, fed_by=list(copy.fed_by.get(node, [])))
        return copy

    def abandon(self, node: str) -> None:
        """``node``'s run ended without an outcome (a person sent it back): pending, no edge decided."""
        self.progress.states[node] = "pending"

    def started(self, node: str) -> bool:
        return self.progress.states[node] == "running"

    def finish(self, node: str, output: NodeOutput, choice: str | None = None) -> list[EdgeTaken]:
        """``node`` ended with ``output`` (``choice``: the label it chose): the edges it fires."""
        p, graph = self.progress, self.graph
        p.outputs[node] = output
        p.states[node] = "failed" if output.failed else "done"
        p.last = node
        on = "failure" if output.failed else "done"
        choosing = bool(graph.labels(node)) and on == "done"
        fires: dict[int, bool] = {}
        for i in graph.out[node]:
            edge = graph.edges[i]
            if edge.on != on or edge.when == ELSE:
                continue
            by_label = choosing and edge.label is not None
            fires[i] = (not by_label or edge.label == choice) and (edge.when is None or self._holds(i))
        for i in graph.out[node]:
            edge = graph.edges[i]
            if i not in fires:
                fires[i] = edge.on == on and edge.when == ELSE and not any(fires.values())
        taken = []
        for i in graph.out[node]:
            edge, fired = graph.edges[i], fires[i]
            if i in graph.back:
                if fired:
                    self.queue(Activation(node=edge.to, fed_by=[node]))
            else:
                p.settled[i] = fired
                if fired:
                    p.fed_by.setdefault(edge.to, []).append(node)
            if fired:
                taken.append(EdgeTaken(source=node, to=edge.to, visit=p.visits[node], label=edge.label, when=edge.when,
                                       on=edge.on, back=i in graph.back))
        p.edges_taken += len(taken)
        p.path_tail = [*p.path_tail, *taken][-PATH_KEPT:]
        return taken

    def _holds(self, i: int) -> bool:
        edge = self.graph.edges[i]
        try:
            return expressions.holds(expressions.parse(edge.when or ""), self.lookup)
        except ExpressionError as err:
            raise FlowError(f"edge {i} ({edge.source} → {edge.to}): cannot decide {edge.when!r}: {err}") from None

    def evaluate(self, text: str, item: Any = None) -> Any:
        """An expression's value over the outputs so far (``item``: a map's item)."""
        return expressions.evaluate(expressions.parse(text), lambda ref: self.lookup(ref, item))

    def lookup(self, ref: Ref, item: Any = None) -> Any:
        head, path = ref.path[0], ref.path[1:]
        if head == "goal":
            return self.goal
        if head == "item":
            value = item
        else:
            output = self.progress.outputs.get(head)
            if output is None:
                raise ExpressionError(f"{head!r} has no output yet")
            if output.failed:
                raise ExpressionError(f"{head!r} failed: {output.text}")
            value = output.data if output.data is not None else output.text
        for depth, name in enumerate(path):
            if not isinstance(value, dict) or name not in value:
                raise ExpressionError(f"{'.'.join(ref.path[:depth + 1])}: no such field in {head!r}'s output")
            value = value[name]
        return value

