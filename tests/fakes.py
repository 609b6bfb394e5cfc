"""Fake activities for workflow-logic tests: same names as the real ones
(``run_agent``, ``resolve_agents``), no HTTP. Named fakes on purpose: only the
time-skipping workflow tests use them."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from baton.contracts import AgentRequest, AgentResult, AgentSpec, ResolveAgentsRequest, ToolCall, Usage
from tests.conftest import agent_registry


@dataclass
class FakeCall:
    stage: str
    agent: str
    model: str
    context: list[str]
    feedback: list[str]
    instructions: str | None = None
    schema: str | None = None
    tools: list[str] = field(default_factory=list)
    conversation: list[dict] = field(default_factory=list)


@dataclass
class FakeAgents:
    calls: list[FakeCall] = field(default_factory=list)
    # stage -> event the call waits on before answering (to hold a call in flight)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    started: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    failing_models: set[str] = field(default_factory=set)
    failing_steps: set[str] = field(default_factory=set)
    delay: float = 0.0  # real seconds each call takes, so parallel calls overlap
    in_flight: int = 0
    max_in_flight: int = 0
    # step -> scripted answers, in order: a dict is structured output (data),
    # a list of (function, arguments) pairs is tool calls
    scripted: dict[str, list[str | dict | list]] = field(default_factory=lambda: defaultdict(list))

    def script(self, step: str, *answers: str | dict | list) -> None:
        self.scripted[step].extend(answers)

    def hold(self, stage: str) -> asyncio.Event:
        self.gates[stage] = asyncio.Event()
        return self.gates[stage]

    def stages_called(self) -> list[str]:
        return [c.stage for c in self.calls]

    @activity.defn(name="search_attributes_registered")
    async def search_attributes_registered(self) -> bool:
        return False  # the time-skipping server has none of Baton's search attributes

    @activity.defn(name="resolve_agents")
    async def resolve_agents(self, request: ResolveAgentsRequest) -> list[AgentSpec]:
        registry = agent_registry()
        if request.every:
            request = ResolveAgentsRequest(names=sorted(set(request.names) | set(registry.names)))
        unknown = [n for n in request.names if n not in registry.names]
        if unknown:
            raise ApplicationError(f"unknown agent {unknown[0]!r}", type="UnknownAgent", non_retryable=True)
        return [registry.get(n) for n in request.names]

    @activity.defn(name="run_agent")
    async def run_agent(self, request: AgentRequest) -> AgentResult:
        self.calls.append(FakeCall(request.stage, request.agent.name, request.model, [c.name for c in request.context],
                                   list(request.feedback), request.instructions, request.output_schema,
                                   [t.name for t in request.tools], [t.model_dump() for t in request.conversation]))
        self.started[request.stage].set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if request.stage in self.gates:
                await self.gates[request.stage].wait()
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if request.model in self.failing_models:
            raise ApplicationError(f"{request.model} is down", type="HTTP404", non_retryable=True)
        if request.stage in self.failing_steps:
            raise ApplicationError(f"{request.stage} cannot be done", type="HTTP400", non_retryable=True)
        usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
        if self.scripted[request.stage]:
            answer = self.scripted[request.stage].pop(0)
            if isinstance(answer, dict):
                return AgentResult(text=json.dumps(answer), data=answer, model=request.model, usage=usage)
            if isinstance(answer, list):
                calls = [ToolCall(id=f"{request.stage}-{i}", name=name, arguments=args if isinstance(args, str) else json.dumps(args))
                         for i, (name, args) in enumerate(answer)]
                return AgentResult(text="", tool_calls=calls, model=request.model, usage=usage)
            return AgentResult(text=answer, model=request.model, usage=usage)
        runs = sum(1 for c in self.calls if c.stage == request.stage)
        return AgentResult(text=f"{request.stage} v{runs}", model=request.model, usage=usage)
