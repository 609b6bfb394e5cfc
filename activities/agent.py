"""The agent activity: one LLM call to any OpenAI-compatible endpoint.

One ``AsyncOpenAI`` client per worker process, its retries off: Temporal owns
every retry (see ``activities.errors``). The completion is streamed so the
activity heartbeats while the model thinks and tokens arrive, and a dead worker is noticed within
the agent's heartbeat timeout instead of its whole call timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

import openai
import structlog
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from baton.activities.artifacts import ArtifactStore, artifacts_dir, preview
from baton.activities.breaker import BreakerBoard, provider_down
from baton.activities.errors import classify
from baton.activities.metrics import AgentMetrics, outcome_of
from baton.activities.prompts import build_messages, correction_message, tool_definitions
from baton.agents import AgentRegistry, UnknownAgentError
from baton.contracts import (LIVE_TAIL_CHARS, AgentRequest, AgentResult, AgentSpec, LiveAnswer, ResolveAgentsRequest,
                             ToolCall, Usage, explain)
from baton.schemas import resolve_schema

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
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)


@dataclass
class Answer:
    text: str
    usage: Usage
    model: str
    usage_estimated: bool
    tool_calls: list[ToolCall]


class AgentActivities:
    def __init__(self, client: openai.AsyncOpenAI, registry: AgentRegistry, artifacts: ArtifactStore | None = None,
                 breakers: BreakerBoard | None = None):
        self._client = client
        self._registry = registry
        self._artifacts = artifacts or ArtifactStore(artifacts_dir())
        self._breakers = breakers or BreakerBoard(failures_to_open=0, cooldown_seconds=0)
        self._breakers.on_change = self._breaker_moved
        # Models whose endpoint rejected ``json_schema``: ask them with
        # ``json_object`` + schema straight away from then on.
        self._json_schema_unsupported: set[str] = set()
        self._agent_metrics: AgentMetrics | None = None

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
                result = await self._run(self._with_full_context(request))
            except BaseException as err:
                outcome = outcome_of(err)
                self._metrics().record(request.agent.name, request.model, outcome, time.monotonic() - began)
                log.warning("agent call failed", outcome=outcome, error=str(err)[:300])
                raise
            result = result.model_copy(update={"usage": self._registry.priced(result.model, result.usage)})
            self._metrics().record(request.agent.name, result.model, "ok", time.monotonic() - began, result.usage)
            if request.artifact_key:
                key = self._artifacts.write(request.artifact_key, result.text)
                result = result.model_copy(update={"artifact": key, "text": preview(result.text, key)})
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

    def _with_full_context(self, request: AgentRequest) -> AgentRequest:
        """Earlier outputs kept as artifacts reach the model whole, not as previews."""
        if not any(item.artifact for item in request.context):
            return request
        context = [item.model_copy(update={"output": self._artifacts.read(item.artifact)}) if item.artifact else item
                   for item in request.context]
        return request.model_copy(update={"context": context})

    async def _run(self, request: AgentRequest) -> AgentResult:
        schema_name = request.output_schema or request.agent.output_schema
        schema = resolve_schema(schema_name) if schema_name else None
        messages = build_messages(request, schema)
        if schema is None:
            answer = await self._complete(request, messages, None)
            return AgentResult(text=answer.text, model=answer.model, usage=answer.usage,
                               usage_estimated=answer.usage_estimated, tool_calls=answer.tool_calls)

        usage = Usage()
        for _ in range(1 + CORRECTION_TRIES):
            answer = await self._complete_structured(request, messages, schema)
            usage += answer.usage
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
        spec = request.agent
        extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
        if request.tools:
            extra["tools"] = tool_definitions(request)
        parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}  # tool calls arrive in pieces, by index
        usage: Usage | None = None
        answered_by = request.model
        # A ticker heartbeats every third of the heartbeat timeout, whether the
        # server is still thinking (long prompts, reasoning models) or streaming.
        # Not once per chunk: that cost 3% of the worker's time at 90 calls/s
        # and proved nothing the ticker does not.
        breaker = self._breakers.of(request.model) if self._breakers.enabled else None
        if breaker is not None:
            breaker.before_call()
        provider_failed: bool | None = None  # the breaker's verdict on this call
        live = LiveAnswer(stage=request.stage, agent=spec.name, model=request.model, attempt=activity.info().attempt)
        ticker = asyncio.create_task(_heartbeat_every(min(spec.heartbeat_seconds / 3, LIVE_SECONDS), parts, live))
        try:
            stream = await self._client.chat.completions.create(
                model=request.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=spec.temperature,
                max_tokens=spec.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
                timeout=spec.start_to_close_seconds,
                **extra,
            )
            async for chunk in stream:
                answered_by = chunk.model or answered_by
                if chunk.usage:
                    usage = Usage(
                        prompt_tokens=chunk.usage.prompt_tokens or 0,
                        completion_tokens=chunk.usage.completion_tokens or 0,
                        total_tokens=chunk.usage.total_tokens or 0,
                    )
                for choice in chunk.choices:
                    delta = choice.delta
                    if getattr(delta, "refusal", None):
                        raise ApplicationError(f"{request.model} refused: {delta.refusal}", type="Refused", non_retryable=True)
                    if delta.content:
                        parts.append(delta.content)
                    for piece in delta.tool_calls or []:
                        call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] = piece.id or call["id"]
                        if piece.function is not None:
                            call["name"] += piece.function.name or ""
                            call["arguments"] += piece.function.arguments or ""
            provider_failed = False
        except openai.OpenAIError as err:
            failure = classify(err, request.model, secrets=(self._client.api_key,))
            provider_failed = provider_down(failure)
            # Not chained: the openai error's own text could carry what was redacted.
            raise failure from None
        except ApplicationError:
            provider_failed = False  # it answered (a refusal)
            raise
        finally:
            if breaker is not None:
                breaker.record(provider_failed)
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        text = "".join(parts).strip()
        tool_calls = [ToolCall(id=c["id"] or f"call-{i}", name=c["name"], arguments=c["arguments"] or "{}")
                      for i, c in sorted(calls.items())]
        if not text and not tool_calls:
            raise ApplicationError(f"{request.model} returned an empty answer", type="EmptyAnswer")
        if usage is not None:
            return Answer(text, usage, answered_by, False, tool_calls)
        # Some servers (llama-cpp-python) send no usage on streams: estimate it,
        # one token per content chunk and ~4 characters per prompt token.
        prompt = sum(len(m["content"] or "") for m in messages) // 4
        estimate = Usage(prompt_tokens=prompt, completion_tokens=len(parts), total_tokens=prompt + len(parts))
        return Answer(text, estimate, answered_by, True, tool_calls)


def _rejects_json_schema(err: ApplicationError) -> bool:
    # OpenAI-style servers answer 400/422; llama-cpp-python answers 500 with
    # its request-validation error, which names the field.
    return err.type in ("HTTP400", "HTTP422") or (
        err.type == "HTTP500" and ("response_format" in err.message or "json_schema" in err.message)
    )


async def _heartbeat_every(seconds: float, parts: list[str], live: LiveAnswer) -> None:
    """Heartbeat with the answer so far (its length and last characters): what
    ``watch`` shows while the agent writes. Details are not history events; the
    worker sends the latest to the server at most every BATON_LIVE_SECONDS."""
    while True:
        await asyncio.sleep(seconds)
        text = "".join(parts)
        activity.heartbeat(live.model_copy(update={"chars": len(text), "tail": text[-LIVE_TAIL_CHARS:]}))


def _strip_fences(text: str) -> str:
    """Small models wrap JSON in markdown fences even when told not to."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()
