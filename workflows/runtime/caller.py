"""The agent caller: the specs a run resolved (once, recorded in its history),
each agent call as an activity with the agent's retry policy, timeouts and
summary, the fallback chain (the agent's fallback models, then its fallback
agents), and the run's usage and cost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

from baton.call_summary import call_summary
from baton.contracts import (PAYLOAD_BYTES_LIMIT, PAYLOAD_ROOM, PRIORITY_KEYS, TOO_LARGE_ADVICE, AgentRequest, AgentResult,
                             AgentSpec, ContextItem, ResolveAgentsRequest, RetrySpec, ToolInfo, ToolsRequest, Usage)


async def store_threshold() -> int | None:
    """The size past which this worker stores payloads externally (None: no store). Asked
    only once a payload would exceed the limit: recorded, so runs without large payloads never ask."""
    return await workflow.execute_local_activity("payload_store", result_type=int | None,
                                                 start_to_close_timeout=timedelta(seconds=10))


def stored(size: int, threshold: int | None) -> bool:
    """Whether a store past ``threshold`` (None: no store) takes a payload of ``size`` bytes."""
    return threshold is not None and size >= threshold


BUNDLE_MIN_ITEMS = 16  # fewer earlier outputs travel as their own references (~70 bytes each)


def retry_policy(retry: RetrySpec) -> RetryPolicy:
    return RetryPolicy(
        maximum_attempts=retry.maximum_attempts,
        initial_interval=timedelta(seconds=retry.initial_interval_seconds),
        backoff_coefficient=retry.backoff_coefficient,
        maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
    )


class AgentCaller:
    def __init__(self, step_noun: str) -> None:
        self._specs: dict[str, AgentSpec] = {}
        self._tools: dict[str, asyncio.Future[list[ToolInfo]]] = {}  # each agent's listing, once per run
        self._step_noun = step_noun
        self._every = False  # every configured agent resolved (to list the models a person may choose)
        self._store_asked = False  # the worker's payload store, asked once a payload would pass the limit
        self._store_threshold: int | None = None
        # Answers the worker kept in its payload store, by their text: later steps see them by reference.
        self._refs: dict[str, str] = {}
        self.usage = Usage()  # every agent call's, and every child run's, of this run
        self._truncated: dict[str, None] = {}  # steps whose latest answer stopped at max_tokens, in order

    async def resolve(self, names: set[str], every: bool = False, defined: Sequence[AgentSpec] = ()) -> None:
        """Fetch agent specs once (``every``: all configured ones too) through a local
        activity, so the history records the configuration this run used.
        ``defined``: agents a parent run's planner made, used as given."""
        self._specs.update({spec.name: spec for spec in defined})
        specs = await workflow.execute_local_activity(
            "resolve_agents",
            ResolveAgentsRequest(names=sorted(names - {spec.name for spec in defined}), every=every),
            result_type=list[AgentSpec],
            start_to_close_timeout=timedelta(seconds=10),
        )
        self._specs.update({spec.name: spec for spec in specs})
        self._every = self._every or every

    async def known(self, agent: str) -> None:
        """Make sure the run knows ``agent`` (a person chose it mid-run): resolved from the
        agents file when it is new to the run. Raises ValueError when the file has no such agent."""
        if agent not in self._specs:
            try:
                await self.resolve({agent})
            except ActivityError as err:
                raise ValueError(getattr(err.cause, "message", None) or str(err.cause or err)) from None

    async def models(self) -> set[str]:
        """Every model the agents file names (agents' models and fallbacks): what a person may choose."""
        if not self._every:
            await self.resolve(set(), every=True)
        return {model for spec in self._specs.values() for model in [spec.model, *spec.fallback_models]}

    async def tools_of(self, name: str) -> list[ToolInfo]:
        """The tools the agent's spec gives it, listed the first time the run calls it
        (an activity: MCP servers may take seconds to start; recorded, so a replay never
        lists them again). An agent a run made has none. Only what a run uses is listed:
        a server that cannot start fails the runs that need it, not every run."""
        spec = self._specs[name]
        if not spec.tools:
            return []  # no command at all: runs without tools replay as before tools existed
        if name not in self._tools:
            self._tools[name] = asyncio.ensure_future(workflow.execute_activity(
                "resolve_tools", ToolsRequest(agent=name, tools=spec.tools), result_type=list[ToolInfo],
                start_to_close_timeout=timedelta(seconds=120), retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"{name} · list tools"))
        try:
            # Shielded: steps calling the agent at once share one listing; one cancelled leaves it to the others.
            return await asyncio.shield(self._tools[name])
        except ActivityError as err:  # the step's failure (an unknown tool, a server that cannot start)
            cause = err.cause if isinstance(err.cause, ApplicationError) else None
            raise ApplicationError(f"agent {name!r}: " + (cause.message if cause else str(err.cause or err)),
                                   type=cause.type if cause else "McpServerFailed", non_retryable=True) from err

    async def _stored_externally(self, size: int) -> bool:
        # Asked once per run: every later large request of the run has the same answer.
        if not self._store_asked:
            self._store_threshold, self._store_asked = await store_threshold(), True
        return stored(size, self._store_threshold)

    async def _check_fits(self, request: AgentRequest) -> None:
        """Fail the step now, naming it, when its request would not fit in one payload:
        Temporal would refuse the command, and the run would stay stuck retrying its
        workflow task. Measured only when a rough count says it might not fit; a worker
        that stores large payloads externally carries it."""
        texts = [request.goal, request.instructions or "", *(c.output for c in request.context), *request.feedback,
                 *(t.content or "" for t in request.conversation), *(c.arguments for t in request.conversation for c in t.tool_calls)]
        if sum(map(len, texts)) * 6 < PAYLOAD_ROOM:  # 6: the most JSON makes of one character
            return
        size = workflow.payload_converter().to_payload(request).ByteSize()
        if size <= PAYLOAD_ROOM or await self._stored_externally(size):
            return
        biggest = sorted(request.context, key=lambda c: -len(c.output))[:5]
        seen = ", ".join(f"{c.name} {len(c.output.encode()):,}" for c in biggest)
        raise ApplicationError(
            f"{self._step_noun} {request.stage!r}: its input is {size:,} bytes"
            + (f" (earlier outputs it sees, largest first: {seen})" if seen else "")
            + f"; one payload may be at most {PAYLOAD_BYTES_LIMIT:,}: {TOO_LARGE_ADVICE}",
            {"step": request.stage, "bytes": size, "limit": PAYLOAD_BYTES_LIMIT}, type="PayloadTooLarge",
            non_retryable=True)

    async def _by_reference(self, request: AgentRequest) -> AgentRequest:
        """Earlier outputs the worker kept travel as references it reads back, not as their text:
        each is in the history once (the result of its call), however many later steps see it.
        Many of them travel as one reference to their list, which the worker keeps (a local
        activity: its input is not recorded), so a long pipeline's history grows with its steps."""
        if not any(item.output in self._refs for item in request.context):
            return request
        context = [ContextItem(name=item.name, ref=self._refs[item.output]) if item.output in self._refs else item
                   for item in request.context]
        if len(context) < BUNDLE_MIN_ITEMS:
            return request.model_copy(update={"context": context})
        bundle = await workflow.execute_local_activity(
            "keep_context", context, result_type=str, start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3), summary=f"{request.stage} · {len(context)} earlier outputs")
        return request.model_copy(update={"context": [], "context_ref": bundle})

    def define(self, spec: AgentSpec) -> None:
        """An agent made during the run (a planner's)."""
        self._specs[spec.name] = spec

    def spec(self, name: str) -> AgentSpec:
        return self._specs[name]

    def names(self) -> list[str]:
        """Every agent this run knows, in the order resolved."""
        return list(self._specs)

    def role(self, name: str) -> str:
        """The first line of an agent's instructions: how menus for planners describe it."""
        return self._specs[name].instructions.splitlines()[0]

    def truncated(self) -> list[str]:
        """The steps whose latest answer the model ended at the agent's max_tokens (kept, marked)."""
        return list(self._truncated)

    def count(self, usage: Usage) -> None:
        """Usage spent outside this run's own calls (a child run's)."""
        self.usage += usage

    async def call(self, agent: str, request: AgentRequest, priority: str = "normal",
                   chosen_model: str | None = None) -> AgentResult:
        """The agent's model (``chosen_model``: a person's choice instead), its fallback models,
        then each fallback agent's models, in order; the usage counted. Raises
        ``ApplicationError`` (type ``AgentFailed``) naming the step when all fail."""
        request = await self._by_reference(request)
        await self._check_fits(request)
        spec = self._specs[agent]
        if chosen_model:  # the agent as it runs this step: the trace shows its model, not a fallback
            spec = spec.model_copy(update={"model": chosen_model})
        chain = [spec, *(self._specs[name] for name in spec.fallback_agents)]
        tries = [(each, model) for each in chain for model in [each.model, *each.fallback_models]]
        for position, (each, model) in enumerate(tries):
            instead = each.name != spec.name
            attempt = request.model_copy(update={"agent": each, "model": model, "fallback_for": spec.name if instead else None})
            summary = call_summary(each.name, request.stage, model, spec.name if instead else None, position > 0, each.short)
            try:
                if each.short:  # the operator chose the local path and what it gives up (AgentSpec.short)
                    result = await workflow.execute_local_activity(
                        "run_agent", attempt, result_type=AgentResult,
                        start_to_close_timeout=timedelta(seconds=each.start_to_close_seconds),
                        schedule_to_close_timeout=timedelta(seconds=each.schedule_to_close_seconds),
                        retry_policy=retry_policy(each.retry), summary=summary)
                else:
                    result = await workflow.execute_activity(
                        "run_agent", attempt, result_type=AgentResult,
                        start_to_close_timeout=timedelta(seconds=each.start_to_close_seconds),
                        schedule_to_close_timeout=timedelta(seconds=each.schedule_to_close_seconds),
                        heartbeat_timeout=timedelta(seconds=each.heartbeat_seconds),
                        retry_policy=retry_policy(each.retry),
                        # Only when asked for: runs at normal priority issue the same commands as before.
                        priority=Priority(priority_key=PRIORITY_KEYS[priority]) if priority != "normal" else Priority.default,
                        summary=summary)
            except FailureError as err:
                # An activity's failure wraps its cause; a local activity's is the cause itself (an
                # ApplicationError, a TimeoutError, a CancelledError).
                cause = err.cause if isinstance(err, ActivityError) else err
                if isinstance(cause, CancelledError):  # this run is being cancelled: not the agent's failure
                    raise asyncio.CancelledError(f"{request.stage} cancelled") from err
                if isinstance(cause, ApplicationError) and cause.type == "AnswerTooLarge":
                    # Another model would be another paid answer the run cannot record either.
                    raise ApplicationError(f"{self._step_noun} {request.stage!r} ({spec.name}): {cause.message}",
                                           type="PayloadTooLarge", non_retryable=True) from err
                reason = str(cause if cause is not None else err)
                if position == len(tries) - 1:
                    raise ApplicationError(f"{self._step_noun} {request.stage!r} ({spec.name}) failed: {reason}",
                                           type="AgentFailed") from err
                following = tries[position + 1]
                workflow.logger.warning("agent %s failed on %s, trying %s: %s", each.name, model,
                                        following[1] if following[0] is each else f"agent {following[0].name}", reason,
                                        extra={"agent": each.name, "stage": request.stage, "model": model})
            else:
                self.usage += result.usage
                self._truncated.pop(request.stage, None)
                if result.truncated:
                    self._truncated[request.stage] = None
                if result.ref:
                    self._refs[result.text] = result.ref
                return result
        raise AssertionError("unreachable: the last try raises")
