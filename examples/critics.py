"""A pattern of one's own, written on Baton's runtime (docs/authoring.md):
a writer drafts, critics review the draft in parallel, and the writer revises
with their critiques until every critic approves, at most ``max_rounds`` times.

Nothing in Baton's files names it: a worker and the command line load it with
``BATON_PATTERNS=examples.critics``. Pause, resume, feedback, rewind, budgets,
status, the Web UI's details and the trace come from ``ControlPlane``.
"""

from __future__ import annotations

import asyncio

from pydantic import Field
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.contracts import NAME_PATTERN, ContextItem, Goal, RunInput, RunResult, Usage
    from baton.patterns import About
    from baton.workflows.control import ControlPlane
    from baton.workflows.inputs import NO_INPUT


class CriticsInput(RunInput):  # RunInput: budget, priority and review deadline come with it
    goal: Goal
    writer: str = Field(default="writer", pattern=NAME_PATTERN)
    critics: list[str] = Field(default=["critic", "reviewer"], min_length=1, max_length=5)
    max_rounds: int = Field(default=3, ge=1, le=10)


class CriticsResult(RunResult):  # RunResult: usage and state
    draft: str | None = None
    rounds: int = 0
    approved: bool = False
    critiques: list[str] = Field(default_factory=list, description="The last round's critiques that did not approve")


def round_of(step: str) -> int:
    return int(step.rsplit(".r", 1)[1])  # steps are named draft.rN and <critic>.rN


@workflow.defn(name="CriticsWorkflow")
class CriticsWorkflow(ControlPlane[CriticsInput]):
    about = About("critics", CriticsInput, CriticsResult, step_noun="step", goal=lambda i: i.goal,
                  shape=lambda i: f"**Writer:** {i.writer} · **critics:** {', '.join(i.critics)} · {i.max_rounds} round(s)")

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._result = CriticsResult(usage=Usage())

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> CriticsResult:
        inp = await self.begin()  # invalid input fails the run here, one line per problem
        with self.ends_of_run(inp):  # failures name their step; a cancel keeps the outputs
            await self.agents.resolve({inp.writer, *inp.critics})
            number = 1
            while number <= inp.max_rounds:
                approved = await self._round(number)
                rerun = self.take_jump()  # a person's feedback or rewind: that round again
                if rerun is not None:
                    number = round_of(rerun)
                    self.board.keep_only([s for s in self.board.names() if round_of(s) <= number])
                elif approved:
                    break
                else:
                    number += 1
        return self.result()

    async def _round(self, number: int) -> bool:
        draft_step = f"draft.r{number}"
        if draft_step not in self.board:
            self.board.add([(draft_step, self.inp.writer), *((f"{c}.r{number}", c) for c in self.inp.critics)])
        self.info["round"] = number
        critiques = [ContextItem(name=f"{c}'s critique", output=self.timeline.outputs[f"{c}.r{number - 1}"])
                     for c in self.inp.critics if f"{c}.r{number - 1}" in self.timeline.outputs]
        self.timeline.before(draft_step)  # what rewind goes back to, and what lets feedback name the step
        draft = await self.call_agent(draft_step, self.inp.writer, self.inp.goal, critiques,
                                      "Revise your draft to answer every critique above." if critiques else None)
        self.step_done(draft_step, draft.text)
        self._result.draft, self._result.rounds = draft.text, number
        verdicts = await asyncio.gather(*(self._critique(c, number, draft.text) for c in self.inp.critics))
        self._result.critiques = [v["critique"] for v in verdicts if not v["approved"]]
        self._result.approved = all(v["approved"] for v in verdicts)
        return self._result.approved

    async def _critique(self, critic: str, number: int, draft: str) -> dict:
        step = f"{critic}.r{number}"
        self.timeline.before(step)
        verdict = await self.call_agent(step, critic, self.inp.goal, [ContextItem(name="the draft", output=draft)],
                                        "Review the draft against the goal: approve it, or say what must change.",
                                        schema="Review")
        self.step_done(step, verdict.data["critique"] if verdict.data else verdict.text)
        return verdict.data or {"approved": False, "critique": verdict.text}

    def rerun_scope(self, step: str) -> list[str]:
        """Feedback or rewind on any step of round N runs round N again; the later rounds are dropped."""
        return [s for s in self.board.names() if round_of(s) >= round_of(step)]

    @workflow.query
    def result(self) -> CriticsResult:
        return self._result.model_copy(update={"usage": self.agents.usage, "state": self.run_state()})
