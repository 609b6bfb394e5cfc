"""ReviewLoopWorkflow: planner → workers (in parallel) → reviewer; a critique
goes back to the planner for another round, up to ``max_rounds``; every
round's critique is kept."""

from __future__ import annotations

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ContextItem, ReviewLoopInput, ReviewLoopResult, ReviewRound, TaskFailure
    from baton.patterns import About
    from baton.schemas import PlannedTask
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.parallel import run_parallel
    from baton.workflows.planning import ask_for_plan

BRIEF = "Split the goal into independent tasks, one worker agent each, with a clear prompt."


@workflow.defn(name="ReviewLoopWorkflow", failure_exception_types=[pydantic.ValidationError])
class ReviewLoopWorkflow(ControlPlane[ReviewLoopInput]):
    about = About(
        "review-loop", ReviewLoopInput, ReviewLoopResult, step_noun="task",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Workers:** {', '.join(i.workers)} · reviewer {i.reviewer} · {i.max_rounds} round(s)",
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._rounds: list[ReviewRound] = []

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> ReviewLoopResult:
        inp = await self.begin()
        self.board.define([])
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.planner, inp.reviewer, *inp.workers})
            for number in range(1, inp.max_rounds + 1):
                self.info["round"] = number
                if await self._round(number):
                    break
        return self.result()

    async def _round(self, number: int) -> bool:
        """One plan → work → review round; True when the reviewer approves."""
        plan_step, review_step = f"plan.r{number}", f"review.r{number}"
        self.board.add([(plan_step, self.inp.planner)])
        earlier = [ContextItem(name=f"round {r.round} critique", output=r.critique or "") for r in self._rounds]
        plan = await ask_for_plan(self, plan_step, self.inp.planner, self.inp.goal, set(self.inp.workers), earlier, BRIEF,
                                  independent=True)
        current = ReviewRound(round=number, outputs={})
        self._rounds.append(current)
        self.board.add([(f"{t.id}.r{number}", t.agent) for t in plan.tasks] + [(review_step, self.inp.reviewer)])

        async def work(task: PlannedTask) -> None:
            output = await self.try_step(f"{task.id}.r{number}", task.agent, self.inp.goal, instructions=task.prompt)
            if output is None:
                current.failed.append(TaskFailure(id=task.id, agent=task.agent, error=self.board.error(f"{task.id}.r{number}") or ""))
            else:
                current.outputs[task.id] = output

        await run_parallel(plan.tasks, work, self.inp.max_parallel)
        work_done = [ContextItem(name=t.id, output=current.outputs[t.id]) for t in plan.tasks if t.id in current.outputs]
        verdict = await self.call_agent(review_step, self.inp.reviewer, self.inp.goal, work_done, schema="Review",
                                        instructions="Review the work above against the goal: approve it, or say precisely what must change.")
        self.step_done(review_step, verdict.text)
        current.approved, current.critique = bool(verdict.data["approved"]), verdict.data.get("critique") or ""
        return current.approved

    @workflow.query
    def result(self) -> ReviewLoopResult:
        last = self._rounds[-1] if self._rounds else None
        return ReviewLoopResult(
            rounds=self._rounds, approved=bool(last and last.approved),
            critiques=[r.critique for r in self._rounds if r.critique],
            final=dict(last.outputs) if last else {}, usage=self.agents.usage, state=self.run_state(),
        )
