"""The model provider seam: how one streamed chat completion is asked for and
what comes back, as provider-neutral events. ``OpenAIChatProvider`` serves any
OpenAI-compatible endpoint through the official ``openai`` client; another
provider (another wire protocol, a recorded-answer cache) implements
``ModelProvider`` and is handed to ``AgentActivities``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2  # the openai client's HTTP library: its transport errors mid-stream
import openai
from temporalio.exceptions import ApplicationError

from baton.activities import sse
from baton.activities.errors import classify, error_in_body, error_in_stream
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
        body: dict[str, Any] = {"model": call.model, "messages": call.messages, "temperature": call.temperature,
                                "max_tokens": call.max_tokens, "stream": True, "stream_options": {"include_usage": True}}
        if call.response_format:
            body["response_format"] = call.response_format
        if call.tools:
            body["tools"] = call.tools
        secrets = (self.client.api_key,)
        try:
            # The client asks (auth, headers, HTTP errors as its exceptions) with the body as it
            # is: already plain JSON, it needs none of create()'s typed-parameter walk. The events
            # are read here, as plain JSON too (activities/sse.py says why).
            response = await self.client.post("/chat/completions", cast_to=httpx2.Response, body=body,
                                               options={"timeout": call.timeout_seconds}, stream=True)
            try:
                if "text/event-stream" not in response.headers.get("content-type", "text/event-stream"):
                    raise error_in_body(await response.aread(), call.model, secrets=secrets)
                lines = _lines(response)
                async for event in _answer(sse.events(lines), call, secrets):
                    yield event
                await _read_to_the_end(lines)
            finally:
                await response.aclose()
        except openai.OpenAIError as err:
            # Not chained: the openai error's own text could carry what was redacted.
            raise classify(err, call.model, secrets=secrets) from None


async def _answer(events: AsyncIterator[sse.Event], call: ModelCall, secrets: tuple[str, ...]) -> AsyncIterator[StreamEvent]:
    """The stream's chunks (``chat.completion.chunk`` objects) as provider-neutral events."""
    # A server honouring max_tokens sends at most one piece per token; one that does not is stopped.
    most, pieces, chars, finished = call.max_tokens + max(16, call.max_tokens // 4), 0, 0, False
    async for event in events:
        if event.data.startswith("[DONE]"):
            break
        chunk = _object(event.data)
        if chunk is None or event.name == "error" or chunk.get("error"):
            raise error_in_stream(event.data, call.model, secrets)
        if chunk.get("model"):
            yield AnsweredBy(chunk["model"])
        if usage := chunk.get("usage"):
            yield UsageReport(Usage(prompt_tokens=usage.get("prompt_tokens") or 0,
                                    completion_tokens=usage.get("completion_tokens") or 0,
                                    total_tokens=usage.get("total_tokens") or 0))
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if refusal := delta.get("refusal"):
                raise ApplicationError(f"{call.model} refused: {refusal}", type="Refused", non_retryable=True)
            content, tool_calls = delta.get("content"), delta.get("tool_calls")
            if content or tool_calls:
                pieces, chars = pieces + 1, chars + len(content or "")
                if pieces > most:
                    raise ApplicationError(
                        f"{call.model} went on past {most} pieces of answer, more than the agent's max_tokens="
                        f"{call.max_tokens} allows: the endpoint ignores max_tokens; stopped reading",
                        type="RunawayAnswer", non_retryable=True)
            if content:
                yield TextPiece(content)
            for piece in tool_calls or ():
                function = piece.get("function") or {}
                yield ToolCallPiece(piece.get("index") or 0, piece.get("id"), function.get("name"), function.get("arguments"))
            if choice.get("finish_reason"):
                finished = True
                yield Finished(choice["finish_reason"])
    if not finished:
        raise ApplicationError(f"{call.model}: the answer stream ended after {chars} characters without a "
                               "finish_reason: cut off, not finished", type="IncompleteAnswer")


async def _lines(response: httpx2.Response) -> AsyncIterator[str]:
    """The response's lines; its transport's failures as the ``openai`` client's own, so
    ``classify`` is the one place that decides their retry."""
    try:
        async for line in response.aiter_lines():
            yield line
    except httpx2.TimeoutException as err:
        raise openai.APITimeoutError(request=response.request) from err  # the cause decides (errors.classify)
    except httpx2.TransportError as err:
        raise openai.APIConnectionError(request=response.request) from err


async def _read_to_the_end(lines: AsyncIterator[str]) -> None:
    """What follows ``[DONE]`` (on HTTP/1.1, the chunked body's end), read so the connection
    goes back to the pool: a response closed unread closes its connection, and the next call
    opens a new one. Bounded: a server that keeps the body open after ``[DONE]`` costs 0.1 s."""
    with contextlib.suppress(TimeoutError, openai.OpenAIError):
        async with asyncio.timeout(0.1):
            async for _ in lines:
                pass


def _object(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
