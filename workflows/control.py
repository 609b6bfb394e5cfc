"""The control plane: a pattern workflow's parts (``workflows/runtime/``)
composed, with the steering every pattern takes.

A pattern subclasses ``ControlPlane[ItsInput]`` and uses the parts it holds:
``board`` (its steps), ``agents`` (specs, calls, usage), ``timeline``
(outputs, checkpoints, jumps), ``pauses``, ``reviews`` and ``budget`` (the
gates), ``end`` (how the run ends). This class adds what needs more than one
part: ``call_agent`` (pause gate → budget gate → the step's row → the agent's
models), ``step_done``, ``take_jump``, the ``status`` query, and the handlers:
``pause`` / ``resume`` / ``approve`` signals, ``approve`` / ``feedback`` /
``rewind`` / ``raise_budget`` updates with validators, ``snapshots`` /
``snapshot`` queries.

Everything here is deterministic: no I/O, no wall clock, no randomness.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from baton.contracts import (
        AgentRequest,
        AgentResult,
        ApproveRequest,
        ChatTurn,
        ContextItem,
        EditOutputRequest,
        FeedbackRequest,
        ForkSpec,
        IgnoredSignal,
        RaiseBudgetRequest,
        RewindRequest,
        RunInput,
        RunState,
        SetAgentRequest,
        SetModelRequest,
        SkipRequest,
        Snapshot,
        SnapshotInfo,
        Status,
        SteerAck,
        ToolDecisionRequest,
        ToolSpec,
    )
    from baton.patterns import About
    from baton.workflows.inputs import NO_INPUT, read_input
    from baton.workflows.runtime import publishing
    from baton.workflows.runtime.board import StepBoard
    from baton.workflows.runtime.caller import AgentCaller
    from baton.workflows.runtime.dag import RERUN_ANY_STEP
    from baton.workflows.runtime.ending import RunEnd, require_history_room
    from baton.workflows.runtime.approvals import ToolApprovals
    from baton.workflows.runtime.gates import RUN_ENDING, STEADY_STATES, Budget, PauseGate, ReviewGate
    from baton.workflows.runtime.inheritance import Inheritance
    from baton.workflows.runtime.overrides import Overrides
    from baton.workflows.runtime.timeline import Jump, Timeline
    from baton.workflows.runtime.tool_use import ToolUse


MAX_IGNORED = 20  # ignored signals kept in status and the memo
# Patch (workflow.patched): approve only what awaits review now; ignored signals kept in the memo.
APPROVALS_BOUND = "baton-approvals-bound"
# Patch: a signal with an unknown name, or arguments where it takes none, is kept visible (it was dropped).
SIGNALS_SEEN = "baton-signals-seen"
SIGNALS = ("approve", "pause", "resume")  # the named signal handlers below: what a run takes
RUN_START_PATCHES: tuple[str, ...] = (RERUN_ANY_STEP,)

I = TypeVar("I", bound=RunInput)


def _plain(value: Any) -> Any:
    """A decoded signal argument as JSON-able data (it may not be the contract it should be)."""
    try:
        return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    except (ValueError, TypeError, ValidationError):
        return repr(value)


def _decoded(raws: Sequence[RawValue]) -> list[Any]:
    """A signal's raw arguments as plain data, to show."""
    values = []
    for raw in raws:
        try:
            values.append(workflow.payload_converter().from_payload(raw.payload) if raw.payload.metadata else None)
        except Exception:  # noqa: BLE001 - whatever a client sent is shown, not raised
            values.append(repr(raw.payload.data[:200]))
    return values


class ControlPlane(Generic[I]):
    about: ClassVar[About | None] = None  # a pattern declares itself here, once (baton/patterns.py)
    pattern = "pattern"
    step_noun = "step"  # how messages name a step of this pattern: stage, task, expert answer…
    contract: type[RunInput] = RunInput  # the pattern's input
    run_start_patches: tuple[str, ...] = RUN_START_PATCHES  # decided in begin(), before any local activity
    time_travel: ClassVar[bool] = False  # fork, edit_output, skip, set_agent, set_model (docs/time-travel.md)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        about = cls.__dict__.get("about")
        if isinstance(about, About):
            cls.pattern, cls.step_noun, cls.contract = about.name, about.step_noun, about.input

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        # Read here, before any handler runs: queries and validators may need it.
        self._input, self._input_problems = read_input(raw, self.contract)
        self._details_due = False  # the Web UI's details are rendered at the end of this activation
        self.info: dict = {}  # pattern-specific status (route, plan, round…), owned by the pattern
        self.board = StepBoard(changed=self.publish)
        self.agents = AgentCaller(self.step_noun)
        self.inheritance = Inheritance()
        self.overrides = Overrides()
        self.timeline = Timeline(spent=lambda: self.inheritance.usage + self.agents.usage, state=self.checkpoint_state)
        self.pauses = PauseGate(self.pattern)
        self.reviews = ReviewGate(self.pattern, self.step_noun, self.board)
        self.budget = Budget(self.pattern, usage=lambda: self.agents.usage)
        self.end = RunEnd(self.pattern, self.board, self.timeline, self.agents, changed=self.publish)
        self.approvals = ToolApprovals(self.pattern, changed=self.publish)
        self.tool_use = ToolUse(self.approvals, self.step_noun, self.pattern, changed=self.publish)
        self._ignored: list[IgnoredSignal] = []

    # ------------------------------------------------------------ the run's input and its end

    @property
    def inp(self) -> I:
        """The run's input; a run whose input was invalid answers why instead."""
        if self._input is None:
            raise ValueError(self.end.error or "the run has no valid input")
        return self._input  # type: ignore[return-value]

    async def begin(self) -> I:
        """First thing in a pattern's run: fail at once on invalid input (type
        ``InvalidInput``, one line per problem), then make the run findable by its
        pattern whoever started it. Returns the input."""
        if self._input_problems:
            raise self.end.invalid_input(self._input_problems)
        # Patches decided later in a run are decided here, before any local activity:
        # a run's first local activity may complete in one workflow task and the
        # workflow go on in the next (a query can split them), and a patch decided
        # just after it then replays without its marker (a non-determinism error).
        for patch in self.run_start_patches:
            workflow.patched(patch)
        await publishing.index_own_run(self.pattern, self.run_state(), self.inp.fork.source if self.inp.fork else None)
        if self.inp.fork is not None:
            await self._begin_fork(self.inp.fork)
        return self.inp

    async def _begin_fork(self, fork: ForkSpec) -> None:
        """A fork: the source's snapshot read once, the people's choices checked
        against the run's steps and the agents file; any problem fails the run at once."""
        if not self.time_travel:
            raise self.end.invalid_input([f"fork: a {self.pattern} run cannot be forked; the pipeline, planned DAG "
                                          "and flow can (docs/time-travel.md)"])
        try:
            await self.inheritance.load(fork)
            steps = self.fork_steps()
            named = {*fork.set, *fork.agents, *fork.models}
            if steps is not None:
                if unknown := sorted(named - steps):
                    raise ValueError(f"fork: no {self.step_noun} {', '.join(map(repr, unknown))} in this run; "
                                     f"{self.step_noun}s: {', '.join(sorted(steps))}")
                self.inheritance.keep_only(steps)  # a fork with other steps (--input) inherits only the ones it has
            for agent in set(fork.agents.values()):
                await self.agents.known(agent)
            if fork.models and (unknown := sorted(set(fork.models.values()) - await self.agents.models())):
                raise ValueError(f"fork: no agent of the agents file uses model {', '.join(map(repr, unknown))}")
        except ValueError as err:
            raise self.end.invalid_input([str(err)]) from None
        self.overrides.agents.update(fork.agents)
        self.overrides.models.update(fork.models)
        assert self.inheritance.info is not None
        workflow.upsert_memo({"fork": self.inheritance.info.model_dump(mode="json")})

    def fork_steps(self) -> set[str] | None:
        """The steps a fork's choices may name, known before the run (None: known only
        as it goes, like a plan's tasks)."""
        return None

    def checkpoint_state(self) -> BaseModel | None:
        """What a checkpoint records besides the outputs, when they cannot say where the
        run was (a flow's progress): what a fork there begins from."""
        return None

    @contextlib.contextmanager
    def ends_of_run(self, inp: RunInput) -> Iterator[None]:
        """Wrap a pattern's body: ``inp``'s budget, priority and review deadline apply,
        and the run ends as ``RunEnd.watch`` says."""
        self.budget.apply(inp)
        with self.end.watch():
            yield

    # ------------------------------------------------------------ steps

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
        actions: Sequence[str] = (),
    ) -> AgentResult:
        """Run one agent for one step: the pause gate, the budget gate, then the agent's
        models in order (``AgentCaller.call``). ``schema`` asks for structured output
        whatever the agent's config; ``tools`` lets the model call functions
        (``conversation``: the turns so far); ``artifact`` also writes the answer as a
        file named by run, step and run number; ``actions``: labels the agent chooses
        one of (its answer's ``action``). A step without a row on the board
        (a reducer call, a batch's item) is called all the same. An agent with tools
        of its own (and no ``tools`` from the caller) calls them turn by turn
        (``ToolUse``), each later turn through the pause and budget gates again."""
        agent = self.overrides.agent(step, agent)
        on_board = step in self.board
        structured = bool(schema or actions or self.agents.spec(agent).output_schema)
        if (given := self.inheritance.take(step, structured)) is not None:  # a fork's, or a person's: no call
            if on_board:
                self.board.took(step, self.inheritance.origin[step])
            if given.artifact:  # the source's file: later steps read the whole output from it
                self.timeline.add_artifact(step, given.artifact)
            return given
        require_history_room(step)
        await self.pauses.wait()
        await self.budget.check(self.publish)
        own_tools = [] if tools else await self.agents.tools_of(agent)
        if on_board:
            if agent != self.board.agent(step):
                self.board.assign(step, agent)
            self.board.chosen(step, self.overrides.shown(step))
        run = self.board.start(step) if on_board else 1
        self.board.call_started(step)
        request = AgentRequest(
            agent=self.agents.spec(agent), model=self.agents.spec(agent).model, goal=goal, stage=step,
            instructions=instructions, context=list(context), feedback=self.timeline.feedback.get(step, []),
            output_schema=schema, tools=list(tools), conversation=list(conversation), actions=list(actions),
            artifact_key=f"{workflow.info().workflow_id}/{step}-v{run}.md" if artifact else None,
        )
        try:
            if own_tools:
                result = await self.tool_use.converse(request, own_tools, self._model_turn, self.budget.limits)
            else:
                result = await self.agents.call(agent, request, self.budget.limits.priority, self.overrides.model(step))
        finally:
            self.board.call_ended(step)
        if on_board:
            self.board.answered(step, result)
        if result.artifact:
            self.timeline.add_artifact(step, result.artifact)
        return result

    async def _model_turn(self, request: AgentRequest, first: bool) -> AgentResult:
        if not first:  # the first went through the gates in call_agent
            await self.pauses.wait()
            await self.budget.check(self.publish)
        return await self.agents.call(request.agent.name, request, self.budget.limits.priority,
                                      self.overrides.model(request.stage))

    def step_done(self, step: str, output: str) -> None:
        self.timeline.done(step, output)
        self.board.set_state(step, "done")

    async def try_step(
        self, step: str, agent: str, goal: str, context: Sequence[ContextItem] = (), instructions: str | None = None
    ) -> str | None:
        """Run a step whose failure must not sink the run: its output, or None (marked failed)."""
        try:
            answer = await self.call_agent(step, agent, goal, context, instructions)
        except ApplicationError as err:
            if err.type in RUN_ENDING:
                raise  # the run stops: not this step's failure alone
            self.board.fail(step, err.message)
            return None
        self.step_done(step, answer.text)
        return answer.text

    async def review_gate(self, step: str) -> None:
        """Wait after a ``review: true`` step until it is approved or sent back. A gate
        with no step of its own (a fan-out's ``failures``) gets a person's row first. A
        step whose output was inherited or given by a person has been seen already."""
        if step in self.inheritance.origin:
            return
        if step not in self.board:
            self.board.add([(step, "person")])
        await self.reviews.wait(step, sent_back=lambda: self.timeline.jump is not None, limits=self.budget.limits)
        jump = self.timeline.jump
        if not self.reviews.approved(step) and jump is not None and step not in self.rerun_scope(jump.step):
            self.board.set_state(step, "done")  # sent back to another step: this one stays as it was

    def rerun_scope(self, step: str) -> list[str]:
        """The steps that run again when ``step`` does: by default it and every later
        step on the board (a pipeline: later stages saw its output). A pattern whose
        steps depend on each other otherwise says so here, and raises ValueError
        saying why when ``step`` cannot run again."""
        order = self.board.names()
        return order[order.index(step):]

    def jump_waiting(self, running: Collection[str], among: Collection[str] | None = None) -> bool:
        """A re-run a person asked for (of one of ``among``, default any step) that can
        be taken now: none of the steps it would run again is ``running``."""
        jump = self.timeline.next_jump(among)
        return jump is not None and not set(self.rerun_scope(jump.step)) & set(running)

    def history_full(self, max_events: int) -> bool:
        """Time to continue as new: the history holds ``max_events`` events, or the server suggests it."""
        info = workflow.info()
        return info.get_current_history_length() >= max_events or info.is_continue_as_new_suggested()

    def take_jump(self, among: Collection[str] | None = None) -> str | None:
        """The step to continue from, if a person asked for a re-run (of one of
        ``among``, default any step): its scope (``rerun_scope``) pending and
        unapproved, and for a rewind what its checkpoint held restored."""
        jump = self.timeline.next_jump(among)
        if jump is None:
            return None
        again = self.rerun_scope(jump.step)
        self.timeline.take_jump(jump, again)
        self.reviews.forget(again)
        self.board.reset(again)
        self.publish()
        return jump.step

    # ------------------------------------------------------------ pause / resume

    @workflow.signal
    def pause(self, *stray: Any) -> None:
        """No new agent call starts until ``resume``; a call in flight finishes."""
        if self.stray_arguments("pause", stray):
            return
        self.pauses.pause()
        self.publish()

    @workflow.signal
    def resume(self, *stray: Any) -> None:
        if self.stray_arguments("resume", stray):
            return
        self.pauses.resume()
        self.publish()

    def stray_arguments(self, name: str, args: Sequence[Any]) -> bool:
        """Whether signal ``name``, which takes no argument, got some: then it is ignored,
        visibly (a client that means another signal, or another run, should hear of it)."""
        if not args or not workflow.patched(SIGNALS_SEEN):
            return False
        self._ignore_signal(name, f"{name} takes no argument; {len(args)} given", args)
        return True

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """A signal no handler takes (a typo, another pattern's): shown as ignored, not buffered unseen."""
        if workflow.patched(SIGNALS_SEEN):
            self._ignore_signal(name, f"no signal {name!r}; this run takes {', '.join(SIGNALS)}", _decoded(args))

    # ------------------------------------------------------------ review gates

    @workflow.signal
    def approve(self, raw: RawValue = NO_INPUT) -> None:
        """Approve the step awaiting review. Kept for existing callers; the ``approve``
        update answers the caller instead. An approval that does not fit (no such
        step, another step or an earlier run of it awaits review, a bad payload) is
        ignored and shown as such in ``status`` and the trace."""
        request, problems = (None, []) if raw is NO_INPUT or not raw.payload.metadata else read_input(raw, ApproveRequest)
        if not workflow.patched(APPROVALS_BOUND):
            self._approve_as_before(request)
            return
        why = "; ".join(problems) or self.reviews.problem(request, self.end.state)
        if why:
            self._ignore_signal("approve", why, _decoded([raw]) if raw is not NO_INPUT else [])
            return
        self.reviews.approve(self.reviews.target(request))

    def _approve_as_before(self, request: ApproveRequest | None) -> None:
        # Runs recorded before APPROVALS_BOUND: an approval of any known step counted,
        # even before it awaited review; a payload that did not decode was dropped.
        step = (request.stage if request else None) or self.reviews.awaiting
        if step is None or step not in self.board:
            workflow.logger.warning("approve ignored: no stage %r awaiting review", step)
            return
        self.reviews.approve(step)

    @workflow.update(name="approve")
    def approve_update(self, request: ApproveRequest) -> SteerAck:
        """Approve the step awaiting review; rejected with the reason when it does not fit."""
        step = self.reviews.target(request)
        self.reviews.approve(step)
        return SteerAck(message=f"{self.step_noun} {step!r} approved")

    @approve_update.validator
    def _validate_approve(self, request: ApproveRequest) -> None:
        if (why := self.reviews.problem(request, self.end.state)) is not None:
            raise ValueError(why)

    def _ignore_signal(self, name: str, why: str, args: Sequence[Any]) -> None:
        """Keep an ignored signal visible: in ``status`` and, through the memo, in the trace
        (``args``: what it was sent, shown as the one argument itself, else their list)."""
        workflow.logger.warning("%s ignored: %s", name, why)
        shown = None if not args else args[0] if len(args) == 1 else list(args)
        self._ignored.append(IgnoredSignal(name=name, at=workflow.now(), reason=why, args=_plain(shown)))
        del self._ignored[:-MAX_IGNORED]
        workflow.upsert_memo({"ignored_signals": [i.model_dump(mode="json") for i in self._ignored]})
        self.publish()

    # ------------------------------------------------------------ feedback / rewind

    @workflow.update
    def feedback(self, request: FeedbackRequest) -> SteerAck:
        """Re-run a step (default: the one awaiting review, else the last done) with feedback."""
        step = self._feedback_target(request)
        self.timeline.add_feedback(step, request.text.strip())
        self.board.note(step, request.text.strip())
        self._ask_jump(Jump(step))
        return SteerAck(rerun_from=step, message=f"{self.step_noun} {step!r} will run again with the feedback")

    @feedback.validator
    def _validate_feedback(self, request: FeedbackRequest) -> None:
        if not request.text.strip():
            raise ValueError("feedback text must not be empty")
        self._feedback_target(request)

    def _feedback_target(self, request: FeedbackRequest) -> str:
        step = request.stage or self.reviews.awaiting or self.timeline.last_done
        if step is None:
            raise ValueError(f"no {self.step_noun} has completed yet; name one with 'stage'")
        self._require_started(step)
        return step

    @workflow.update
    def rewind(self, request: RewindRequest) -> SteerAck:
        """Restore the state checkpointed before a step and run again from there."""
        self._require_started(request.stage)
        self._ask_jump(Jump(request.stage, restore=self.timeline.checkpoints[request.stage]))
        return SteerAck(rerun_from=request.stage, message=f"rewound to the checkpoint before {request.stage!r}")

    @rewind.validator
    def _validate_rewind(self, request: RewindRequest) -> None:
        self._require_started(request.stage)

    def _require_started(self, step: str) -> None:
        if self.end.state not in STEADY_STATES:
            raise ValueError(f"the run is {self.end.state}; it can no longer be steered")
        if step not in self.board:
            raise ValueError(f"unknown {self.step_noun} {step!r}; {self.step_noun}s: {', '.join(self.board.names())}")
        self.rerun_scope(step)  # raises when the pattern cannot run it again, saying why
        if not self.timeline.started(step):
            raise ValueError(f"{self.step_noun} {step!r} has not run yet")

    def _ask_jump(self, jump: Jump) -> None:
        self.timeline.ask_jump(jump, self.board.names())
        self.publish()

    @workflow.query
    def snapshots(self) -> list[SnapshotInfo]:
        """Every checkpoint taken so far (without the outputs: see ``snapshot``)."""
        return self.timeline.snapshot_infos()

    @workflow.query
    def snapshot(self, seq: int) -> Snapshot:
        """One checkpoint with the outputs and feedback it held."""
        return self.timeline.snapshot(seq)

    # ------------------------------------------------------------ time travel inside a run (docs/time-travel.md)

    @workflow.update
    def edit_output(self, request: EditOutputRequest) -> SteerAck:
        """Replace a finished step's output. Steps that have not run yet see the edit;
        with ``rerun`` the steps after it run again too (it keeps the edit)."""
        self._require_time_travel(request.stage, "edit")
        self.timeline.edit(request.stage, request.text)
        self.output_edited(request.stage, request.text)
        self.board.took(request.stage, "set")
        if request.note:
            self.board.note(request.stage, f"edited: {request.note}")
        if not request.rerun:
            return SteerAck(message=f"{self.step_noun} {request.stage!r} edited; what runs from now on sees the edit")
        self.inheritance.give(request.stage, request.text)
        self._ask_jump(Jump(request.stage))
        return SteerAck(rerun_from=request.stage,
                        message=f"{self.step_noun} {request.stage!r} edited; what came after it runs again")

    @edit_output.validator
    def _validate_edit_output(self, request: EditOutputRequest) -> None:
        self._require_time_travel(request.stage, "edit")
        if not self.has_output(request.stage):
            raise ValueError(f"{self.step_noun} {request.stage!r} has not finished "
                             f"({self.board.state(request.stage)}); only a finished one's output can be edited")
        if not request.text.strip():
            raise ValueError("the new output must not be empty")
        if request.rerun:
            self.rerun_scope(request.stage)  # raises when the pattern cannot run it again

    def has_output(self, step: str) -> bool:
        """Whether ``step`` has finished with an output a person may edit (done, or waiting at its review gate)."""
        return self.board.state(step) in ("done", "awaiting_review") and step in self.timeline.outputs

    def output_edited(self, step: str, text: str) -> None:
        """A pattern that keeps outputs of its own (a flow's progress) takes the edit there too."""

    @workflow.update
    def skip(self, request: SkipRequest) -> SteerAck:
        """A pending step does not run: it takes the person's ``output``, or none."""
        self._require_time_travel(request.stage, "skip")
        if request.output is not None:
            self.inheritance.give(request.stage, request.output)
        else:
            self.inheritance.skip(request.stage, f"skipped by a person: {request.reason}")
        self.board.note(request.stage, f"skip: {request.reason}")
        self.publish()
        return SteerAck(message=f"{self.step_noun} {request.stage!r} will be skipped"
                        + (" with the output given" if request.output is not None else ""))

    @skip.validator
    def _validate_skip(self, request: SkipRequest) -> None:
        self._require_time_travel(request.stage, "skip")
        if self.board.state(request.stage) != "pending":
            raise ValueError(f"{self.step_noun} {request.stage!r} is {self.board.state(request.stage)}; "
                             "only one that has not started can be skipped")

    def take_skip(self, step: str) -> bool:
        """Whether a person skipped ``step`` (shown skipped on the board, once)."""
        reason = self.inheritance.skipped(step)
        if reason is not None:
            self.board.fail(step, reason, state="skipped")
            self.board.took(step, "skipped")
        return reason is not None

    @workflow.update
    async def set_agent(self, request: SetAgentRequest) -> SteerAck:
        """Another agent of the agents file runs the step from its next run on."""
        self._require_time_travel(request.stage, "set_agent")
        try:
            await self.agents.known(request.agent)
        except ValueError as err:
            raise ApplicationError(str(err), type="InvalidRequest", non_retryable=True) from None
        self.overrides.agents[request.stage] = request.agent
        self.board.assign(request.stage, request.agent)
        self.board.chosen(request.stage, self.overrides.shown(request.stage))
        self.publish()
        return SteerAck(message=f"{self.step_noun} {request.stage!r} runs with agent {request.agent!r} from its next run")

    @set_agent.validator
    def _validate_set_agent(self, request: SetAgentRequest) -> None:
        self._require_agent_step(request.stage, "set_agent")

    @workflow.update
    async def set_model(self, request: SetModelRequest) -> SteerAck:
        """The step's agent uses another model (one the agents file names) from its next run on."""
        self._require_time_travel(request.stage, "set_model")
        if request.model not in await self.agents.models():
            raise ApplicationError(f"no agent of the agents file uses model {request.model!r}",
                                   type="InvalidRequest", non_retryable=True)
        self.overrides.models[request.stage] = request.model
        self.board.chosen(request.stage, self.overrides.shown(request.stage))
        self.publish()
        return SteerAck(message=f"{self.step_noun} {request.stage!r} runs on {request.model!r} from its next run")

    @set_model.validator
    def _validate_set_model(self, request: SetModelRequest) -> None:
        self._require_agent_step(request.stage, "set_model")

    def _require_agent_step(self, step: str, what: str) -> None:
        self._require_time_travel(step, what)
        if not self.runs_an_agent(step):
            raise ValueError(f"{self.step_noun} {step!r} runs no agent; {what} applies to steps that do")

    def runs_an_agent(self, step: str) -> bool:
        """Whether ``step`` calls an agent (a flow's code and human nodes do not)."""
        return True

    def _require_time_travel(self, step: str, what: str) -> None:
        if not self.time_travel:
            raise ValueError(f"a {self.pattern} run takes no {what}; the pipeline, planned DAG and flow do "
                             "(docs/time-travel.md)")
        if self.end.state not in STEADY_STATES:
            raise ValueError(f"the run is {self.end.state}; it can no longer be steered")
        if step not in self.board:
            raise ValueError(f"unknown {self.step_noun} {step!r}; {self.step_noun}s: {', '.join(self.board.names())}")

    # ------------------------------------------------------------ budget

    @workflow.update
    def raise_budget(self, request: RaiseBudgetRequest) -> SteerAck:
        """New limits for the run (None keeps a limit as it is)."""
        message = self.budget.raise_to(request)
        self.publish()
        return SteerAck(message=message)

    @raise_budget.validator
    def _validate_raise_budget(self, request: RaiseBudgetRequest) -> None:
        if (why := self.budget.problem(request)) is not None:
            raise ValueError(why)

    # ------------------------------------------------------------ tool approvals

    @workflow.update
    def approve_tool(self, request: ToolDecisionRequest) -> SteerAck:
        """Let a waiting ``needs_approval`` tool call run."""
        approval = self.approvals.decide(request, approved=True)
        return SteerAck(message=f"tool call {approval.id} ({approval.tool}) approved")

    @workflow.update
    def deny_tool(self, request: ToolDecisionRequest) -> SteerAck:
        """Refuse a waiting tool call: the model gets the denial and its reason as the tool's result."""
        approval = self.approvals.decide(request, approved=False)
        return SteerAck(message=f"tool call {approval.id} ({approval.tool}) denied")

    @approve_tool.validator
    def _validate_approve_tool(self, request: ToolDecisionRequest) -> None:
        if (why := self.approvals.problem(request, self.end.state)) is not None:
            raise ValueError(why)

    @deny_tool.validator
    def _validate_deny_tool(self, request: ToolDecisionRequest) -> None:
        self._validate_approve_tool(request)

    # ------------------------------------------------------------ status

    def run_state(self) -> RunState:
        if self.end.state != "running":
            return self.end.state
        if self.reviews.awaiting is not None or self.budget.waiting is not None or self.approvals.waiting:
            return "awaiting_review"
        if self.pauses.paused:
            return "paused"
        return "running"

    def waiting_for_person(self) -> str | None:
        """The step a person is asked about now (a review gate, a tool call to approve; a
        pattern may add its own asks)."""
        if self.reviews.awaiting is None and self.approvals.waiting:
            return next(iter(self.approvals.waiting.values())).step
        return self.reviews.awaiting

    def _shown_info(self) -> dict:
        """The pattern's info, and what the run waits for a person about (the Web UI's header line)."""
        shown = dict(self.info)
        if self.budget.waiting is not None:
            shown["budget"] = self.budget.waiting
        if self.approvals.waiting:
            shown["approve"] = ", ".join(f"{a.id} {a.tool}" for a in self.approvals.waiting.values())
        if (fork := self.inheritance.info) is not None and fork.source is not None:
            shown["fork of"] = f"{fork.source} @ {fork.at}"
        return shown

    def publish(self) -> None:
        """Show a visible change: on indexed runs BatonState at once (it is a command);
        the Web UI's details once this activation's other changes are in. A wave of calls
        resolved in one activation rendered the table once per call: 6 % of a saturated
        worker's CPU on a 500-wide fan-out."""
        publishing.index_state(self.run_state())
        if not self._details_due:
            self._details_due = True
            asyncio.get_running_loop().call_soon(self._show_details)

    def _show_details(self) -> None:
        self._details_due = False
        publishing.show_details(self.pattern, self.run_state(), self.board.rows(), self.agents.usage, self._shown_info())

    @workflow.query
    def status(self) -> Status:
        started = workflow.info().start_time
        elapsed = workflow.now() - started
        running = self.board.calling()
        return Status(
            pattern=self.pattern,
            state=self.run_state(),
            current_stage=running[0] if running else self.waiting_for_person(),
            running=running,
            completed_stages=self.board.in_state("done"),
            elapsed_seconds=round(elapsed.total_seconds(), 3),
            started_at=started,
            usage=self.agents.usage,
            stages=self.board.rows(),
            awaiting_review=self.waiting_for_person() or ("budget" if self.budget.waiting is not None else None),
            error=self.end.error,
            info=self._shown_info(),
            ignored_signals=list(self._ignored),
            tool_approvals=list(self.approvals.waiting.values()),
            tool_calls=list(self.tool_use.calls),
            fork=self.inheritance.info,
        )
