"""Every payload that crosses a Temporal boundary.

Workflow inputs and results, signal / update / query payloads, agent specs and
agent requests / results. They travel through
``temporalio.contrib.pydantic.pydantic_data_converter``, so each one is plain
JSON that a person can type after ``temporal workflow start --input``.

Here: what every pattern shares (agents, usage, ``RunInput`` / ``RunResult``,
steering, status). Each pattern's own input and result sit in the module named
after it (``_pipeline.py`` beside ``workflows/pipeline.py``), re-exported
below: import them from ``baton.contracts``.

Pure (pydantic only): the workflow sandbox passes the package through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

# Names end up in activity summaries, markdown tables and CLI arguments: keep
# them to a safe, readable alphabet.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def explain(err: ValidationError) -> str:
    """A pydantic error as one line a person can act on: ``field: problem; ...``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in err.errors())


class Contract(BaseModel):
    """Base for all contracts: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# Bounds that keep a run inside what Temporal can hold, checked before it starts.
MAX_SECONDS = 31_622_400  # 366 days: any duration (timeouts, intervals, deadlines); 1e14 s overflowed in the workflow
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]
INPUT_BYTES_LIMIT = 1_048_576  # a run's input as JSON; Temporal refuses a payload past 2 MB
PAYLOAD_BYTES_LIMIT = 2 * 1024 * 1024  # Temporal's default for one payload (limit.blobSize.error)
PAYLOAD_MARGIN = 16 * 1024  # what a payload gains on its way (metadata, encryption) beyond its JSON
PAYLOAD_ROOM = PAYLOAD_BYTES_LIMIT - PAYLOAD_MARGIN  # the JSON a workflow's payload may hold
# A run stops before Temporal's own history limits (50 MiB / 51,200 events by default) would terminate it
# without its partial outputs: no new step starts past these.
HISTORY_BYTES_GUARD = 45 * 1024 * 1024
HISTORY_EVENTS_GUARD = 45_000
TOO_LARGE_ADVICE = ('have its steps write artifacts ("artifacts": true: later steps get previews and read the whole '
                    "text themselves), or lower the agents' max_tokens")


# --------------------------------------------------------------------------- usage


class Usage(Contract):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = Field(default=0.0, description="From the [prices] table of the agents file; 0 for unpriced models")

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 9),
        )


class ModelPrice(Contract):
    """What a provider charges for one model, per million tokens."""

    input_usd_per_million: float = Field(ge=0)
    output_usd_per_million: float = Field(ge=0)

    def cost(self, usage: Usage) -> float:
        return round((usage.prompt_tokens * self.input_usd_per_million
                      + usage.completion_tokens * self.output_usd_per_million) / 1_000_000, 9)


# --------------------------------------------------------------------------- agents


class RetrySpec(Contract):
    """How Temporal retries one agent call (maps onto ``RetryPolicy``)."""

    maximum_attempts: int = Field(default=5, ge=1, description="1 disables retries")
    initial_interval_seconds: Seconds = 1.0
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=100.0)
    maximum_interval_seconds: Seconds = 60.0


class AgentSpec(Contract):
    """One agent: a model with instructions and its own failure policy."""

    name: str = Field(pattern=NAME_PATTERN)
    instructions: str = Field(min_length=1)
    model: str = Field(min_length=1)
    fallback_models: list[str] = Field(default_factory=list)
    fallback_agents: list[str] = Field(
        default_factory=list, description="Agents tried in order (each with its own models) when every model of this one failed")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000)
    start_to_close_seconds: Seconds = 120.0
    schedule_to_close_seconds: Seconds = 600.0
    heartbeat_seconds: Seconds = 10.0
    retry: RetrySpec = Field(default_factory=RetrySpec)
    output_schema: str | None = Field(
        default=None,
        description="Name of a schema in baton.schemas, or 'package.module:Class'.",
    )
    tools: list[str] = Field(
        default_factory=list, description="Tools the model may call: registered functions by name, an MCP server's "
        "as 'server.tool', or all of a server's as 'server.*' (docs/tools.md)")
    max_turns: int = Field(default=10, ge=1, le=100, description="Model turns per step when the agent has tools")
    on_truncated: Literal["keep", "retry", "fail"] = Field(
        default="keep", description="A text answer the model ended at max_tokens: 'keep' it, marked truncated; 'retry' "
        "the call (then fail); 'fail' at once. A structured answer or tool call cut there always fails")
    short: bool = Field(
        default=False, description="Run each call as a local activity, inside the run's workflow task: a step costs "
        "about half (no activity task, no server round trip per call), and gives up what the server keeps per call: "
        "no heartbeats (no live answer; a dead worker is noticed when its workflow task times out), one history "
        "marker per call instead of each attempt, and after a crash the calls made since the run's last workflow task "
        "are made again (docs/resilience.md). For short, cheap calls")


class ContextItem(Contract):
    """An earlier stage's output, handed to a later agent."""

    name: str
    output: str = Field(default="", description="The output's text, when it travels inline")
    artifact: str | None = Field(default=None, description="Where the full output is, when ``output`` is a preview")
    ref: str | None = Field(default=None, description="The output kept in the payload store, which the activity "
                            "reads: an earlier output travels once, not in every later step's input")


class ToolSpec(Contract):
    """A function the model may call (OpenAI tool calling)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments")


class ToolCall(Contract):
    id: str
    name: str
    arguments: str = Field(description="The model's JSON arguments, unvalidated")


class ChatTurn(Contract):
    """An earlier turn of a tool-calling conversation, replayed to the model."""

    role: Literal["assistant", "tool", "user"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class AgentRequest(Contract):
    """What one agent call gets: the goal, its task, earlier outputs, feedback."""

    agent: AgentSpec
    model: str = Field(description="The model for this call: the agent's or a fallback.")
    goal: str
    stage: str
    instructions: str | None = None
    context: list[ContextItem] = Field(default_factory=list)
    context_ref: str | None = Field(default=None, description="Earlier outputs this step sees, before ``context``, kept "
                                    "in the payload store as one list: many of them cost the history one reference")
    feedback: list[str] = Field(default_factory=list)
    output_schema: str | None = Field(
        default=None, description="Structured output for this call, over the agent's own output_schema."
    )
    artifact_key: str | None = Field(default=None, description="Also write the answer as this artifact (<run>/<name>)")
    tools: list[ToolSpec] = Field(default_factory=list, description="Functions the model may call instead of answering")
    conversation: list[ChatTurn] = Field(default_factory=list, description="Earlier turns, after the first prompt")
    fallback_for: str | None = Field(default=None, description="The agent this one stands in for, when it is a fallback agent")
    actions: list[str] = Field(default_factory=list, description="Labels the agent must choose one of (a flow's "
                               "labelled edges), as the 'action' field of its structured answer")


class AgentResult(Contract):
    text: str
    data: dict[str, Any] | None = Field(
        default=None, description="The validated structured output, when the agent has a schema."
    )
    model: str = Field(description="The model that actually answered.")
    usage: Usage = Field(default_factory=Usage)
    usage_estimated: bool = Field(default=False, description="The server reported no usage; counted by Baton.")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="Functions the model called (with tools)")
    artifact: str | None = Field(default=None, description="The artifact key holding the whole answer")
    ref: str | None = Field(default=None, description="The whole answer kept in the payload store, for later steps "
                            "to see by reference (baton/context_store.py)")
    truncated: bool = Field(default=False, description="The model stopped at the agent's max_tokens "
                            "(finish_reason 'length'): the text may end mid-thought")
    breaker_wait_seconds: float = Field(default=0.0, description="Time the call waited for an open circuit breaker of "
                                        "its model: breakers are per model and per worker, so another run's failures "
                                        "can hold this one back")


class ResolveAgentsRequest(Contract):
    names: list[str] = Field(default_factory=list)
    every: bool = Field(default=False, description="Also return every other configured agent")


# --------------------------------------------------------------------------- every run


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


# --------------------------------------------------------------------------- time travel (docs/time-travel.md)

StepText = Annotated[str, Field(max_length=1_000_000)]


class ForkSpec(Contract):
    """A run that begins where another left off: the steps whose outputs the source
    run's snapshot ``at`` holds take them (no model call, no cost), the rest run.
    Without ``source``: a run seeded with outputs a person gives (``set``)."""

    source: str | None = Field(default=None, min_length=1, description="Workflow id of the run to fork")
    source_run_id: str | None = Field(default=None, description="Which run of it (default: the latest)")
    at: int | str | None = Field(default=None, description="The snapshot to begin at: its seq (`snapshots`), or its "
                                 "label ('before draft', 'after draft')")
    set: dict[str, StepText] = Field(default_factory=dict, description="Step -> the output it takes instead of running "
                                     "(an edit of an inherited output, or one given for a later step)")
    agents: dict[str, str] = Field(default_factory=dict, description="Step -> the agent that runs it in this run")
    models: dict[str, str] = Field(default_factory=dict, description="Step -> the model its agent uses in this run")

    @model_validator(mode="after")
    def _source_and_point(self) -> ForkSpec:
        if self.source is not None and self.at is None:
            raise ValueError("a fork of a run needs 'at': the snapshot to begin at")
        if self.source is None and (self.at is not None or self.source_run_id is not None):
            raise ValueError("'at' and 'source_run_id' need 'source': the run to fork")
        if self.source is None and not self.set:
            raise ValueError("a fork needs a 'source' run, or outputs to begin with in 'set'")
        if isinstance(self.at, int) and self.at < 1:
            raise ValueError("'at' counts snapshots from 1")
        for what, table in (("agents", self.agents), ("models", self.models)):
            for step, name in table.items():
                if not name.strip() or any(c.isspace() for c in name):
                    raise ValueError(f"{what}.{step}: {name!r} is not a name")
        return self


class RunInput(Contract):
    """What every pattern's input also takes: its priority and its budget."""

    priority: Literal["interactive", "normal", "batch"] = Field(
        default="normal", description="Temporal priority of the run and its agent calls: interactive runs go first")
    max_tokens_total: int | None = Field(default=None, ge=1, description="No agent call starts once the run has used this many tokens")
    max_cost_usd: float | None = Field(default=None, gt=0, description="No agent call starts once the run has cost this much")
    on_budget: Literal["stop", "wait"] = Field(
        default="stop", description="At the budget: end with the partial results (stop), or wait for a person to raise it (wait)")
    review_deadline_seconds: Seconds | None = Field(
        default=None, description="How long a human gate waits for a person before on_review_deadline applies")
    on_review_deadline: Literal["approve", "fail"] = Field(
        default="fail", description="When nobody answered a gate in time: approve it and go on, or fail the run")
    fork: ForkSpec | None = Field(default=None, description="Begin where another run's snapshot left off "
                                  "(pipeline, planned DAG, flow; docs/time-travel.md)")

    @model_validator(mode="after")
    def _fits(self) -> RunInput:
        # A continue-as-new state (a flow's progress, a map-reduce's) is the run's own, not what a client sent.
        size = len(self.model_dump_json(exclude={"progress"}).encode())
        if size > INPUT_BYTES_LIMIT:
            raise ValueError(f"the input is {size:,} bytes; a run's input may be at most {INPUT_BYTES_LIMIT:,} "
                             "(give long texts to the run as files its agents read, or split the work)")
        return self

    def limits(self) -> dict[str, Any]:
        """The budget, priority and review fields alone, to carry from one input to the control plane."""
        return {name: getattr(self, name) for name in RunInput.model_fields if name != "fork"}


class RunResult(Contract):
    """What every pattern's result shares."""

    usage: Usage = Field(description="Tokens and cost of every agent call of the run (and of its child runs)")
    state: str = Field(default="completed", description="The run's state when the result was read: completed, or "
                       "running / paused / awaiting_review / failed / cancelled for the result query of an unfinished run")
    truncated: list[str] = Field(default_factory=list, description="Steps whose latest answer stopped at the agent's "
                                 "max_tokens (kept, as the agent's on_truncated asks): raise it if they matter")


PRIORITY_KEYS = {"interactive": 1, "normal": 3, "batch": 5}  # Temporal priority keys: 1 first, 5 last


class RaiseBudgetRequest(Contract):
    max_tokens_total: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)


Goal = Annotated[str, Field(min_length=1, max_length=100_000), AfterValidator(_not_blank)]
Prompt = Annotated[str, Field(min_length=1, max_length=100_000), AfterValidator(_not_blank)]


# --------------------------------------------------------------------------- steering

RunState = Literal["running", "paused", "awaiting_review", "completed", "failed", "cancelled"]
StageState = Literal["pending", "running", "awaiting_review", "done", "failed", "skipped"]


class ApproveRequest(Contract):
    stage: str | None = Field(default=None, description="The stage awaiting review (default: whichever is)")
    run: int | None = Field(default=None, ge=1, description="Which run of the stage this approves (status: "
                            "stages[].runs); an approval of an earlier run approves nothing")


# The types a failed run fails with (docs/errors.md): clients branch on these.
ERROR_TYPES = ("InvalidInput", "UnknownWorkflowType", "UnknownAgent", "AgentFailed", "BudgetExceeded", "ReviewDeadline",
               "InvalidPlan", "RunFailed", "CodeFailed", "FlowFailed", "ToolFailed", "ToolTurnsExhausted", "UnknownTool",
               "McpServerFailed", "PayloadTooLarge", "HistoryTooLarge")


class IgnoredSignal(Contract):
    """A signal the run received and did nothing with, and why."""

    name: str
    at: datetime
    reason: str
    args: Any = None


class FeedbackRequest(Contract):
    text: str
    stage: str | None = None


class RewindRequest(Contract):
    stage: str


class EditOutputRequest(Contract):
    stage: str = Field(description="A finished step")
    text: StepText = Field(description="Its new output")
    note: str | None = Field(default=None, description="Why, for the trace")
    rerun: bool = Field(default=False, description="Also run again what came after it (its output stays the edit); "
                        "default: only steps that have not run yet see the edit")


class SkipRequest(Contract):
    stage: str = Field(description="A step that has not run yet")
    reason: str = Field(min_length=1, max_length=2_000)
    output: StepText | None = Field(default=None, description="The output it takes instead (else it has none)")


class SetAgentRequest(Contract):
    stage: str
    agent: str = Field(pattern=NAME_PATTERN, description="An agent of the agents file")


class SetModelRequest(Contract):
    stage: str
    model: str = Field(min_length=1, max_length=200, pattern=r"^\S+$", description="A model some agent of the agents "
                       "file uses (its model or a fallback)")


class SteerAck(Contract):
    """What an accepted update returns: which stage runs next, and why."""

    accepted: bool = True
    rerun_from: str | None = None
    message: str


class StageStatus(Contract):
    name: str
    agent: str
    state: StageState
    model: str | None = None
    runs: int = 0
    feedback: list[str] = Field(default_factory=list)
    error: str | None = None
    origin: str | None = Field(default=None, description="Where its output came from when no agent wrote it here: "
                               "'inherited' (a fork's source), 'set' (a person), 'skipped'")
    override: str | None = Field(default=None, description="The agent or model a person chose for it")
    truncated: bool = Field(default=False, description="Its latest answer stopped at the agent's max_tokens")
    breaker_wait_seconds: float = Field(default=0.0, description="Time its latest call waited for an open circuit "
                                        "breaker (the worker's, for its model: maybe opened by other runs' failures)")


MAX_ROWS = 30  # past this many steps, a table of them shows only the notable ones
NOTABLE_STATES = ("running", "awaiting_review", "failed")


def breaker_waited(seconds: float) -> str:
    """How a step's row and a trace's call say it waited for an open circuit breaker."""
    return f"waited {seconds:.1f} s for an open circuit breaker"


def rows_to_show(stages: list[StageStatus]) -> list[StageStatus]:
    """The steps a table of a run shows (Web UI details, watch): all of them, or past
    ``MAX_ROWS`` only what is moving or stuck, so the table does not grow with the run."""
    if len(stages) <= MAX_ROWS:
        return stages
    return [s for s in stages if s.state in NOTABLE_STATES][:MAX_ROWS]


LIVE_TAIL_CHARS = 400


class LiveAnswer(Contract):
    """An agent call in flight and the answer it has written so far: the call's
    heartbeat details (Temporal's pending-activity info, not history events)."""

    stage: str
    agent: str
    model: str
    attempt: int = 1
    chars: int = Field(default=0, description="Characters written so far")
    tail: str = Field(default="", description=f"The last {LIVE_TAIL_CHARS} of them")
    waiting: str | None = Field(default=None, description="What the call waits for before it may ask its model "
                                "(an open circuit breaker), until its next attempt")
    waiting_since: datetime | None = Field(default=None, description="When that wait began")
    breaker_wait_seconds: float = Field(default=0.0, description="Time its earlier attempts waited for open breakers")


class SnapshotInfo(Contract):
    """One checkpoint of a run's state: before a step starts, or after it is done."""

    seq: int = Field(description="1, 2, … in the order taken; name it in `snapshot` and `snapshots diff`")
    label: str = Field(description="'before STEP', 'after STEP', or 'edited STEP' (edit_output)")
    step: str
    at: datetime
    steps: list[str] = Field(description="The steps whose outputs the state holds")


class Snapshot(SnapshotInfo):
    outputs: dict[str, str]
    feedback: dict[str, list[str]] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict, description="Step -> the artifact holding its whole "
                                      "output, when the output is a preview")
    usage: Usage = Field(default_factory=Usage, description="What the run had spent by then (with what it inherited)")
    state: dict[str, Any] | None = Field(default=None, description="The pattern's own state then, when outputs alone "
                                         "cannot say where it was (a flow's progress)")


class ForkSeed(Contract):
    """What a fork begins with, read from its source run once (recorded in its history)."""

    source: str
    source_run_id: str
    at: int
    label: str
    outputs: dict[str, str]
    artifacts: dict[str, str] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    state: dict[str, Any] | None = None


class ForkInfo(Contract):
    """Where a forked or seeded run began: in its status, memo and trace."""

    source: str | None = None
    source_run_id: str | None = None
    at: int | None = None
    label: str | None = None
    inherited: list[str] = Field(default_factory=list, description="Steps whose outputs came from the source")
    set: list[str] = Field(default_factory=list, description="Steps whose outputs a person gave")
    inherited_usage: Usage = Field(default_factory=Usage, description="What the source spent on the inherited "
                                   "outputs: not spent again, not counted in this run's usage or budget")


class Status(Contract):
    pattern: str
    state: RunState
    current_stage: str | None
    running: list[str] = Field(default_factory=list)
    completed_stages: list[str]
    elapsed_seconds: float = Field(
        description="Run time as of the run's latest step (workflow time is deterministic, so a "
        "waiting run's figure stands still); baton.client.status adds the wait since."
    )
    started_at: datetime
    usage: Usage
    stages: list[StageStatus] = Field(default_factory=list)
    awaiting_review: str | None = None
    error: str | None = None
    info: dict[str, Any] = Field(default_factory=dict, description="Pattern-specific: route, plan, round…")
    ignored_signals: list[IgnoredSignal] = Field(default_factory=list, description="Signals that changed nothing, and why")
    tool_approvals: list[ToolApproval] = Field(
        default_factory=list, description="Tool calls waiting for a person: approve_tool / deny_tool")
    tool_calls: list[ToolOutcome] = Field(default_factory=list, description="Agents' tool calls so far (the latest 50)")
    fork: ForkInfo | None = Field(default=None, description="Where the run began, when it is a fork")


# --------------------------------------------------------------------------- parallel work


class TaskFailure(Contract):
    id: str
    agent: str
    error: str


# --------------------------------------------------------------------------- each pattern's own
# Imported last: they build on the shared contracts above.
from baton.contracts._flow import (Activation, AgentNode, AnswerRequest, CodeNode, EdgeTaken, FlowEdge, FlowInput,  # noqa: E402
                                  FlowNode, FlowProgress, FlowResult, HumanNode, MapNode, NodeOutput, NodeState,
                                  PatternNode)
from baton.contracts._code import Catalog, CatalogRequest, CodeInfo, CodeRequest, CodeResult  # noqa: E402
from baton.contracts._tools import (McpServerSpec, ToolApproval, ToolCallRequest,  # noqa: E402
                                    ToolCallResult, ToolDecisionRequest, ToolDenial, ToolInfo, ToolOutcome, ToolSettings,
                                    ToolsRequest)
from baton.contracts._fanout import FanOutInput, FanOutResult, TaskSpec  # noqa: E402
from baton.contracts._hierarchical import HierarchicalInput, HierarchicalResult, PhaseOutcome  # noqa: E402
from baton.contracts._map_reduce import (BatchTally, ItemFailure, MapBatchInput, MapBatchResult,  # noqa: E402
                                         MapReduceInput, MapReduceProgress, MapReduceResult)
from baton.contracts._panel import ExpertSpec, PanelInput, PanelResult  # noqa: E402
from baton.contracts._pipeline import PipelineInput, PipelineResult, StageSpec  # noqa: E402
from baton.contracts._planned import PlannedInput, PlannedResult, PlannedTaskState  # noqa: E402
from baton.contracts._review_loop import ReviewLoopInput, ReviewLoopResult, ReviewRound  # noqa: E402
from baton.contracts._router import RouterInput, RouterResult, RouteSpec  # noqa: E402
from baton.contracts._supervisor import Delegation, SupervisorInput, SupervisorResult  # noqa: E402
