"""The control plane every pattern shares, written once.

A pattern workflow subclasses ``ControlPlane`` and gets: the pause gate checked
before every agent call, the approval inbox and review gate, feedback / rewind
requests with validators, per-stage checkpoints, token accounting, the
``status`` and ``result`` queries, the Web UI's current details, and
``call_agent``, which turns an agent spec into an activity call with that
agent's retry policy, timeouts, summary and fallback models.

Everything here is deterministic: no I/O, no wall clock, no randomness.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import Priority, RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from baton import search
    from baton.contracts import (
        PRIORITY_KEYS,
        AgentRequest,
        AgentResult,
        AgentSpec,
        ApproveRequest,
        ChatTurn,
        ERROR_TYPES,
        ContextItem,
        FeedbackRequest,
        IgnoredSignal,
        RaiseBudgetRequest,
        ResolveAgentsRequest,
        RewindRequest,
        RunInput,
        RunState,
        Snapshot,
        SnapshotInfo,
        StageStatus,
        Status,
        SteerAck,
        ToolSpec,
        Usage,
    )
    from baton.workflows.details import render_details
    from baton.workflows.inputs import NO_INPUT, read_input


MAX_IGNORED = 20  # ignored signals kept in status and the memo


def _plain(value: Any) -> Any:
    """A decoded signal argument as JSON-able data (it may not be the contract it should be)."""
    try:
        return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    except (ValueError, TypeError, ValidationError):
        return repr(value)


T = TypeVar("T")
I = TypeVar("I", bound=RunInput)
BUDGET_EXCEEDED = "BudgetExceeded"
# Patches (workflow.patched): runs recorded before these changes replay their old commands.
INDEX_OWN_RUN = "baton-index-own-run"  # a run started without BatonPattern sets it itself
APPROVALS_BOUND = "baton-approvals-bound"  # approve only what awaits review now; ignored signals kept in the memo
STEADY_STATES = ("running", "paused", "awaiting_review")


@dataclass
class Checkpoint:
    """What a run knew at one moment: before a stage started (rewind restores it)
    or after a step was done. Listed and compared through the snapshot queries."""

    outputs: dict[str, str]
    feedback: dict[str, list[str]]
    artifacts: dict[str, str] = field(default_factory=dict)
    label: str = ""
    step: str = ""
    at: datetime | None = None


@dataclass
class Jump:
    """A person asked to run again from ``stage`` (feedback or rewind)."""

    stage: str
    restore: Checkpoint | None = None


@dataclass
class RunMemory:
    outputs: dict[str, str] = field(default_factory=dict)
    feedback: dict[str, list[str]] = field(default_factory=dict)
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)  # stage -> the latest "before" checkpoint
    snapshots: list[Checkpoint] = field(default_factory=list)  # every checkpoint, in order
    artifacts: dict[str, str] = field(default_factory=dict)  # step -> artifact key of its latest output


def root_cause(err: BaseException) -> BaseException:
    """The error at the bottom of a child workflow or activity failure chain."""
    while isinstance(err, ChildWorkflowError | ActivityError) and err.cause is not None:
        err = err.cause
    return err


def root_message(err: BaseException) -> str:
    """The reason at the bottom of a child workflow failure chain."""
    cause = root_cause(err)
    return getattr(cause, "message", None) or str(cause)


def retry_policy(spec: AgentSpec) -> RetryPolicy:
    return RetryPolicy(
        maximum_attempts=spec.retry.maximum_attempts,
        initial_interval=timedelta(seconds=spec.retry.initial_interval_seconds),
        backoff_coefficient=spec.retry.backoff_coefficient,
        maximum_interval=timedelta(seconds=spec.retry.maximum_interval_seconds),
    )


class ControlPlane(Generic[I]):
    pattern = "pattern"
    step_noun = "step"  # how messages name a unit of work: stage, task, expert…
    contract: type[RunInput] = RunInput  # the pattern's input

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        # Read here, before any handler runs: queries and validators may need it.
        self._input, self._input_problems = read_input(raw, self.contract)
        self._state: RunState = "running"
        self._paused = False
        self._usage = Usage()
        self._specs: dict[str, AgentSpec] = {}
        self._stages: dict[str, StageStatus] = {}
        self._running: list[str] = []
        self._awaiting: str | None = None
        self._approved: set[str] = set()
        self._jump: Jump | None = None
        self._last_done: str | None = None
        self._error: str | None = None
        self.memory = RunMemory()
        self.info: dict = {}  # pattern-specific status (route, plan, round…)
        self._limits = RunInput()  # the budget (RunInput's fields); set by ends_of_run
        self._ignored: list[IgnoredSignal] = []

    # ------------------------------------------------------------ the run's input

    @property
    def inp(self) -> I:
        """The run's input; a run whose input was invalid answers why instead."""
        if self._input is None:
            raise ValueError(self._error or "the run has no valid input")
        return self._input  # type: ignore[return-value]

    async def begin(self) -> I:
        """First thing in a pattern's run: fail at once on invalid input (type
        ``InvalidInput``, one line per problem), then make the run findable by its
        pattern whoever started it. Returns the input."""
        if self._input_problems:
            self._error = f"invalid {self.pattern} input:\n" + "\n".join(f"- {p}" for p in self._input_problems)
            self._state = "failed"
            self._publish()
            raise ApplicationError(self._error, {"problems": self._input_problems}, type="InvalidInput",
                                   non_retryable=True)
        await self._index_run()
        return self.inp

    async def _index_run(self) -> None:
        """Set BatonPattern / BatonState on a run started without them (the temporal
        CLI, another SDK), when the namespace has them registered: upserting an
        unknown attribute would fail the workflow task."""
        indexed = workflow.info().typed_search_attributes
        if indexed.get(search.PATTERN) is not None or not workflow.patched(INDEX_OWN_RUN):
            return
        # A parent run that is indexed passes BatonState to its children: the namespace has them.
        registered = indexed.get(search.STATE) is not None or await workflow.execute_local_activity(
            "search_attributes_registered", result_type=bool, start_to_close_timeout=timedelta(seconds=10))
        if registered:
            workflow.upsert_search_attributes([search.PATTERN.value_set(self.pattern),
                                               search.STATE.value_set(self.run_state())])

    def child_search_attributes(self) -> list:
        """What a child run is started with: BatonState when this run is indexed (so the
        child knows the namespace has the attributes and indexes itself), else nothing."""
        indexed = workflow.info().typed_search_attributes.get(search.PATTERN) is not None
        if indexed and workflow.patched(INDEX_OWN_RUN):
            return [search.STATE.value_set("running")]
        return []

    # ------------------------------------------------------------ pause / resume

    @workflow.signal
    def pause(self) -> None:
        """No new agent call starts until ``resume``; a call in flight finishes."""
        self._paused = True
        self._publish()

    @workflow.signal
    def resume(self) -> None:
        self._paused = False
        self._publish()

    async def pause_gate(self) -> None:
        began = workflow.now() if self._paused else None
        await workflow.wait_condition(lambda: not self._paused)
        if began is not None:
            self._record_human_wait("pause", began)

    def _record_human_wait(self, kind: str, began: datetime) -> None:
        # The workflow meter records on real executions only, never on replay.
        seconds = (workflow.now() - began).total_seconds()
        workflow.metric_meter().create_histogram_float(
            "baton_human_wait_seconds", "Time runs waited for a person, by pattern and kind (review, pause, budget)", "s"
        ).record(seconds, {"pattern": self.pattern, "kind": kind})

    # ------------------------------------------------------------ review gates

    @workflow.signal
    def approve(self, raw: RawValue = NO_INPUT) -> None:
        """Approve the stage awaiting review. Kept for existing callers; the ``approve``
        update answers the caller instead. An approval that does not fit (no such
        stage, another stage or an earlier run of it awaits review, a bad payload) is
        ignored and shown as such in ``status`` and the trace."""
        request, problems = (None, []) if raw is NO_INPUT or not raw.payload.metadata else read_input(raw, ApproveRequest)
        if not workflow.patched(APPROVALS_BOUND):
            self._approve_as_before(request)
            return
        why = "; ".join(problems) or self._approval_problem(request)
        if why:
            self._ignore_signal("approve", raw, why)
            return
        self._approved.add(self._approval_target(request))

    def _approve_as_before(self, request: ApproveRequest | None) -> None:
        # Runs recorded before APPROVALS_BOUND: an approval of any known stage counted,
        # even before it awaited review; a payload that did not decode was dropped.
        stage = (request.stage if request else None) or self._awaiting
        if stage is None or stage not in self._stages:
            workflow.logger.warning("approve ignored: no stage %r awaiting review", stage)
            return
        self._approved.add(stage)

    @workflow.update(name="approve")
    def approve_update(self, request: ApproveRequest) -> SteerAck:
        """Approve the stage awaiting review; rejected with the reason when it does not fit."""
        stage = self._approval_target(request)
        self._approved.add(stage)
        return SteerAck(message=f"{self.step_noun} {stage!r} approved")

    @approve_update.validator
    def _validate_approve(self, request: ApproveRequest) -> None:
        if (why := self._approval_problem(request)) is not None:
            raise ValueError(why)

    def _approval_target(self, request: ApproveRequest | None) -> str:
        return (request.stage if request else None) or self._awaiting or ""

    def _approval_problem(self, request: ApproveRequest | None) -> str | None:
        """Why this approval approves nothing, or None. It binds to the run of the stage
        awaiting review now: an approval re-applied by ``temporal workflow reset`` of an
        earlier run (``run``) or sent before the stage ran again approves nothing new."""
        stage, run = self._approval_target(request), request.run if request else None
        if self._state not in STEADY_STATES:
            return f"the run is {self._state}; nothing awaits review"
        if stage and self._stages and stage not in self._stages:
            return f"unknown {self.step_noun} {stage!r}; {self.step_noun}s: {', '.join(self._stages)}"
        if self._awaiting is None:
            return f"{self.step_noun} {stage!r} is not awaiting review; nothing is" if stage else "nothing is awaiting review"
        if stage != self._awaiting:
            return f"{self.step_noun} {stage!r} is not awaiting review; {self._awaiting!r} is"
        current = self._stages[stage].runs
        if run is not None and run != current:
            return f"this approves run {run} of {self.step_noun} {stage!r}, but run {current} is awaiting review"
        return None

    def _ignore_signal(self, name: str, raw: RawValue, why: str) -> None:
        """Keep an ignored signal visible: in ``status`` and, through the memo, in the trace."""
        workflow.logger.warning("%s ignored: %s", name, why)
        args = workflow.payload_converter().from_payload(raw.payload) if raw is not NO_INPUT and raw.payload.metadata else None
        self._ignored.append(IgnoredSignal(name=name, at=workflow.now(), reason=why, args=_plain(args)))
        del self._ignored[:-MAX_IGNORED]
        workflow.upsert_memo({"ignored_signals": [i.model_dump(mode="json") for i in self._ignored]})
        self._publish()

    async def review_gate(self, stage: str) -> None:
        """Wait after a ``review: true`` stage until it is approved or sent back."""
        self._awaiting = stage
        self._set_stage(stage, "awaiting_review")
        began = workflow.now()
        deadline = self._limits.review_deadline_seconds
        try:
            # No deadline: no timer, the same commands as runs from before deadlines existed.
            await workflow.wait_condition(lambda: stage in self._approved or self._jump is not None,
                                          timeout=timedelta(seconds=deadline) if deadline else None)
        except asyncio.TimeoutError:
            if self._limits.on_review_deadline == "fail":
                raise ApplicationError(f"nobody reviewed {self.step_noun} {stage!r} within {deadline:g}s",
                                       type="ReviewDeadline", non_retryable=True) from None
            workflow.logger.info("review of %s not answered within %ss: approved automatically", stage, deadline,
                                 extra={"stage": stage})
            self._approved.add(stage)
            self._stages[stage].feedback.append(f"approved automatically after {deadline:g}s")
        finally:
            self._awaiting = None
        self._record_human_wait("review", began)
        if stage in self._approved:
            self._set_stage(stage, "done")

    @workflow.update
    def feedback(self, request: FeedbackRequest) -> SteerAck:
        """Re-run a stage (default: the one awaiting review, else the last done) with feedback."""
        stage = self._feedback_target(request)
        self.memory.feedback.setdefault(stage, []).append(request.text.strip())
        self._stages[stage].feedback.append(request.text.strip())
        self._request_jump(Jump(stage))
        return SteerAck(rerun_from=stage, message=f"stage {stage!r} will run again with the feedback")

    @feedback.validator
    def _validate_feedback(self, request: FeedbackRequest) -> None:
        if not request.text.strip():
            raise ValueError("feedback text must not be empty")
        self._feedback_target(request)

    def _feedback_target(self, request: FeedbackRequest) -> str:
        stage = request.stage or self._awaiting or self._last_done
        if stage is None:
            raise ValueError("no stage has completed yet; name one with 'stage'")
        self._require_started(stage)
        return stage

    @workflow.update
    def rewind(self, request: RewindRequest) -> SteerAck:
        """Restore the state checkpointed before a stage and run again from there."""
        self._require_started(request.stage)
        self._request_jump(Jump(request.stage, restore=self.memory.checkpoints[request.stage]))
        return SteerAck(rerun_from=request.stage, message=f"rewound to the checkpoint before {request.stage!r}")

    @rewind.validator
    def _validate_rewind(self, request: RewindRequest) -> None:
        self._require_started(request.stage)

    def _require_started(self, stage: str) -> None:
        if self._state not in ("running", "paused", "awaiting_review"):
            raise ValueError(f"the run is {self._state}; it can no longer be steered")
        if stage not in self._stages:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(self._stages)}")
        if stage not in self.memory.checkpoints:
            raise ValueError(f"stage {stage!r} has not run yet")

    def _request_jump(self, jump: Jump) -> None:
        # Two requests before the loop looks: the earliest stage wins, so no
        # requested re-run is skipped.
        order = list(self._stages)
        if self._jump is None or order.index(jump.stage) <= order.index(self._jump.stage):
            self._jump = jump
        self._publish()

    def take_jump(self) -> str | None:
        """The stage to continue from, if a person asked for a re-run; applies its reset."""
        jump, self._jump = self._jump, None
        if jump is None:
            return None
        if jump.restore is not None:
            self.memory.outputs = dict(jump.restore.outputs)
            self.memory.feedback = {k: list(v) for k, v in jump.restore.feedback.items()}
            self.memory.artifacts = dict(jump.restore.artifacts)
        order = list(self._stages)
        for name in order[order.index(jump.stage):]:
            self._approved.discard(name)
            self._stages[name].state = "pending"
        self._publish()
        return jump.stage

    def checkpoint(self, stage: str) -> None:
        """The state before ``stage`` runs: what ``rewind`` to it restores."""
        self.memory.checkpoints[stage] = self._snapshot(f"before {stage}", stage)

    def _snapshot(self, label: str, step: str) -> Checkpoint:
        taken = Checkpoint(
            outputs=dict(self.memory.outputs),
            feedback={k: list(v) for k, v in self.memory.feedback.items()},
            artifacts=dict(self.memory.artifacts),
            label=label, step=step, at=workflow.now(),
        )
        self.memory.snapshots.append(taken)
        return taken

    @workflow.query
    def snapshots(self) -> list[SnapshotInfo]:
        """Every checkpoint taken so far (without the outputs: see ``snapshot``)."""
        return [SnapshotInfo(seq=n, label=c.label, step=c.step, at=c.at, steps=list(c.outputs))
                for n, c in enumerate(self.memory.snapshots, 1)]

    @workflow.query
    def snapshot(self, seq: int) -> Snapshot:
        """One checkpoint with the outputs and feedback it held."""
        if not 1 <= seq <= len(self.memory.snapshots):
            raise ValueError(f"no snapshot {seq}; this run has {len(self.memory.snapshots)}")
        c = self.memory.snapshots[seq - 1]
        return Snapshot(seq=seq, label=c.label, step=c.step, at=c.at, steps=list(c.outputs),
                        outputs=dict(c.outputs), feedback={k: list(v) for k, v in c.feedback.items()})

    # ------------------------------------------------------------ budget

    def apply_budget(self, inp: RunInput) -> None:
        """The run's budget and priority, from its input."""
        self._limits = RunInput(**inp.limits())

    def over_budget(self) -> str | None:
        """Why no new agent call may start, or None."""
        limits, used = self._limits, self._usage
        if limits.max_tokens_total is not None and used.total_tokens >= limits.max_tokens_total:
            return f"{used.total_tokens} of {limits.max_tokens_total} tokens used"
        if limits.max_cost_usd is not None and used.cost_usd >= limits.max_cost_usd:
            return f"${used.cost_usd:.6f} of ${limits.max_cost_usd:.6f} spent"
        return None

    async def budget_gate(self) -> None:
        """Before an agent call: at the budget, stop the run (its partial results kept)
        or, with ``on_budget: wait``, wait for a person to raise the budget."""
        reason = self.over_budget()
        if reason is None:
            return
        if self._limits.on_budget == "stop":
            raise ApplicationError(f"budget exceeded: {reason}; no new agent call was started", type=BUDGET_EXCEEDED,
                                   non_retryable=True)
        self.info["budget"] = f"{reason}: raise it with the raise_budget update"  # also: the run waits (run_state)
        self._publish()
        began = workflow.now()
        await workflow.wait_condition(lambda: self.over_budget() is None)
        del self.info["budget"]
        self._record_human_wait("budget", began)
        self._publish()

    @workflow.update
    def raise_budget(self, request: RaiseBudgetRequest) -> SteerAck:
        """New limits for the run (None keeps a limit as it is)."""
        self._limits = self._limits.model_copy(update={k: v for k, v in request.model_dump().items() if v is not None})
        self._publish()
        return SteerAck(message=f"budget now {self._limits.max_tokens_total} tokens, ${self._limits.max_cost_usd}")

    @raise_budget.validator
    def _validate_raise_budget(self, request: RaiseBudgetRequest) -> None:
        if request.max_tokens_total is None and request.max_cost_usd is None:
            raise ValueError("give max_tokens_total or max_cost_usd")
        if request.max_tokens_total is not None and request.max_tokens_total <= self._usage.total_tokens:
            raise ValueError(f"the run has already used {self._usage.total_tokens} tokens")
        if request.max_cost_usd is not None and request.max_cost_usd <= self._usage.cost_usd:
            raise ValueError(f"the run has already cost ${self._usage.cost_usd:.6f}")

    def child_budget(self) -> dict:
        """A child run's share: what is left of this run's budget when it starts."""
        limits, used = self._limits, self._usage
        return {
            "max_tokens_total": None if limits.max_tokens_total is None else max(limits.max_tokens_total - used.total_tokens, 1),
            "max_cost_usd": None if limits.max_cost_usd is None else max(limits.max_cost_usd - used.cost_usd, 1e-9),
        }

    # ------------------------------------------------------------ agents

    async def resolve_agents(self, names: set[str], every: bool = False, defined: Sequence[AgentSpec] = ()) -> None:
        """Fetch agent specs once (``every``: all configured ones too); the history
        records the configuration this run used. ``defined``: agents a parent run's
        planner made, used as given and not looked up."""
        self._specs.update({spec.name: spec for spec in defined})
        specs = await workflow.execute_local_activity(
            "resolve_agents",
            ResolveAgentsRequest(names=sorted(names - {spec.name for spec in defined}), every=every),
            result_type=list[AgentSpec],
            start_to_close_timeout=timedelta(seconds=10),
        )
        self._specs.update({spec.name: spec for spec in specs})

    async def call_agent(
        self,
        step: str,
        agent: str,
        goal: str,
        context: Sequence[ContextItem] = (),
        instructions: str | None = None,
        schema: str | None = None,
        tools: Sequence[ToolSpec] = (),
        conversation: Sequence[ChatTurn] = (),
        artifact: bool = False,
    ) -> AgentResult:
        """Run one agent for one step: the pause gate, then the agent's model, then each
        fallback model. ``schema`` asks for structured output whatever the agent's config;
        ``tools`` lets the model call functions (``conversation``: the turns so far);
        ``artifact`` also writes the answer as a file named by run, step and attempt.
        Raises ``ApplicationError`` (type ``AgentFailed``) naming the step when all fail,
        or (type ``BudgetExceeded``) when the run's budget is spent."""
        await self.pause_gate()
        await self.budget_gate()
        spec = self._specs[agent]
        row = self._stages.get(step)
        if row is not None:
            row.runs += 1
            self._set_stage(step, "running")
        self._running.append(step)
        try:
            result = await self._call_models(spec, AgentRequest(
                agent=spec, model=spec.model, goal=goal, stage=step, instructions=instructions,
                context=list(context), feedback=self.memory.feedback.get(step, []), output_schema=schema,
                tools=list(tools), conversation=list(conversation),
                artifact_key=f"{workflow.info().workflow_id}/{step}-v{row.runs if row else 1}.md" if artifact else None,
            ))
        finally:
            self._running.remove(step)
        self._usage += result.usage
        if row is not None:
            row.model = result.model
        if result.artifact:
            self.memory.artifacts[step] = result.artifact
        return result

    async def _call_models(self, spec: AgentSpec, request: AgentRequest) -> AgentResult:
        """The agent's model, its fallback models, then each fallback agent's models, in order."""
        chain = [spec, *(self._specs[name] for name in spec.fallback_agents)]
        tries = [(agent, model) for agent in chain for model in [agent.model, *agent.fallback_models]]
        for position, (agent, model) in enumerate(tries):
            instead = agent.name != spec.name
            try:
                return await workflow.execute_activity(
                    "run_agent",
                    request.model_copy(update={"agent": agent, "model": model, "fallback_for": spec.name if instead else None}),
                    result_type=AgentResult,
                    start_to_close_timeout=timedelta(seconds=agent.start_to_close_seconds),
                    schedule_to_close_timeout=timedelta(seconds=agent.schedule_to_close_seconds),
                    heartbeat_timeout=timedelta(seconds=agent.heartbeat_seconds),
                    retry_policy=retry_policy(agent),
                    # Only when asked for: runs at normal priority issue the same commands as before.
                    priority=Priority(priority_key=PRIORITY_KEYS[self._limits.priority]) if self._limits.priority != "normal"
                    else Priority.default,
                    summary=f"{agent.name} · {request.stage}" + (f" · fallback for {spec.name}" if instead
                                                                 else f" · fallback {model}" if position else ""),
                )
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):  # this run is being cancelled: not the agent's failure
                    raise asyncio.CancelledError(f"{request.stage} cancelled") from err
                reason = str(err.cause if err.cause is not None else err)
                if position == len(tries) - 1:
                    raise ApplicationError(f"{self.step_noun} {request.stage!r} ({spec.name}) failed: {reason}", type="AgentFailed") from err
                following = tries[position + 1]
                workflow.logger.warning("agent %s failed on %s, trying %s: %s", agent.name, model,
                                        following[1] if following[0] is agent else f"agent {following[0].name}", reason,
                                        extra={"agent": agent.name, "stage": request.stage, "model": model})
        raise AssertionError("unreachable: the last try raises")

    def stage_done(self, stage: str, output: str) -> None:
        self.memory.outputs[stage] = output
        self._last_done = stage
        self._snapshot(f"after {stage}", stage)
        self._set_stage(stage, "done")

    async def try_step(
        self, step: str, agent: str, goal: str, context: Sequence[ContextItem] = (), instructions: str | None = None
    ) -> str | None:
        """Run a step whose failure must not sink the run: its output, or None (marked failed)."""
        try:
            answer = await self.call_agent(step, agent, goal, context, instructions)
        except ApplicationError as err:
            if err.type == BUDGET_EXCEEDED:
                raise  # the run stops: not this step's failure
            self.step_failed(step, err.message)
            return None
        self.stage_done(step, answer.text)
        return answer.text

    def step_failed(self, step: str, error: str, state: str = "failed") -> None:
        """Mark a step failed (or ``skipped``) without failing the run."""
        self._stages[step].error = error
        self._set_stage(step, state)

    @staticmethod
    async def run_parallel(items: Sequence[T], work: Callable[[T], Awaitable[None]], limit: int) -> None:
        """``work`` on every item, never more than ``limit`` at once (FIFO, so deterministic)."""
        gate = asyncio.Semaphore(limit)

        async def bounded(item: T) -> None:
            async with gate:
                await work(item)

        await asyncio.gather(*(bounded(item) for item in items))

    @staticmethod
    async def wait_any(tasks: Collection[asyncio.Task]) -> None:
        """Wait until one of ``tasks`` ends. If the run is cancelled meanwhile, they
        are cancelled and awaited first, so nothing finishes after the run has."""
        try:
            await workflow.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await workflow.wait(tasks)
            raise

    # ------------------------------------------------------------ ends of a run

    @contextlib.contextmanager
    def ends_of_run(self, inp: RunInput) -> Iterator[None]:
        """Wrap a pattern's body: a failure ends the run naming its step (and a child
        run's cause), a cancel keeps partial outputs, the end marks it completed.
        Continue-as-new passes through untouched. ``inp``: the run's input, whose
        budget the control plane enforces."""
        self.apply_budget(inp)
        try:
            yield
        except ApplicationError as err:
            raise self.failed(err) from err
        except (ChildWorkflowError, ActivityError) as err:  # a child run's failure, or a local activity's
            cause = root_cause(err)
            raise self.failed(cause if isinstance(cause, ApplicationError) else ApplicationError(root_message(err))) from err
        except asyncio.CancelledError:
            self.cancelled()
            raise
        self.completed()

    def failed(self, err: ApplicationError) -> ApplicationError:
        """The run's failure, with the step, the agent and the provider's reason; its
        type is the cause's when that is one of the stable ERROR_TYPES (docs/errors.md),
        else ``RunFailed`` (the cause's own type is in the details)."""
        self._error = err.message
        self._state = "failed"
        failed_steps = [row.name for row in self._stages.values() if row.state == "running"]
        for name in failed_steps:  # the steps that were running when the run failed
            self._stages[name].state, self._stages[name].error = "failed", err.message
        self._record_outputs()
        details = {"pattern": self.pattern, "steps": failed_steps, "cause_type": err.type}
        stable = err.type if err.type in ERROR_TYPES else "RunFailed"
        return ApplicationError(self._error, details, type=stable, non_retryable=True)

    def cancelled(self) -> None:
        self._state = "cancelled"
        self._record_outputs()

    def completed(self) -> None:
        self._state = "completed"
        self._publish()

    def _record_outputs(self) -> None:
        # A cancelled or failed run keeps what it produced in its memo, readable
        # without a worker (`temporal workflow describe`, the Web UI).
        workflow.upsert_memo({"partial_outputs": dict(self.memory.outputs), "usage": self._usage.model_dump()})
        self._publish()

    # ------------------------------------------------------------ status

    def init_stages(self, stages: list[tuple[str, str]]) -> None:
        self._stages = {name: StageStatus(name=name, agent=agent, state="pending") for name, agent in stages}
        self._publish()

    def add_stages(self, stages: list[tuple[str, str]]) -> None:
        """Rows known only once the run is under way (a plan's tasks)."""
        self._stages.update({name: StageStatus(name=name, agent=agent, state="pending") for name, agent in stages})
        self._publish()

    def _set_stage(self, stage: str, state: str) -> None:
        self._stages[stage].state = state  # type: ignore[assignment]
        self._publish()

    def run_state(self) -> RunState:
        if self._state != "running":
            return self._state
        if self._awaiting is not None or "budget" in self.info:
            return "awaiting_review"
        if self._paused:
            return "paused"
        return "running"

    @workflow.query
    def status(self) -> Status:
        started = workflow.info().start_time
        elapsed = workflow.now() - started
        return Status(
            pattern=self.pattern,
            state=self.run_state(),
            current_stage=self._running[0] if self._running else self._awaiting,
            running=list(self._running),
            completed_stages=[name for name, s in self._stages.items() if s.state == "done"],
            elapsed_seconds=round(elapsed.total_seconds(), 3),
            started_at=started,
            usage=self._usage,
            stages=list(self._stages.values()),
            awaiting_review=self._awaiting or ("budget" if "budget" in self.info else None),
            error=self._error,
            info=dict(self.info),
            ignored_signals=list(self._ignored),
        )

    def _publish(self) -> None:
        state = self.run_state()
        workflow.set_current_details(render_details(self.pattern, state, list(self._stages.values()), self._usage, self.info))
        self._index_state(state)

    def _index_state(self, state: str) -> None:
        # Only runs started with BatonPattern set (baton.start on a server that has the
        # attributes registered) keep BatonState current: upserting an unregistered
        # attribute would fail the workflow task, and older runs' histories replay unchanged.
        indexed = workflow.info().typed_search_attributes  # kept current by every upsert
        if indexed.get(search.PATTERN) is None or indexed.get(search.STATE) == state:
            return
        workflow.upsert_search_attributes([search.STATE.value_set(state)])
