"""The flow's contracts: a graph of nodes (agents, code steps, people, patterns,
maps) and edges, as data (docs/flows.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from baton.contracts import NAME_PATTERN, Contract, Goal, RunInput, RunResult, Usage

# A node id is also a name in conditions (``review.score``): no dots.
NODE_ID = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
RESERVED_IDS = frozenset({"goal", "item", "and", "or", "not", "in", "true", "false", "null"})


class NodeBase(Contract):
    id: str = Field(pattern=NODE_ID, description="Unique in the flow; how edges and conditions name the node")
    context: list[str] = Field(default_factory=list, description="More nodes whose latest outputs it sees, besides "
                               "the nodes whose edges brought the run to it")
    join: Literal["all", "any"] = Field(
        default="all", description="With several edges into it: all = wait until each has fired or can no longer fire "
        "(and run if one fired); any = run on the first that fires")
    max_visits: int | None = Field(default=None, ge=1, le=10_000, description="How often the flow may run it; every "
                                   "cycle needs a node with a bound")
    on_max_visits: str | None = Field(default=None, description="The node to go to when the bound is hit (default: "
                                      "the run fails)")


class AgentNode(NodeBase):
    kind: Literal["agent"]
    agent: str = Field(pattern=NAME_PATTERN)
    instructions: str | None = Field(default=None, max_length=100_000, description="This node's task, over the agent's own instructions")
    output_schema: str | None = Field(default=None, description="Structured output for this node, over the agent's own")
    review: bool = Field(default=False, description="Wait for approve / feedback after it runs")
    artifact: bool = Field(default=False, description="Also write its answer as a file under the artifacts folder")


class CodeNode(NodeBase):
    kind: Literal["code"]
    function: str = Field(pattern=NAME_PATTERN, description="A function registered on the worker with @baton.code.function")
    args: dict[str, Any] = Field(default_factory=dict, description="Its arguments: values as given, or '=EXPRESSION' "
                                 "(a reference to an earlier output, e.g. '=recall.query')")


class HumanNode(NodeBase):
    kind: Literal["human"]
    question: str | None = Field(default=None, max_length=10_000, description="Ask a person this; the `answer` update's "
                                 "text is the node's output. Without a question, wait for an approval")


class PatternNode(NodeBase):
    kind: Literal["pattern"]
    pattern: str = Field(description="A Baton pattern's name (pipeline, fan-out, …) or 'flow'")
    input: dict[str, Any] = Field(default_factory=dict, description="The child run's input; its goal defaults to the "
                                  "flow's goal with the outputs this node sees")


class MapNode(NodeBase):
    kind: Literal["map"]
    over: str = Field(description="An expression giving a list, e.g. 'plan.tasks': one agent call or code step per item")
    agent: str | None = Field(default=None, pattern=NAME_PATTERN)
    instructions: str | None = Field(default=None, max_length=100_000)
    function: str | None = Field(default=None, pattern=NAME_PATTERN)
    args: dict[str, Any] = Field(default_factory=dict, description="The function's arguments; '=item' is the item")
    max_parallel: int = Field(default=5, ge=1, le=200)

    @model_validator(mode="after")
    def _one_kind_of_step(self) -> MapNode:
        if (self.agent is None) == (self.function is None):
            raise ValueError("a map runs either an agent or a function for each item: give one of 'agent', 'function'")
        return self


FlowNode = Annotated[AgentNode | CodeNode | HumanNode | PatternNode | MapNode, Field(discriminator="kind")]


class FlowEdge(Contract):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    source: str = Field(alias="from")
    to: str
    when: str | None = Field(default=None, max_length=2_000, description="A condition on earlier outputs "
                             "(docs/flows.md); 'else': when no other edge of the source fired")
    label: str | None = Field(default=None, pattern=NAME_PATTERN, description="An action: an agent or a person with "
                              "labelled edges out picks one of the labels")
    on: Literal["done", "failure"] = Field(default="done", description="failure: fires when the source fails, with the "
                                           "failure as the next node's context")


class EdgeTaken(Contract):
    """An edge the run took, as the trace and the path drawing show it."""

    source: str
    to: str
    visit: int = Field(description="The source's visit that fired it")
    label: str | None = None
    when: str | None = None
    on: Literal["done", "failure"] = "done"
    back: bool = Field(default=False, description="It goes back to an earlier node (a loop)")


class NodeOutput(Contract):
    text: str
    data: Any = None
    failed: bool = False


class Activation(Contract):
    """A node to run next whatever its join: the start, a loop's target, a person's re-run."""

    node: str
    fed_by: list[str] = Field(default_factory=list, description="The nodes whose edges (or failures) brought the run here")
    counted: bool = Field(default=True, description="False for a person's re-run: it does not count against max_visits")


class FlowProgress(Contract):
    """What a flow run carries across continue-as-new."""

    visits: dict[str, int] = Field(default_factory=dict)
    outputs: dict[str, NodeOutput] = Field(default_factory=dict)
    states: dict[str, str] = Field(default_factory=dict, description="Each node's state in the current pass")
    settled: dict[int, bool] = Field(default_factory=dict, description="Forward edge index -> whether it fired")
    fed_by: dict[str, list[str]] = Field(default_factory=dict, description="Node -> the nodes whose edges brought the run to it")
    queued: list[Activation] = Field(default_factory=list)
    activated: dict[str, Activation] = Field(default_factory=dict, description="Queued nodes now ready to start")
    edges_taken: int = 0
    path_tail: list[EdgeTaken] = Field(default_factory=list)
    last: str | None = None
    usage: Usage = Field(default_factory=Usage)
    runs: int = 1
    paused: bool = False


class FlowInput(RunInput):
    goal: Goal
    nodes: list[FlowNode] = Field(min_length=1, max_length=200)
    edges: list[FlowEdge] = Field(default_factory=list, max_length=2_000)
    start: str
    max_parallel: int = Field(default=5, ge=1, le=200, description="Nodes running at once")
    max_history_events: int = Field(default=2500, ge=200, le=3000, description="Continue as new past this many events "
                                    "(runs stay under ~4,000)")
    progress: FlowProgress | None = Field(default=None, description="Set by continue-as-new only")


class NodeState(Contract):
    id: str
    kind: str
    state: str
    visits: int = 0
    error: str | None = None


class FlowResult(RunResult):
    outputs: dict[str, str] = Field(description="Each node's latest output")
    data: dict[str, Any] = Field(default_factory=dict, description="Each node's latest structured output, when it has one")
    final: str | None = Field(description="The output of the last node that finished")
    nodes: list[NodeState]
    path: list[EdgeTaken] = Field(description="The edges taken (the latest 200)")
    edges_taken: int = 0
    runs: int = Field(default=1, description="Workflow runs it took (continue-as-new)")


class AnswerRequest(Contract):
    """A person's answer to a human node's question."""

    node: str | None = Field(default=None, description="The node asking (default: whichever is)")
    text: str = Field(min_length=1, max_length=100_000)
    label: str | None = Field(default=None, description="Which of the node's labelled edges to take")
