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

from baton.activities.errors import classify
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


StreamEvent = TextPiece | ToolCallPiece | UsageReport | AnsweredBy


class ModelProvider(Protocol):
    def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        """The answer as it arrives. Raises ``ApplicationError`` classified by
        ``activities.errors`` (type ``Refused`` when the model refuses)."""
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
                    if delta.content:
                        yield TextPiece(delta.content)
                    for piece in delta.tool_calls or []:
                        function = piece.function
                        yield ToolCallPiece(piece.index, piece.id, function.name if function else None,
                                            function.arguments if function else None)
        except openai.OpenAIError as err:
            # Not chained: the openai error's own text could carry what was redacted.
            raise classify(err, call.model, secrets=(self.client.api_key,)) from None
