"""The agent activity: one model call for one step, through the provider seam
(``activities.provider``: any OpenAI-compatible endpoint by default).

Its parts: the provider streams the answer, ``assembly`` puts it together,
``heartbeat`` reports it while it grows (a dead worker is noticed within the
agent's heartbeat timeout instead of its whole call timeout), ``breaker``
guards the model, ``errors`` classify what fails. Temporal owns every retry.
Here: structured output (validated, corrected up to CORRECTION_TRIES times),
prices, metrics, artifacts and logs.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import openai
import structlog
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from baton.activities.artifacts import ArtifactStore, artifacts_dir, preview
from baton.activities.assembly import Answer, AnswerAssembly
from baton.activities.breaker import BreakerBoard, guarded
from baton.activities.heartbeat import beat, breaker_wait, live_heartbeats
from baton.activities.metrics import AgentMetrics, outcome_of
from baton.activities.prompts import build_messages, correction_message, tool_definitions
from baton.activities.provider import ModelCall, ModelProvider, OpenAIChatProvider
from baton.agents import AgentRegistry, UnknownAgentError
from baton.context_store import REF_MIN_CHARS, ContextStore
from baton.contracts import (PAYLOAD_BYTES_LIMIT, PAYLOAD_MARGIN, TOO_LARGE_ADVICE, AgentRequest, AgentResult, AgentSpec,
                             ContextItem, LiveAnswer, ResolveAgentsRequest, Usage, explain)
from baton.schemas import choice_schema, resolve_schema

log = structlog.get_logger("baton.agent")

# Extra tries, inside one attempt, when a structured answer fails validation.
CORRECTION_TRIES = 2
LIVE_SECONDS = 1.0  # how often a call records its answer so far (the worker sends it on at most every 2 s)


def make_openai_client(env: Mapping[str, str] = os.environ) -> openai.AsyncOpenAI:
    """The worker's one client. Keys come from the environment, never from a workflow."""
    base_url = env.get("OPENAI_BASE_URL")
    api_key = env.get("OPENAI_API_KEY")
    if not api_key:
        if not base_url:
            raise RuntimeError(
                "No model endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for a provider "
                "other than OpenAI), or run `python starter.py run` to use the local demo model."
            )
        api_key = "unused"  # local servers (vLLM, Ollama, llama.cpp) ignore it
    # openai's aiohttp transport instead of its default (httpx2 over httpcore2 and anyio): the
    # same requests and responses for 1.1 ms less of the worker's CPU per call (6.3 -> 5.2 ms in
    # the 200-call fan-out), which is what bounds a worker's calls per second. Its connection
    # failures arrive labelled as timeouts; activities.errors.classify reads the real cause.
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, http_client=openai.DefaultAioHttpClient())


class AgentActivities:
    def __init__(self, provider: ModelProvider | openai.AsyncOpenAI, registry: AgentRegistry,
                 artifacts: ArtifactStore | None = None, breakers: BreakerBoard | None = None,
                 payload_limit: int | None = PAYLOAD_BYTES_LIMIT, context: ContextStore | None = None):
        """``provider``: the model provider seam (an ``openai`` client is served by
        ``OpenAIChatProvider``); ``payload_limit``: the server's limit for one payload (None: a payload store takes any);
        ``context``: where answers are kept for later steps to see by reference (None: they travel inline)."""
        self._provider = OpenAIChatProvider(provider) if isinstance(provider, openai.AsyncOpenAI) else provider
        self._registry = registry
        self._artifacts = artifacts or ArtifactStore(artifacts_dir())
        self._breakers = breakers or BreakerBoard(failures_to_open=0, cooldown_seconds=0)
        self._breakers.on_change = self._breaker_moved
        # Models whose endpoint rejected ``json_schema``: ask them with
        # ``json_object`` + schema straight away from then on.
        self._json_schema_unsupported: set[str] = set()
        self._agent_metrics: AgentMetrics | None = None
        self._payload_limit = payload_limit
        self._context = context

    @activity.defn(name="resolve_agents")
    async def resolve_agents(self, request: ResolveAgentsRequest) -> list[AgentSpec]:
        """The specs a run will use, recorded in its history at the start."""
        names = sorted(set(request.names) | set(self._registry.names)) if request.every else list(request.names)
        try:
            specs = {name: self._registry.get(name) for name in names}
            # Fallback agents come along, so the run can call them without asking again.
            pending = [f for spec in specs.values() for f in spec.fallback_agents]
            while pending:
                name = pending.pop()
                if name not in specs:
                    specs[name] = self._registry.get(name)
                    pending += specs[name].fallback_agents
            return list(specs.values())
        except UnknownAgentError as err:
            raise ApplicationError(str(err), type="UnknownAgent", non_retryable=True) from None

    @activity.defn(name="keep_context")
    async def keep_context(self, items: list[ContextItem]) -> str:
        """Keep the earlier outputs a step sees as one list in the store; its reference
        (``AgentRequest.context_ref``). A local activity: the list never enters the history."""
        return await self._store("a step's earlier outputs were to be kept").put_items(items)

    @activity.defn(name="run_agent")
    async def run_agent(self, request: AgentRequest) -> AgentResult:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            pattern=info.workflow_type,
            activity_id=info.activity_id,
            agent=request.agent.name,
            stage=request.stage,
            model=request.model,
            attempt=info.attempt,
        ):
            log.debug("agent call started")
            began = time.monotonic()
            try:
                result = await self._run(await self._with_full_context(request))
            except BaseException as err:
                outcome = outcome_of(err)
                self._metrics().record(request.agent.name, request.model, outcome, time.monotonic() - began)
                log.warning("agent call failed", outcome=outcome, error=str(err)[:300])
                raise
            result = result.model_copy(update={"usage": self._registry.priced(result.model, result.usage),
                                               "breaker_wait_seconds": breaker_wait(info)})
            self._metrics().record(request.agent.name, result.model, "ok", time.monotonic() - began, result.usage)
            if self._context is not None and not result.tool_calls and len(result.text) >= REF_MIN_CHARS:
                beat()  # the answer is whole; storing it may take a moment
                result = result.model_copy(update={"ref": await self._context.put(result.text)})
            if request.artifact_key and not result.tool_calls:
                key = self._artifacts.write(request.artifact_key, result.text)
                result = result.model_copy(update={"artifact": key, "text": preview(result.text, key)})
            limit = self._payload_limit
            if limit is not None and (size := len(result.model_dump_json().encode())) > limit - PAYLOAD_MARGIN:
                log.warning("answer too large to record", bytes=size, limit=limit)
                raise ApplicationError(
                    f"the answer of {result.model} is {size:,} bytes; one recorded payload may be at most "
                    f"{limit:,} (BATON_PAYLOAD_LIMIT_BYTES): {TOO_LARGE_ADVICE}",
                    type="AnswerTooLarge", non_retryable=True)  # asking again would pay for another one
            log.info("agent call finished", total_tokens=result.usage.total_tokens, cost_usd=result.usage.cost_usd,
                     artifact=result.artifact)
            return result

    def _breaker_moved(self, model: str, state: str) -> None:
        log.warning("circuit breaker", breaker_model=model, breaker_state=state)
        self._metrics().breaker_state(model, state)

    def _metrics(self) -> AgentMetrics:
        # Made on first use: the meter belongs to the worker's runtime, known only inside an activity.
        if self._agent_metrics is None:
            self._agent_metrics = AgentMetrics(activity.metric_meter())
        return self._agent_metrics

    async def _with_full_context(self, request: AgentRequest) -> AgentRequest:
        """Earlier outputs given by reference, or kept as artifacts, reach the model whole."""
        items = [*(await self._kept_context(request.context_ref)), *request.context]
        if not any(item.ref or item.artifact for item in items):
            return request
        wholes = await asyncio.gather(*(self._whole(item) for item in items))
        context = [item.model_copy(update={"output": whole}) for item, whole in zip(items, wholes)]
        return request.model_copy(update={"context": context, "context_ref": None})

    async def _kept_context(self, ref: str | None) -> list[ContextItem]:
        if ref is None:
            return []
        return await self._store("this step's earlier outputs were given by reference").get_items(ref)

    async def _whole(self, item: ContextItem) -> str:
        if item.ref:
            return await self._store(f"the output of {item.name!r} was given by reference").get(item.ref, item.name)
        return self._artifacts.read(item.artifact) if item.artifact else item.output

    def _store(self, why: str) -> ContextStore:
        """The payload store, which ``why`` needs; a worker without one says so."""
        if self._context is None:
            raise ApplicationError(f"{why}, and this worker has no payload store: every worker must use the same "
                                   "BATON_PAYLOAD_STORE", type="ContextMissing")
        return self._context

    async def _run(self, request: AgentRequest) -> AgentResult:
        schema_name = request.output_schema or request.agent.output_schema
        schema = resolve_schema(schema_name) if schema_name else None
        if request.actions:
            schema = choice_schema(schema, request.actions)
            schema_name = schema.__name__
        messages = build_messages(request, schema)
        if schema is None:
            answer = await self._complete(request, messages, None)
            if answer.truncated:
                _refuse_truncated(request, structured=bool(answer.tool_calls))
            return AgentResult(text=answer.text, model=answer.model, usage=answer.usage, truncated=answer.truncated,
                               usage_estimated=answer.usage_estimated, tool_calls=answer.tool_calls)

        usage = Usage()
        for _ in range(1 + CORRECTION_TRIES):
            answer = await self._complete_structured(request, messages, schema)
            usage += answer.usage
            if answer.truncated:  # not a schema problem: a correction round would be cut at the same place
                _refuse_truncated(request, structured=True)
            if answer.tool_calls:  # a turn that calls tools answers later (workflows/runtime/tool_use.py)
                return AgentResult(text=answer.text, model=answer.model, usage=usage,
                                   usage_estimated=answer.usage_estimated, tool_calls=answer.tool_calls)
            try:
                data = schema.model_validate_json(_strip_fences(answer.text))
            except ValidationError as err:
                error = explain(err)[:1000]
                log.warning("structured output invalid", error=error)
                messages = [*messages, {"role": "assistant", "content": answer.text}, correction_message(error)]
                continue
            return AgentResult(
                text=data.model_dump_json(),
                data=data.model_dump(mode="json"),
                model=answer.model,
                usage=usage,
                usage_estimated=answer.usage_estimated,
            )
        raise ApplicationError(
            f"{request.model}: answer did not match schema {schema_name} "
            f"after {1 + CORRECTION_TRIES} tries: {error}",
            type="InvalidStructuredOutput",
            non_retryable=True,
        )

    async def _complete_structured(
        self, request: AgentRequest, messages: list[dict[str, Any]], schema: type[BaseModel]
    ) -> Answer:
        json_schema = schema.model_json_schema()
        if request.model not in self._json_schema_unsupported:
            strict_format = {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": json_schema, "strict": False},
            }
            try:
                return await self._complete(request, messages, strict_format)
            except ApplicationError as err:
                if not _rejects_json_schema(err):
                    raise
                log.info("endpoint rejected json_schema; using json_object + schema", error=err.message)
                self._json_schema_unsupported.add(request.model)
        # llama.cpp and several other servers take the schema this way instead.
        return await self._complete(request, messages, {"type": "json_object", "schema": json_schema})

    async def _complete(
        self, request: AgentRequest, messages: list[dict[str, Any]], response_format: dict[str, Any] | None
    ) -> Answer:
        """One streamed completion through the provider: the breaker guards it, the
        heartbeat carries the answer so far, the assembly puts it together."""
        spec = request.agent
        call = ModelCall(model=request.model, messages=messages, temperature=spec.temperature, max_tokens=spec.max_tokens,
                         timeout_seconds=spec.start_to_close_seconds, response_format=response_format,
                         tools=tool_definitions(request) if request.tools else [])
        assembly = AnswerAssembly(asked=request.model)
        info = activity.info()
        live = LiveAnswer(stage=request.stage, agent=spec.name, model=request.model, attempt=info.attempt,
                          breaker_wait_seconds=breaker_wait(info))
        if live.breaker_wait_seconds:  # replace the refused attempt's details: its wait is counted now
            beat(live)
        try:
            with guarded(self._breakers, request.model):
                async with live_heartbeats(min(spec.heartbeat_seconds / 3, LIVE_SECONDS), assembly.parts, live):
                    async for event in self._provider.stream(call):
                        assembly.add(event)
        except ApplicationError as err:
            if err.type == "CircuitOpen":  # shown while the call waits; the next attempt counts the wait
                beat(live.model_copy(update={"waiting": err.message, "waiting_since": datetime.now(timezone.utc)}))
            raise
        return assembly.answer(messages)


def _refuse_truncated(request: AgentRequest, structured: bool) -> None:
    """An answer the model ended at max_tokens: kept (marked) unless it is structured (a cut JSON
    object or tool call is no answer) or the agent asks for complete answers (``on_truncated``)."""
    spec = request.agent
    if not structured and spec.on_truncated == "keep":
        log.warning("answer cut at max_tokens", max_tokens=spec.max_tokens)
        return
    what = "structured answer" if structured else "answer"
    raise ApplicationError(
        f"{request.model}: the {what} stopped at the token limit (finish_reason 'length', max_tokens={spec.max_tokens}): "
        f"raise max_tokens for agent {spec.name!r} in the agents file" + ("" if structured else f" (on_truncated={spec.on_truncated!r})"),
        type="TruncatedAnswer", non_retryable=structured or spec.on_truncated == "fail")


def _rejects_json_schema(err: ApplicationError) -> bool:
    # OpenAI-style servers answer 400/422; llama-cpp-python answers 500 with
    # its request-validation error, which names the field.
    return err.type in ("HTTP400", "HTTP422") or (
        err.type == "HTTP500" and ("response_format" in err.message or "json_schema" in err.message)
    )


def _strip_fences(text: str) -> str:
    """Small models wrap JSON in markdown fences even when told not to."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()
