"""FlowWorkflow: a user's own graph of agents, code steps, people, patterns and
maps (``FlowInput``, docs/flows.md), checked before the first call and run by
the flow's state machine (``baton/flows/scheduler.py``) on the runtime's parts.

Every steering control works as on the other patterns: pause / resume (also
reaching child runs), approve at a node's review gate or a human node,
feedback and rewind on a node (it runs again with every node forward of it),
budgets, snapshots, status (each node's state and visits) and the trace (every
edge taken, from the memo's ``flow_edges``). Long flows and loops continue as
new past ``max_history_events``, carrying the flow's state."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from baton.contracts import (Activation, AgentResult, AnswerRequest, Catalog, CatalogRequest, CodeInfo, CodeRequest, CodeResult,
                                 ContextItem, FlowInput, FlowProgress, FlowResult, NodeOutput, NodeState, SteerAck,
                                 Usage, explain)
    from baton.flows.checks import Knowledge, pattern_results, problems, schema_names
    from baton.flows.expressions import ExpressionError
    from baton.flows.graph import FlowGraph
    from baton.flows.scheduler import FlowError, FlowScheduler
    from baton.patterns import About, find_pattern
    from baton.workflows.children import ChildRunsPlane
    from baton.workflows.inputs import NO_INPUT
    from baton.workflows.runtime.caller import retry_policy
    from baton.workflows.runtime.ending import root_message
    from baton.workflows.runtime.gates import RUN_ENDING as ENDS_ANY_RUN, STEADY_STATES, wait_for_person
    from baton.workflows.runtime.inheritance import json_object
    from baton.workflows.runtime.parallel import run_parallel, wait_any_or

RUN_ENDING = (*ENDS_ANY_RUN, "ReviewDeadline")  # failures that end the run, not just the node
# A failed node's own type, kept when the run ends with it (docs/errors.md); others are FlowFailed.
NODE_FAILURE_TYPES = ("AgentFailed", "CodeFailed", "UnknownAgent", "ToolFailed", "ToolTurnsExhausted")
MAX_ITEMS = 1_000  # items one map node runs


@dataclass
class Outcome:
    """How a node's run ended: its output, and the label it chose (an agent or a person)."""

    output: NodeOutput
    choice: str | None = None


def _who(node: Any) -> str:
    """The board's 'agent' column for a node: who or what runs it."""
    if node.kind == "agent":
        return node.agent
    if node.kind == "code":
        return f"code:{node.function}"
    if node.kind == "map":
        return f"map:{node.agent or 'code:' + (node.function or '')}"
    return "person" if node.kind == "human" else f"pattern:{node.pattern}"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@workflow.defn(name="FlowWorkflow", failure_exception_types=[pydantic.ValidationError])
class FlowWorkflow(ChildRunsPlane[FlowInput]):
    about = About(
        "flow", FlowInput, FlowResult, step_noun="node",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Flow:** {len(i.nodes)} nodes, {len(i.edges)} edges, from {i.start}",
    )

    time_travel = True  # a fork begins from the flow's progress at the snapshot (its loops where they were)

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._graph: FlowGraph | None = None
        self._flow: FlowScheduler | None = None
        self._functions: dict[str, CodeInfo] = {}
        self._asking: dict[str, str] = {}  # human node -> its question, while it waits for an answer
        self._answers: dict[str, AnswerRequest] = {}
        self._at_gate: dict[str, Outcome] = {}  # agent nodes waiting at their review gate, with their outcome
        self._finishing: tuple[str, Outcome] | None = None  # the node whose "after" checkpoint is being taken
        self._failure_types: dict[str, str] = {}  # failed node -> the error type the run fails with, if nothing catches it

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> FlowResult:
        inp = await self.begin()
        self.board.define([(n.id, _who(n)) for n in inp.nodes])
        with self.ends_of_run(inp):
            found = await self._check(inp)
            if found:
                raise self.end.invalid_input(found)
            forked = self._forked_progress()
            progress = inp.progress or forked or FlowProgress()
            self._graph = FlowGraph.of(inp)
            self._flow = FlowScheduler(self._graph, progress, inp.goal)
            self._resume_from(progress)
            if inp.progress is None and forked is None:
                self._flow.queue(Activation(node=inp.start))
            await self._run_nodes()
        return self.result()

    async def _check(self, inp: FlowInput) -> list[str]:
        """The flow's problems against the worker's agents, schemas and code functions
        (fetched once, recorded in the history)."""
        await self.agents.resolve(set(), every=True)
        agents = {name: self.agents.spec(name).output_schema for name in self.agents.names()}
        catalog = await workflow.execute_local_activity(
            "flow_catalog", CatalogRequest(schemas=schema_names(inp, agents)), result_type=Catalog,
            start_to_close_timeout=timedelta(seconds=10))
        self._functions = {f.name: f for f in catalog.functions}
        return problems(inp, Knowledge(agents=agents, schemas=catalog.schemas, functions=self._functions,
                                       patterns=pattern_results()))

    def _forked_progress(self) -> FlowProgress | None:
        """A fork's start: the source's progress at the snapshot (its loops where they
        were), with the outputs a person set on nodes it holds. None: start at the start."""
        seed = self.inheritance.seed
        if seed is None or seed.state is None or self.inp.progress is not None:
            return None
        progress = FlowProgress.model_validate(seed.state)
        progress.usage, progress.runs, progress.paused = Usage(), 1, False
        for node, (text, _) in self.inheritance.take_as_state(list(progress.outputs)).items():
            progress.outputs[node] = NodeOutput(text=text, data=json_object(text))
        for node in progress.outputs:
            if node in self.inheritance.origin and node in self.board:
                self.board.took(node, self.inheritance.origin[node])
        return progress

    def fork_steps(self) -> set[str]:
        return {n.id for n in self.inp.nodes}

    def checkpoint_state(self) -> FlowProgress | None:
        """The progress a fork at this checkpoint begins from: the nodes running now
        start again, and the node just done is finished, its edges decided (the loop
        finishes it only when its task returns)."""
        if self._flow is None:
            return None
        if self._finishing is None:
            return self._flow.restartable()
        node, outcome = self._finishing
        progress = self._flow.restartable(keep=node)
        try:
            FlowScheduler(self._graph, progress, self.inp.goal).finish(node, outcome.output, outcome.choice)  # type: ignore[arg-type]
        except FlowError:
            return None  # the run fails at this node anyway
        return progress

    def runs_an_agent(self, step: str) -> bool:
        node = self._graph.nodes[step] if self._graph is not None else None
        return node is not None and (node.kind == "agent" or node.kind == "map" and node.agent is not None)

    def has_output(self, step: str) -> bool:
        return step in self._at_gate or super().has_output(step)

    def output_edited(self, step: str, text: str) -> None:
        edited = NodeOutput(text=text, data=json_object(text))
        if step in self._at_gate:  # its edges are decided on the edit, with the label it chose
            self._at_gate[step].output = edited
        elif self._flow is not None and step in self._flow.progress.outputs:
            self._flow.progress.outputs[step] = edited

    def _resume_from(self, progress: FlowProgress) -> None:
        """A run continued as new: what the runs before it knew."""
        self.agents.count(progress.usage)
        if progress.paused:
            self.pauses.pause()
        for node, output in progress.outputs.items():
            self.timeline.outputs[node] = output.text
            if progress.states.get(node) == "done":
                self.board.set_state(node, "done")
            elif progress.states.get(node) == "failed":
                self.board.fail(node, output.text)
        self._show_states()

    # ------------------------------------------------------------ the scheduling loop

    async def _run_nodes(self) -> None:
        flow, inp = self._scheduler(), self.inp
        running: dict[str, asyncio.Task] = {}
        while True:
            while self.jump_waiting(running):
                self._take_person_jump()
            if not running and self._time_to_continue():
                self._continue_as_new()
            moved = False  # a node started, or was sent on at its bound
            for node in [n for n in self._ready() if n not in running][: inp.max_parallel - len(running)]:
                if self.take_skip(node):  # a person's: its edges out cannot fire
                    flow.skip(node)
                    moved = True
                    continue
                fed_by = self._start(node)
                moved = True
                if flow.started(node):
                    running[node] = asyncio.create_task(self._run_node(node, fed_by))
            self._show_states()
            if not running:
                if moved or self.jump_waiting(running) or self._ready():
                    continue
                return
            await wait_any_or(list(running.values()), lambda: self.jump_waiting(running))
            for node, task in list(running.items()):
                if task.done():
                    del running[node]
                    self._finish(node, task.result())

    def _scheduler(self) -> FlowScheduler:
        assert self._flow is not None, "the flow runs only after its check"
        return self._flow

    def _ready(self) -> list[str]:
        return self._scheduler().ready()

    def _start(self, node: str) -> list[str]:
        try:
            return self._scheduler().start(node)
        except FlowError as err:
            raise ApplicationError(str(err), type="FlowFailed", non_retryable=True) from None

    def _finish(self, node: str, outcome: Outcome | None) -> None:
        flow = self._scheduler()
        if outcome is None:  # sent back from its gate: the person's re-run takes over
            flow.abandon(node)
            return
        try:
            taken = flow.finish(node, outcome.output, outcome.choice)
        except FlowError as err:
            raise ApplicationError(str(err), type="FlowFailed", non_retryable=True) from None
        if taken:  # one memo change per node that moves the run on: the trace reads the edges from the history
            workflow.upsert_memo({"flow_edges": [e.model_dump(mode="json") for e in taken]})
        if outcome.output.failed and not any(e.on == "failure" for e in taken):
            raise ApplicationError(outcome.output.text, type=self._failure_types.get(node, "FlowFailed"),
                                   non_retryable=True)
        self._show_states()

    def _show_states(self) -> None:
        """The board follows the state machine: pending again in a new pass, skipped when not reached."""
        if self._flow is None:
            return
        for node, state in self._flow.progress.states.items():
            shown = self.board.state(node)
            if state in ("pending", "ready") and shown in ("done", "failed", "skipped"):
                self.board.reset([node])
            elif state == "skipped" and shown != "skipped":
                self.board.fail(node, self._skip_reason(node), state="skipped")
        self.info["visits"] = dict(self._flow.progress.visits)
        self.info["edges_taken"] = self._flow.progress.edges_taken
        self.info["last_edges"] = [e.model_dump(mode="json", exclude_defaults=True) for e in self._flow.progress.path_tail[-5:]]
        if self._asking:
            self.info["asking"] = dict(self._asking)
        else:
            self.info.pop("asking", None)
        self.publish()

    def _skip_reason(self, node: str) -> str:
        bound = self._graph.nodes[node].max_visits  # type: ignore[union-attr]
        if bound is not None and self._scheduler().progress.visits[node] >= bound:
            return f"skipped: reached max_visits {bound}"
        return "skipped: no edge into it fired"

    # ------------------------------------------------------------ one node

    async def _run_node(self, node: str, fed_by: list[str]) -> Outcome | None:
        spec = self._graph.nodes[node]  # type: ignore[union-attr]
        self.timeline.before(node)
        context = self._context(spec, fed_by)
        try:
            if spec.kind != "agent" and (given := self.inheritance.take(node, structured=True)) is not None:
                self.board.took(node, self.inheritance.origin[node])  # a person's output: nothing runs
                outcome = Outcome(output=NodeOutput(text=given.text, data=given.data))
            elif spec.kind == "agent":
                outcome = await self._agent(node, spec, context)
            elif spec.kind == "code":
                outcome = await self._code_node(node, spec)
            elif spec.kind == "human":
                outcome = await self._human(node, spec)
            elif spec.kind == "pattern":
                outcome = await self._pattern(node, spec, context)
            else:
                outcome = await self._map(node, spec, context)
        except (ApplicationError, ChildWorkflowError) as err:
            kind = err.type if isinstance(err, ApplicationError) else "FlowFailed"
            if kind in RUN_ENDING:
                raise
            message = err.message if isinstance(err, ApplicationError) else f"node {node!r}: {root_message(err)}"
            self._failure_types[node] = kind if kind in NODE_FAILURE_TYPES else "FlowFailed"
            self.board.fail(node, message)
            return Outcome(output=NodeOutput(text=message, failed=True))
        if outcome is None:
            return None
        if spec.kind == "agent" and spec.review:
            self._at_gate[node] = outcome  # an edit_output while it waits replaces it
            try:
                await self.review_gate(node)
            finally:
                outcome = self._at_gate.pop(node)
            if self._sent_back(node):
                return None
        self._finishing = (node, outcome)  # the checkpoint after it holds it finished (checkpoint_state)
        self.step_done(node, outcome.output.text)
        self._finishing = None
        return outcome

    def _sent_back(self, node: str) -> bool:
        jump = self.timeline.jump
        return not self.reviews.approved(node) and jump is not None and node in self.rerun_scope(jump.step)

    def _context(self, spec: Any, fed_by: list[str]) -> list[ContextItem]:
        outputs, order = self._scheduler().progress.outputs, list(self._graph.nodes)  # type: ignore[union-attr]
        named = [*sorted(fed_by, key=order.index), *(c for c in spec.context if c not in fed_by)]
        items = []
        for source in named:
            if source in outputs:
                out = outputs[source]
                items.append(ContextItem(name=source, output=f"FAILED: {out.text}" if out.failed else out.text))
        return items

    async def _agent(self, node: str, spec: Any, context: list[ContextItem]) -> Outcome:
        labels = self._graph.labels(node)  # type: ignore[union-attr]
        answer = await self.call_agent(node, spec.agent, self.inp.goal, context, spec.instructions,
                                       schema=spec.output_schema, actions=labels, artifact=spec.artifact)
        if not labels:
            return Outcome(output=NodeOutput(text=answer.text, data=answer.data))
        data = dict(answer.data or {})
        choice = data.pop("action", None)
        if spec.output_schema is None and self.agents.spec(spec.agent).output_schema is None:
            return Outcome(output=NodeOutput(text=str(data.get("answer", ""))), choice=choice)
        return Outcome(output=NodeOutput(text=json.dumps(data, ensure_ascii=False), data=data), choice=choice)

    async def _code_node(self, node: str, spec: Any) -> Outcome:
        self.board.start(node)
        result = await self._code(node, spec.function, self._arguments(node, spec.args))
        return Outcome(output=NodeOutput(text=result.text, data=result.data))

    def _arguments(self, node: str, args: dict[str, Any], item: Any = None) -> dict[str, Any]:
        """A code step's arguments: '=EXPRESSION' values evaluated over the outputs so far."""
        values = {}
        for name, value in args.items():
            if isinstance(value, str) and value.startswith("="):
                try:
                    value = self._scheduler().evaluate(value[1:], item)
                except ExpressionError as err:
                    raise ApplicationError(f"node {node!r}: args.{name} {value!r}: {err}", type="FlowFailed") from None
            values[name] = value
        return values

    async def _code(self, step: str, function: str, args: dict[str, Any]) -> CodeResult:
        """One code function call as its own activity, with the function's retry policy and timeout."""
        info = self._functions[function]
        await self.pauses.wait()
        await self.budget.check(self.publish)
        self.board.call_started(step)
        try:
            return await workflow.execute_activity(
                "run_code", CodeRequest(function=function, node=step, args=args), result_type=CodeResult,
                start_to_close_timeout=timedelta(seconds=info.timeout_seconds), retry_policy=retry_policy(info.retry),
                summary=f"code {function} · {step}")
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError(f"{step} cancelled") from err
            raise ApplicationError(f"node {step!r} ({function}) failed: {root_message(err)}", type="CodeFailed") from err
        finally:
            self.board.call_ended(step)

    async def _human(self, node: str, spec: Any) -> Outcome | None:
        labels = self._graph.labels(node)  # type: ignore[union-attr]
        self.board.start(node)
        if spec.question is None and not labels:  # an approval
            await self.review_gate(node)
            return None if self._sent_back(node) else Outcome(output=NodeOutput(text="approved"))
        question = spec.question or f"Choose one of: {', '.join(labels)}"
        self._answers.pop(node, None)
        self._asking[node] = question
        self.board.set_state(node, "awaiting_review")
        self._show_states()
        limits = self.budget.limits
        try:
            if not await wait_for_person(lambda: node in self._answers or self._sent_back(node), limits,
                                         f"nobody answered node {node!r}"):
                self._answers[node] = AnswerRequest(node=node, text=f"(no answer within {limits.review_deadline_seconds:g}s)")
        finally:
            self._asking.pop(node, None)
        if node not in self._answers:
            return None
        answer = self._answers.pop(node)
        return Outcome(output=NodeOutput(text=answer.text), choice=answer.label)

    async def _pattern(self, node: str, spec: Any, context: list[ContextItem]) -> Outcome:
        pattern = find_pattern(spec.pattern)
        try:
            child_input = pattern.input.model_validate(self._pattern_input(pattern, spec.input, context))
        except pydantic.ValidationError as err:  # checked before the run; a run-time value may still not fit
            raise ApplicationError(f"node {node!r}: input for {pattern.name}: {explain(err)}", type="FlowFailed") from None
        runs = self.board.start(node)
        child_id = f"{workflow.info().workflow_id}-{node}-{self._scheduler().progress.visits[node]}" + (
            f"-r{runs}" if runs > 1 else "")
        result = await self.run_child(pattern.workflow_type, child_input, child_id, pattern.result,
                                      f"{pattern.name} node {node}")
        self.agents.count(result.usage)
        text = (pattern.phase.output(result) if pattern.phase else None) or result.model_dump_json()
        return Outcome(output=NodeOutput(text=text, data=result.model_dump(mode="json")))

    def _pattern_input(self, pattern: Any, given: dict[str, Any], context: list[ContextItem]) -> dict[str, Any]:
        """A pattern node's child input: as given; its goal, when not given, is the flow's
        with the outputs the node sees; what is left of the budget passes on."""
        data = {**self.budget.child_share(), **given}
        if "goal" in pattern.input.model_fields and "goal" not in given:
            seen = "\n\n".join(f"Output of {c.name}:\n{c.output}" for c in context)
            data["goal"] = self.inp.goal + (f"\n\n{seen}" if seen else "")
        return data

    async def _map(self, node: str, spec: Any, context: list[ContextItem]) -> Outcome:
        try:
            items = self._scheduler().evaluate(spec.over)
        except ExpressionError as err:
            raise ApplicationError(f"node {node!r}: over {spec.over!r}: {err}", type="FlowFailed") from None
        if not isinstance(items, list):
            raise ApplicationError(f"node {node!r}: over {spec.over!r} gave {type(items).__name__}, not a list",
                                   type="FlowFailed")
        if len(items) > MAX_ITEMS:
            raise ApplicationError(f"node {node!r}: {len(items)} items; a map runs at most {MAX_ITEMS} "
                                   "(use the map-reduce pattern for more)", type="FlowFailed")
        self.board.start(node)
        outputs: list[Any] = [None] * len(items)
        failed: list[dict[str, Any]] = []

        async def one(index: int) -> None:
            step, item = f"{node}[{index}]", items[index]
            try:
                if spec.agent:
                    seen = [*context, ContextItem(name=f"item {index + 1} of {len(items)}", output=_as_text(item))]
                    result: AgentResult | CodeResult = await self.call_agent(step, spec.agent, self.inp.goal, seen,
                                                                             spec.instructions)
                else:
                    result = await self._code(step, spec.function, self._arguments(node, spec.args, item))
                outputs[index] = result.data if result.data is not None else result.text
            except ApplicationError as err:
                if err.type in RUN_ENDING:
                    raise
                failed.append({"index": index, "error": err.message})

        await run_parallel(list(range(len(items))), one, spec.max_parallel)
        failed.sort(key=lambda f: f["index"])
        if items and len(failed) == len(items):
            raise ApplicationError(f"node {node!r}: every item failed; the first: {failed[0]['error']}", type="FlowFailed")
        text = "\n\n".join(f"[{i + 1}] {_as_text(o)}" for i, o in enumerate(outputs) if o is not None)
        return Outcome(output=NodeOutput(text=text, data={"outputs": outputs, "failed": failed}))

    # ------------------------------------------------------------ people

    @workflow.update
    def answer(self, request: AnswerRequest) -> SteerAck:
        """A person's answer to a human node's question (and, with labels, their choice)."""
        node = self._answer_target(request)
        self._answers[node] = request.model_copy(update={"node": node})
        return SteerAck(message=f"node {node!r} answered")

    @answer.validator
    def _validate_answer(self, request: AnswerRequest) -> None:
        node = self._answer_target(request)
        labels = self._graph.labels(node) if self._graph else []
        if labels and request.label not in labels:
            raise ValueError(f"node {node!r} needs a label: one of {', '.join(labels)}")
        if not labels and request.label is not None:
            raise ValueError(f"node {node!r} has no labelled edges; send the answer without a label")

    def _answer_target(self, request: AnswerRequest) -> str:
        if self.end.state not in STEADY_STATES:
            raise ValueError(f"the run is {self.end.state}; nothing awaits an answer")
        if request.node is not None and request.node not in self.board:
            raise ValueError(f"unknown node {request.node!r}; nodes: {', '.join(self.board.names())}")
        if not self._asking:
            raise ValueError("no node is waiting for an answer")
        node = request.node or next(iter(self._asking))
        if node not in self._asking:
            raise ValueError(f"node {node!r} is not waiting for an answer; {', '.join(self._asking)} is")
        return node

    def waiting_for_person(self) -> str | None:
        """A review gate, a tool call to approve, or a human node's question."""
        return super().waiting_for_person() or next(iter(self._asking), None)

    def run_state(self) -> str:  # type: ignore[override]
        state = super().run_state()
        return "awaiting_review" if state == "running" and self._asking else state

    # ------------------------------------------------------------ re-runs a person asks for

    def rerun_scope(self, step: str) -> list[str]:
        """A node runs again with every node forward of it."""
        return self._graph.reach(step) if self._graph is not None else [step]

    def _take_person_jump(self) -> None:
        flow = self._scheduler()
        fed_by = list(flow.progress.fed_by.get(self.timeline.jump.step, []))  # type: ignore[union-attr]
        node = self.take_jump()
        if node is not None:  # its pass begins when the scheduler takes the activation (nothing of it runs now)
            flow.queue(Activation(node=node, fed_by=fed_by, counted=False))

    # ------------------------------------------------------------ long runs

    def _time_to_continue(self) -> bool:
        """Past max_history_events, at a quiet moment: no person's re-run pending, nobody being asked."""
        quiet = not self.timeline.jumps and not self._asking
        return quiet and self.history_full(self.inp.max_history_events)

    def _continue_as_new(self) -> None:
        progress = self._scheduler().progress.model_copy(deep=True)
        progress.usage, progress.runs, progress.paused = self.agents.usage, progress.runs + 1, self.pauses.paused
        workflow.continue_as_new(self.inp.model_copy(update={"progress": progress}))

    # ------------------------------------------------------------ result

    @workflow.query
    def result(self) -> FlowResult:
        progress = self._flow.progress if self._flow is not None else (self._input.progress if self._input else None)
        progress = progress or FlowProgress()
        nodes = self._graph.nodes if self._graph is not None else {}
        return FlowResult(
            outputs=dict(self.timeline.outputs),
            data={n: o.data for n, o in progress.outputs.items() if o.data is not None},
            final=progress.outputs[progress.last].text if progress.last in progress.outputs else None,
            nodes=[NodeState(id=n, kind=spec.kind, state=self.board.state(n), visits=progress.visits.get(n, 0),
                             error=self.board.error(n)) for n, spec in nodes.items()],
            path=list(progress.path_tail), edges_taken=progress.edges_taken, runs=progress.runs,
            usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state(),
        )
