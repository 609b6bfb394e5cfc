"""RouterWorkflow: a classifier picks, as validated structured output, which
agent handles the input; an unknown or unsure pick falls back to the default."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import RouterInput, RouterResult
    from baton.patterns import About
    from baton.workflows.control import ControlPlane

CLASSIFY, HANDLE = "classify", "handle"


@workflow.defn(name="RouterWorkflow", failure_exception_types=[pydantic.ValidationError])
class RouterWorkflow(ControlPlane[RouterInput]):
    about = About(
        "router", RouterInput, RouterResult,
        goal=lambda i: i.input,
        shape=lambda i: "**Routes:** " + ", ".join(r.agent for r in i.routes) + f" · default {i.default}",
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._output: str | None = None
        self._choice: dict = {}  # route, picked, confidence, reason, fallback: also shown in status.info

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> RouterResult:
        inp = await self.begin()
        self.board.define([(CLASSIFY, inp.classifier), (HANDLE, "?")])
        routes = {r.agent: r.description for r in inp.routes}
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.classifier, inp.default, *routes})
            menu = "\n".join(f"- {agent}: {text}" for agent, text in routes.items())
            step = CLASSIFY
            while step is not None:  # feedback or rewind on classify picks again; on handle, handles again
                self.timeline.before(step)
                if step == CLASSIFY:
                    pick = await self.call_agent(CLASSIFY, inp.classifier, inp.input, schema="Route",
                                                 instructions=f"Choose the agent that should handle the goal above:\n{menu}")
                    self.step_done(CLASSIFY, pick.text)
                    self._choose(pick.data or {}, routes, inp)
                else:
                    answer = await self.call_agent(HANDLE, self._choice["route"], inp.input)
                    self._output = answer.text
                    self.step_done(HANDLE, answer.text)
                step = self.take_jump() or (HANDLE if step == CLASSIFY else None)
        return self.result()

    def _choose(self, pick: dict, routes: dict[str, str], inp: RouterInput) -> None:
        agent, confidence = pick.get("agent"), pick.get("confidence")
        if agent not in routes:
            chosen, why = inp.default, f"unknown route {agent!r}"
        elif confidence < inp.min_confidence:
            chosen, why = inp.default, f"confidence {confidence} below {inp.min_confidence}"
        else:
            chosen, why = agent, pick.get("reason", "")
        self._choice = dict(route=chosen, picked=agent, confidence=confidence, reason=why, fallback=chosen != agent)
        self.info.update(self._choice)
        self.board.assign(HANDLE, chosen)
        workflow.logger.info("routed to %s (%s)", chosen, why)

    @workflow.query
    def result(self) -> RouterResult:
        choice = self._choice
        return RouterResult(route=choice.get("route"), confidence=choice.get("confidence"),
                            reason=choice.get("reason"), fallback=choice.get("fallback", False),
                            output=self._output,
                            usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state())
