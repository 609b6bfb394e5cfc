"""The model provider seam: how one streamed chat completion is asked for and
what comes back, as provider-neutral events. ``OpenAIChatProvider`` serves any
OpenAI-compatible endpoint through the official ``openai`` client; another
provider (another wire protocol, a recorded-answer cache) implements
``ModelProvider`` and is handed to ``AgentActivities``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
from temporalio.exceptions import ApplicationError

from baton.activities.errors import classify, error_in_body
from baton.contracts import Usage


@dataclass
class ModelCall:
    """One chat completion to ask for."""

    model: str
    messages: list[dict[str, Any]]
    temperature: float
    max_tokens: int
    timeout_seconds: float
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TextPiece:
    text: str


@dataclass
class ToolCallPiece:
    """Tool calls arrive in pieces: the same ``index`` is one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


@dataclass
class UsageReport:
    usage: Usage


@dataclass
class AnsweredBy:
    """The model that actually answers (a router behind the endpoint may pick another)."""

    model: str


@dataclass
class Finished:
    """Why the model stopped: ``stop``, ``length`` (out of tokens), ``tool_calls``, ``content_filter``."""

    reason: str


StreamEvent = TextPiece | ToolCallPiece | UsageReport | AnsweredBy | Finished


class ModelProvider(Protocol):
    def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        """The answer as it arrives, ending with ``Finished``. Raises ``ApplicationError``
        classified by ``activities.errors`` (type ``Refused`` when the model refuses,
        ``IncompleteAnswer`` when the stream stops unfinished, ``RunawayAnswer`` past the token limit)."""
        ...


class OpenAIChatProvider:
    """Any OpenAI-compatible chat completions endpoint, streamed with usage."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self.client = client  # one per worker, its own retries off: Temporal owns every retry

    async def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        extra: dict[str, Any] = {"response_format": call.response_format} if call.response_format else {}
        if call.tools:
            extra["tools"] = call.tools
        try:
            chunks = await self.client.chat.completions.create(
                model=call.model,
                messages=call.messages,  # type: ignore[arg-type]
                temperature=call.temperature,
                max_tokens=call.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
                timeout=call.timeout_seconds,
                **extra,
            )
            if "text/event-stream" not in chunks.response.headers.get("content-type", "text/event-stream"):
                raise error_in_body(await chunks.response.aread(), call.model, secrets=(self.client.api_key,))
            # A server honouring max_tokens sends at most one piece per token; one that does not is stopped.
            most, pieces, chars, finished = call.max_tokens + max(16, call.max_tokens // 4), 0, 0, False
            async for chunk in chunks:
                if chunk.model:
                    yield AnsweredBy(chunk.model)
                if chunk.usage:
                    yield UsageReport(Usage(prompt_tokens=chunk.usage.prompt_tokens or 0,
                                            completion_tokens=chunk.usage.completion_tokens or 0,
                                            total_tokens=chunk.usage.total_tokens or 0))
                for choice in chunk.choices:
                    delta = choice.delta
                    if getattr(delta, "refusal", None):
                        raise ApplicationError(f"{call.model} refused: {delta.refusal}", type="Refused", non_retryable=True)
                    if delta.content or delta.tool_calls:
                        pieces, chars = pieces + 1, chars + len(delta.content or "")
                        if pieces > most:
                            raise ApplicationError(
                                f"{call.model} went on past {most} pieces of answer, more than the agent's max_tokens="
                                f"{call.max_tokens} allows: the endpoint ignores max_tokens; stopped reading",
                                type="RunawayAnswer", non_retryable=True)
                    if delta.content:
                        yield TextPiece(delta.content)
                    for piece in delta.tool_calls or []:
                        function = piece.function
                        yield ToolCallPiece(piece.index, piece.id, function.name if function else None,
                                            function.arguments if function else None)
                    if choice.finish_reason:
                        finished = True
                        yield Finished(choice.finish_reason)
            if not finished:
                raise ApplicationError(f"{call.model}: the answer stream ended after {chars} characters without a "
                                       "finish_reason: cut off, not finished", type="IncompleteAnswer")
        except openai.OpenAIError as err:
            # Not chained: the openai error's own text could carry what was redacted.
            raise classify(err, call.model, secrets=(self.client.api_key,)) from None
