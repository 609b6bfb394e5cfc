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
    from baton.schemas import Plan, PlannedTask
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.dag import RERUN_ANY_STEP, run_dag
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
        self._round_number = 0

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
        """One plan → work → review round; True when the reviewer approves. Feedback or
        rewind on this round's plan plans it again; on a task, runs it and the review
        again; on the review, reviews again."""
        plan_step, review_step = f"plan.r{number}", f"review.r{number}"
        self._round_number = number
        self.board.add([(plan_step, self.inp.planner)])
        rerun = workflow.patched(RERUN_ANY_STEP)
        part = "plan"
        while True:
            if part == "plan":
                plan, current = await self._plan_round(number, plan_step, review_step)
            if part in ("plan", "work"):
                await self._work(number, plan.tasks, current, rerun)
            self.timeline.before(review_step)
            verdict = await self.call_agent(review_step, self.inp.reviewer, self.inp.goal, self._work_done(plan.tasks, current),
                                            schema="Review", instructions="Review the work above against the goal: "
                                            "approve it, or say precisely what must change.")
            self.step_done(review_step, verdict.text)
            current.approved, current.critique = bool(verdict.data["approved"]), verdict.data.get("critique") or ""
            jump = self.take_jump() if rerun else None
            if jump is None:
                return current.approved
            part = "plan" if jump == plan_step else "review" if jump == review_step else "work"

    async def _plan_round(self, number: int, plan_step: str, review_step: str) -> tuple[Plan, ReviewRound]:
        self.timeline.before(plan_step)
        earlier = [ContextItem(name=f"round {r.round} critique", output=r.critique or "") for r in self._rounds[:number - 1]]
        plan = await ask_for_plan(self, plan_step, self.inp.planner, self.inp.goal, set(self.inp.workers), earlier, BRIEF,
                                  independent=True)
        current = ReviewRound(round=number, outputs={})
        self._rounds[number - 1:] = [current]  # a round planned again starts over
        self.board.keep_only(self.board.names()[:self.board.names().index(plan_step) + 1])
        self.board.add([(f"{t.id}.r{number}", t.agent) for t in plan.tasks] + [(review_step, self.inp.reviewer)])
        return plan, current

    async def _work(self, number: int, tasks: list[PlannedTask], current: ReviewRound, rerun: bool) -> None:
        by_step = {f"{t.id}.r{number}": t for t in tasks}

        async def work(step: str) -> None:
            task = by_step[step]
            self.timeline.before(step)
            current.failed = [f for f in current.failed if f.id != task.id]
            output = await self.try_step(step, task.agent, self.inp.goal, instructions=task.prompt)
            if output is None:
                current.outputs.pop(task.id, None)
                current.failed.append(TaskFailure(id=task.id, agent=task.agent, error=self.board.error(step) or ""))
            else:
                current.outputs[task.id] = output

        if rerun:
            await run_dag(self, {step: [] for step in by_step}, work, self.inp.max_parallel)
        else:  # runs started before re-runs
            await run_parallel(list(by_step), work, self.inp.max_parallel)

    @staticmethod
    def _work_done(tasks: list[PlannedTask], current: ReviewRound) -> list[ContextItem]:
        return [ContextItem(name=t.id, output=current.outputs[t.id]) for t in tasks if t.id in current.outputs]

    def rerun_scope(self, step: str) -> list[str]:
        """Only the current round can run again: an earlier round's critique already went to the next planner."""
        number = int(step.rsplit(".r", 1)[1])
        if number != self._round_number:
            raise ValueError(f"round {number} is over (its critique went to round {number + 1}'s planner); "
                             f"steer round {self._round_number}")
        if step.startswith("plan.") or step.startswith("review."):
            return super().rerun_scope(step)
        return [step, f"review.r{number}"]

    @workflow.query
    def result(self) -> ReviewLoopResult:
        last = self._rounds[-1] if self._rounds else None
        return ReviewLoopResult(
            rounds=self._rounds, approved=bool(last and last.approved),
            critiques=[r.critique for r in self._rounds if r.critique],
            final=dict(last.outputs) if last else {},
            usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state(),
        )
