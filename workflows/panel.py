"""ExpertPanelWorkflow: experts with distinct roles answer in parallel, for one
or more debate rounds (each sees the others' previous answers); a moderator
synthesises a consensus with an agreement score and the dissenting points."""

from __future__ import annotations

import asyncio

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, ExpertSpec, PanelInput, PanelResult
    from baton.patterns import About, PhaseAsk, PhaseRole
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.dag import RERUN_ANY_STEP, dependents, run_dag

MODERATE = "consensus"


def step(expert: str, round_number: int) -> str:
    return f"{expert}.r{round_number}"


def as_phase(ask: PhaseAsk) -> PanelInput:
    """A hierarchical phase as a panel: its agents debate, the synthesizer moderates."""
    experts = [ExpertSpec(name=agent, agent=agent, role=f"the {agent}") for agent in ask.phase.agents]
    return PanelInput(question=ask.goal, experts=experts, moderator=ask.synthesizer, defined_agents=ask.defined, **ask.budget)


def _experts(experts: list[ExpertSpec]) -> str:
    return ", ".join(f"{e.name} ({e.agent})" for e in experts)


@workflow.defn(name="ExpertPanelWorkflow", failure_exception_types=[pydantic.ValidationError])
class ExpertPanelWorkflow(ControlPlane[PanelInput]):
    about = About(
        "panel", PanelInput, PanelResult, step_noun="expert answer",
        goal=lambda i: i.question,
        shape=lambda i: f"**Experts:** {_experts(i.experts)} · {i.rounds} round(s)",
        phase=PhaseRole(min_agents=2, brief="agents debate, 2 or more", make_input=as_phase, output=lambda r: r.consensus),
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._verdict: dict = {}

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> PanelResult:
        inp = await self.begin()
        rows = [(step(e.name, r), e.agent) for r in range(1, inp.rounds + 1) for e in inp.experts]
        self.board.define([*rows, (MODERATE, inp.moderator)])
        with self.ends_of_run(inp):
            await self.agents.resolve({e.agent for e in inp.experts} | {inp.moderator}, defined=inp.defined_agents)
            if workflow.patched(RERUN_ANY_STEP):
                await run_dag(self, self._needs(), self._run_step, max_parallel=len(inp.experts))
            else:  # runs started before re-runs: round by round
                for round_number in range(1, inp.rounds + 1):
                    self.info["round"] = round_number
                    await asyncio.gather(*(self._answer(e, round_number) for e in inp.experts))
                await self._moderate()
        return self.result()

    def _needs(self) -> dict[str, list[str]]:
        """Each answer needs the round before; the consensus needs the last round."""
        rounds = range(1, self.inp.rounds + 1)
        needs = {step(e.name, r): [step(o.name, r - 1) for o in self.inp.experts] if r > 1 else []
                 for r in rounds for e in self.inp.experts}
        return needs | {MODERATE: [step(e.name, self.inp.rounds) for e in self.inp.experts]}

    async def _run_step(self, name: str) -> None:
        self.timeline.before(name)  # what feedback and rewind on this step go back to
        if name == MODERATE:
            await self._moderate()
            return
        expert_name, round_number = name.rsplit(".r", 1)
        self.info["round"] = int(round_number)
        await self._answer(next(e for e in self.inp.experts if e.name == expert_name), int(round_number))

    def rerun_scope(self, step: str) -> list[str]:
        """An answer runs again with every later round's answers and the consensus."""
        return dependents(self._needs(), step)

    async def _moderate(self) -> None:
        last = [ContextItem(name=e.name, output=self.timeline.outputs[step(e.name, self.inp.rounds)]) for e in self.inp.experts]
        verdict = await self.call_agent(MODERATE, self.inp.moderator, self.inp.question, last, schema="Consensus",
                                        instructions="Moderate the panel: state the consensus, how far the experts agree, and every dissenting point.")
        self._verdict = verdict.data or {}
        self.step_done(MODERATE, verdict.text)

    async def _answer(self, expert: ExpertSpec, round_number: int) -> None:
        others = [ContextItem(name=e.name, output=self.timeline.outputs[step(e.name, round_number - 1)])
                  for e in self.inp.experts if e.name != expert.name and round_number > 1]
        brief = f"You are {expert.role}. Answer the question from that perspective."
        if others:
            brief += " Weigh the other experts' previous answers above: keep, refine or change your position, and say why."
        answer = await self.call_agent(step(expert.name, round_number), expert.agent, self.inp.question, others, brief)
        self.step_done(step(expert.name, round_number), answer.text)

    @workflow.query
    def result(self) -> PanelResult:
        rounds = [{e.name: self.timeline.outputs[step(e.name, r)] for e in self.inp.experts if step(e.name, r) in self.timeline.outputs}
                  for r in range(1, self.inp.rounds + 1)]
        return PanelResult(rounds=[r for r in rounds if r], consensus=self._verdict.get("consensus"),
                           agreement=self._verdict.get("agreement"), dissent=self._verdict.get("dissent", []),
                           usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state())
