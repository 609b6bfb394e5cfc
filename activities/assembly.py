"""An answer put together from a provider's stream: its text, its tool calls
(which arrive in pieces), the model that answered, and its usage (estimated
when the server reports none)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.exceptions import ApplicationError

from baton.activities.provider import AnsweredBy, Finished, StreamEvent, TextPiece, ToolCallPiece, UsageReport
from baton.contracts import ToolCall, Usage


@dataclass
class Answer:
    text: str
    usage: Usage
    model: str
    usage_estimated: bool
    tool_calls: list[ToolCall]
    truncated: bool = False  # the model stopped at max_tokens (finish_reason "length")


@dataclass
class AnswerAssembly:
    asked: str  # the model asked for
    model: str = ""  # the one that answered, when the stream names it
    parts: list[str] = field(default_factory=list)  # read by the heartbeat while the answer grows
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: Usage | None = None
    finish_reason: str | None = None  # why the model stopped (``length``: out of tokens)

    def add(self, event: StreamEvent) -> None:
        match event:
            case TextPiece(text=text):
                self.parts.append(text)
            case ToolCallPiece():
                call = self.calls.setdefault(event.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = event.id or call["id"]
                call["name"] += event.name or ""
                call["arguments"] += event.arguments or ""
            case UsageReport(usage=usage):
                self.usage = usage
            case AnsweredBy(model=model):
                self.model = model
            case Finished(reason=reason):
                self.finish_reason = reason

    def answer(self, messages: list[dict[str, Any]]) -> Answer:
        """The whole answer; ``messages``: the prompt, to estimate usage the server did not report."""
        text = "".join(self.parts).strip()
        tool_calls = [ToolCall(id=c["id"] or f"call-{i}", name=c["name"], arguments=c["arguments"] or "{}")
                      for i, c in sorted(self.calls.items())]
        if not text and not tool_calls:
            raise ApplicationError(f"{self.asked} returned an empty answer", type="EmptyAnswer")
        model, truncated = self.model or self.asked, self.finish_reason == "length"
        if self.usage is not None:
            return Answer(text, self.usage, model, False, tool_calls, truncated)
        return Answer(text, estimate_usage(messages, self.parts), model, True, tool_calls, truncated)


def estimate_usage(messages: list[dict[str, Any]], parts: list[str]) -> Usage:
    """Some servers (llama-cpp-python) send no usage on streams: one token per
    content chunk and about 4 characters per prompt token."""
    prompt = sum(len(m["content"] or "") for m in messages) // 4
    return Usage(prompt_tokens=prompt, completion_tokens=len(parts), total_tokens=prompt + len(parts))
