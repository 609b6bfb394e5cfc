"""Every payload that crosses a Temporal boundary, in one place.

Workflow inputs and results, signal / update / query payloads, agent specs and
agent requests / results. They travel through
``temporalio.contrib.pydantic.pydantic_data_converter``, so each one is plain
JSON that a person can type after ``temporal workflow start --input``.

This module is pure (pydantic only): the workflow sandbox passes it through.
"""

from __future__ import annotations

import re
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
    initial_interval_seconds: float = Field(default=1.0, gt=0)
    backoff_coefficient: float = Field(default=2.0, ge=1.0)
    maximum_interval_seconds: float = Field(default=60.0, gt=0)


class AgentSpec(Contract):
    """One agent: a model with instructions and its own failure policy."""

    name: str = Field(pattern=NAME_PATTERN)
    instructions: str = Field(min_length=1)
    model: str = Field(min_length=1)
    fallback_models: list[str] = Field(default_factory=list)
    fallback_agents: list[str] = Field(
        default_factory=list, description="Agents tried in order (each with its own models) when every model of this one failed")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=1)
    start_to_close_seconds: float = Field(default=120.0, gt=0)
    schedule_to_close_seconds: float = Field(default=600.0, gt=0)
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    retry: RetrySpec = Field(default_factory=RetrySpec)
    output_schema: str | None = Field(
        default=None,
        description="Name of a schema in baton.schemas, or 'package.module:Class'.",
    )


class ContextItem(Contract):
    """An earlier stage's output, handed to a later agent."""

    name: str
    output: str
    artifact: str | None = Field(default=None, description="Where the full output is, when ``output`` is a preview")


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
    feedback: list[str] = Field(default_factory=list)
    output_schema: str | None = Field(
        default=None, description="Structured output for this call, over the agent's own output_schema."
    )
    artifact_key: str | None = Field(default=None, description="Also write the answer as this artifact (<run>/<name>)")
    tools: list[ToolSpec] = Field(default_factory=list, description="Functions the model may call instead of answering")
    conversation: list[ChatTurn] = Field(default_factory=list, description="Earlier turns, after the first prompt")
    fallback_for: str | None = Field(default=None, description="The agent this one stands in for, when it is a fallback agent")


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


class ResolveAgentsRequest(Contract):
    names: list[str] = Field(default_factory=list)
    every: bool = Field(default=False, description="Also return every other configured agent")


# --------------------------------------------------------------------------- pipeline


class StageSpec(Contract):
    name: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    review: bool = Field(default=False, description="Wait for approve/feedback after it runs.")
    instructions: str | None = None


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


class RunInput(Contract):
    """What every pattern's input also takes: its priority and its budget."""

    priority: Literal["interactive", "normal", "batch"] = Field(
        default="normal", description="Temporal priority of the run and its agent calls: interactive runs go first")
    max_tokens_total: int | None = Field(default=None, ge=1, description="No agent call starts once the run has used this many tokens")
    max_cost_usd: float | None = Field(default=None, gt=0, description="No agent call starts once the run has cost this much")
    on_budget: Literal["stop", "wait"] = Field(
        default="stop", description="At the budget: end with the partial results (stop), or wait for a person to raise it (wait)")
    review_deadline_seconds: float | None = Field(
        default=None, gt=0, description="How long a human gate waits for a person before on_review_deadline applies")
    on_review_deadline: Literal["approve", "fail"] = Field(
        default="fail", description="When nobody answered a gate in time: approve it and go on, or fail the run")

    def limits(self) -> dict[str, Any]:
        """These fields alone, to carry from one input to the control plane."""
        return {name: getattr(self, name) for name in RunInput.model_fields}


class RunResult(Contract):
    """What every pattern's result shares."""

    usage: Usage = Field(description="Tokens and cost of every agent call of the run (and of its child runs)")
    state: str = Field(default="completed", description="The run's state when the result was read: completed, or "
                       "running / paused / awaiting_review / failed / cancelled for the result query of an unfinished run")


PRIORITY_KEYS = {"interactive": 1, "normal": 3, "batch": 5}  # Temporal priority keys: 1 first, 5 last


class RaiseBudgetRequest(Contract):
    max_tokens_total: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)


Goal = Annotated[str, Field(min_length=1, max_length=100_000), AfterValidator(_not_blank)]
Prompt = Annotated[str, Field(min_length=1, max_length=100_000), AfterValidator(_not_blank)]


class PipelineInput(RunInput):
    goal: Goal
    stages: list[StageSpec] = Field(min_length=1, max_length=200)
    artifacts: bool = Field(default=False, description="Write each stage's output as a file under the artifacts folder")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_stage_names(self) -> PipelineInput:
        unique([s.name for s in self.stages], "stage name")
        return self


class PipelineResult(RunResult):
    outputs: dict[str, str]
    final: str | None
    artifacts: dict[str, str] = Field(default_factory=dict, description="Stage -> artifact key of its latest output")


# --------------------------------------------------------------------------- steering

RunState = Literal["running", "paused", "awaiting_review", "completed", "failed", "cancelled"]
StageState = Literal["pending", "running", "awaiting_review", "done", "failed", "skipped"]


class ApproveRequest(Contract):
    stage: str | None = Field(default=None, description="The stage awaiting review (default: whichever is)")
    run: int | None = Field(default=None, ge=1, description="Which run of the stage this approves (status: "
                            "stages[].runs); an approval of an earlier run approves nothing")


# The types a failed run fails with (docs/errors.md): clients branch on these.
ERROR_TYPES = ("InvalidInput", "UnknownWorkflowType", "UnknownAgent", "AgentFailed", "BudgetExceeded", "ReviewDeadline",
               "InvalidPlan", "RunFailed")


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


MAX_ROWS = 30  # past this many steps, a table of them shows only the notable ones
NOTABLE_STATES = ("running", "awaiting_review", "failed")


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


class SnapshotInfo(Contract):
    """One checkpoint of a run's state: before a step starts, or after it is done."""

    seq: int = Field(description="1, 2, … in the order taken; name it in `snapshot` and `snapshots diff`")
    label: str = Field(description="'before STEP' or 'after STEP'")
    step: str
    at: datetime
    steps: list[str] = Field(description="The steps whose outputs the state holds")


class Snapshot(SnapshotInfo):
    outputs: dict[str, str]
    feedback: dict[str, list[str]] = Field(default_factory=dict)


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


# --------------------------------------------------------------------------- fan-out


class TaskSpec(Contract):
    id: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    prompt: Prompt


class TaskFailure(Contract):
    id: str
    agent: str
    error: str


class FanOutInput(RunInput):
    goal: Goal
    tasks: list[TaskSpec] = Field(min_length=1, max_length=500)
    max_parallel: int = Field(default=5, ge=1, le=200)
    synthesizer: str | None = Field(default="summarizer", pattern=NAME_PATTERN)
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed tasks, wait for a person: approve goes on with what succeeded, "
        "feedback on a failed task runs it again; null never waits")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_task_ids(self) -> FanOutInput:
        unique([t.id for t in self.tasks], "task id")
        return self


class FanOutResult(RunResult):
    completed: dict[str, str]
    failed: list[TaskFailure]
    synthesis: str | None


# --------------------------------------------------------------------------- router


class RouteSpec(Contract):
    agent: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1, description="When this agent is the right one")


class RouterInput(RunInput):
    input: Prompt
    routes: list[RouteSpec] = Field(min_length=1, max_length=50)
    default: str = Field(pattern=NAME_PATTERN, description="Handles the input when the choice is unknown or unsure")
    classifier: str = Field(default="classifier", pattern=NAME_PATTERN)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _unique_routes(self) -> RouterInput:
        unique([r.agent for r in self.routes], "route")
        return self


class RouterResult(RunResult):
    route: str | None
    confidence: float | None
    reason: str | None
    fallback: bool = Field(description="The default handled it: the choice was unknown or unsure")
    output: str | None


# --------------------------------------------------------------------------- expert panel


class ExpertSpec(Contract):
    name: str = Field(pattern=NAME_PATTERN)
    agent: str = Field(pattern=NAME_PATTERN)
    role: str = Field(min_length=1, description="The perspective this expert argues from")


class PanelInput(RunInput):
    question: Goal
    experts: list[ExpertSpec] = Field(min_length=2, max_length=20)
    rounds: int = Field(default=1, ge=1, le=5, description="Debate rounds; from round 2 each sees the others' answers")
    moderator: str = Field(default="summarizer", pattern=NAME_PATTERN)
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")

    @model_validator(mode="after")
    def _unique_experts(self) -> PanelInput:
        unique([e.name for e in self.experts], "expert name")
        return self


class PanelResult(RunResult):
    rounds: list[dict[str, str]] = Field(description="Per round, each expert's answer")
    consensus: str | None
    agreement: float | None
    dissent: list[str]


# --------------------------------------------------------------------------- planned DAG


class PlannedInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    agents: list[str] | None = Field(default=None, description="Agents the plan may use (default: every configured agent)")
    allow_new_agents: bool = Field(default=True, description="The planner may define agents of its own")
    max_parallel: int = Field(default=5, ge=1, le=100)
    max_failures: int = Field(default=3, ge=1, description="At this many failed tasks, stop and wait for a person")
    defined_agents: list[AgentSpec] = Field(default_factory=list, description="Agents defined by a parent run's planner, used as given")


class PlannedTaskState(Contract):
    id: str
    agent: str
    depends_on: list[str]
    state: StageState
    error: str | None = None


class PlannedResult(RunResult):
    plan: list[PlannedTaskState]
    new_agents: list[str]
    outputs: dict[str, str]
    failed: list[TaskFailure]
    skipped: list[str]
    replans: int


# --------------------------------------------------------------------------- review loop


class ReviewLoopInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    workers: list[str] = Field(min_length=1, description="Agents the planner may assign tasks to")
    reviewer: str = Field(default="reviewer", pattern=NAME_PATTERN)
    max_rounds: int = Field(default=3, ge=1, le=10)
    max_parallel: int = Field(default=5, ge=1, le=100)


class ReviewRound(Contract):
    round: int
    outputs: dict[str, str]
    failed: list[TaskFailure] = Field(default_factory=list)
    approved: bool | None = None
    critique: str | None = None


class ReviewLoopResult(RunResult):
    rounds: list[ReviewRound]
    approved: bool
    critiques: list[str]
    final: dict[str, str]


# --------------------------------------------------------------------------- map-reduce


class ItemFailure(Contract):
    index: int
    error: str


class BatchTally(Contract):
    """One batch's latest run, as its parent counts it."""

    partial: str | None = None
    mapped: int = 0
    failed_count: int = 0
    runs: int = 1


class MapReduceProgress(Contract):
    """What a map-reduce run carries across continue-as-new."""

    next_batch: int = 0
    partials: list[str] = Field(default_factory=list)
    mapped: int = 0
    failed: list[ItemFailure] = Field(default_factory=list)
    failed_count: int = 0
    usage: Usage = Field(default_factory=Usage)
    runs: int = 1
    failures_approved: bool = Field(default=False, description="A person approved going on past max_failures")
    batches: dict[int, BatchTally] = Field(
        default_factory=dict, description="By batch number (runs started after re-runs; before, partials in order)")


class MapReduceInput(RunInput):
    goal: Goal
    items: list[str] = Field(min_length=1, max_length=20_000)
    mapper: str = Field(pattern=NAME_PATTERN)
    reducer: str = Field(pattern=NAME_PATTERN)
    batch_size: int = Field(default=200, ge=1, le=400, description="Items per child workflow")
    max_parallel: int = Field(default=20, ge=1, le=200, description="Mapper calls at once in one batch")
    max_batches_in_flight: int = Field(default=10, ge=1, le=100)
    reduce_fan_in: int = Field(default=20, ge=2, le=100, description="Results one reducer call combines")
    max_history_events: int = Field(default=2500, ge=200, le=3000, description="Continue as new past this many events (runs stay under ~4,000)")
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed items, start no new batch and wait for a person (approve goes "
        "on); null never waits")
    progress: MapReduceProgress = Field(default_factory=MapReduceProgress, description="Set by continue-as-new only")


class MapBatchInput(RunInput):
    goal: str
    first_index: int
    items: list[str]
    mapper: str
    reducer: str
    max_parallel: int
    reduce_fan_in: int
    feedback: list[str] = Field(default_factory=list, description="A person's feedback on the batch, for every item")


class MapBatchResult(Contract):
    partial: str | None
    mapped: int
    failed: list[ItemFailure]
    usage: Usage


class MapReduceResult(RunResult):
    result: str | None
    items: int
    mapped: int
    failed_count: int
    failed: list[ItemFailure] = Field(description="The first failures (at most 100)")
    runs: int = Field(description="Workflow runs it took (continue-as-new)")


# --------------------------------------------------------------------------- supervisor


class SupervisorInput(RunInput):
    goal: Goal
    supervisor: str = Field(default="supervisor", pattern=NAME_PATTERN)
    workers: list[str] = Field(min_length=1, max_length=50, description="Agents the supervisor may delegate to")
    max_turns: int = Field(default=8, ge=1, le=50, description="Supervisor decisions before it must answer")
    allow_escalation: bool = Field(default=True, description="The supervisor may ask a person (awaiting_review)")

    @model_validator(mode="after")
    def _check_workers(self) -> SupervisorInput:
        for name in self.workers:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"worker {name!r} is not a valid agent name")
        unique(self.workers, "worker")
        if self.supervisor in self.workers:
            raise ValueError(f"the supervisor {self.supervisor!r} cannot also be a worker")
        return self


class Delegation(Contract):
    turn: int
    step: str
    agent: str
    instruction: str
    output: str | None = None
    error: str | None = None


class SupervisorResult(RunResult):
    answer: str | None
    turns: int
    delegations: list[Delegation]
    questions: list[dict[str, str]] = Field(description="What the supervisor asked a person, and the answer")
    stopped: Literal["finished", "max_turns"]


# --------------------------------------------------------------------------- hierarchical


class HierarchicalInput(RunInput):
    goal: Goal
    planner: str = Field(default="planner", pattern=NAME_PATTERN)
    synthesizer: str = Field(default="summarizer", pattern=NAME_PATTERN)
    agents: list[str] | None = Field(default=None, description="Agents the phases may use (default: every configured agent)")
    allow_new_agents: bool = Field(default=True, description="The planner may define agents of its own")
    max_parallel: int = Field(default=5, ge=1, le=100, description="For fan-out and planned phases")
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed phases, wait for a person: approve goes on, feedback on the "
        "plan re-plans, feedback on a failed phase runs it again; null never waits")


class PhaseOutcome(Contract):
    id: str
    pattern: str
    goal: str
    workflow_id: str
    state: StageState
    output: str | None = None
    error: str | None = None


class HierarchicalResult(RunResult):
    phases: list[PhaseOutcome]
    new_agents: list[str]
    synthesis: str | None
