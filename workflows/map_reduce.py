"""MapReduceWorkflow: a mapper agent over every item, a reducer agent over the
results, at any size. Items go in batches to ``MapBatchWorkflow`` children (at
most ``max_batches_in_flight`` at once); each child maps its batch with a
bounded number of calls in flight and reduces it to one partial; the parent
reduces the partials. Reduction is hierarchical (``reduce_fan_in`` results per
reducer call), and the parent continues as new before its history grows past
``max_history_events``."""

from __future__ import annotations

import asyncio

import pydantic
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import (BatchTally, ContextItem, ItemFailure, MapBatchInput, MapBatchResult, MapReduceInput,
                                 MapReduceProgress, MapReduceResult)
    from baton.patterns import About
    from baton.workflows.children import ChildRunsPlane
    from baton.workflows.control import RUN_START_PATCHES, ControlPlane
    from baton.workflows.runtime.publishing import INDEX_OWN_RUN
    from baton.workflows.runtime.dag import FAILURES, RERUN_ANY_STEP
    from baton.workflows.runtime.gates import RUN_ENDING
    from baton.workflows.runtime.parallel import run_parallel, wait_any_or

MAX_FAILURES_KEPT = 100


def batch_step(number: int) -> str:
    """The step a batch is on the board: batch-1, batch-2, … (``number`` counts from 0)."""
    return f"batch-{number + 1}"


def batch_number(step: str) -> int:
    return int(step.removeprefix("batch-")) - 1


async def reduce_all(plane: ControlPlane, results: list[ContextItem], reducer: str, goal: str, fan_in: int) -> str | None:
    """Reduce to one text, ``fan_in`` results per reducer call, level by level."""
    level = 0
    while len(results) > 1:
        level += 1
        groups = [results[i:i + fan_in] for i in range(0, len(results), fan_in)]
        reduced: dict[int, str] = {}

        async def reduce_group(number: int, level: int = level, groups: list = groups) -> None:
            answer = await plane.call_agent(f"reduce-{level}.{number}", reducer, goal, groups[number],
                                            "Combine the results above into one result for the goal. Keep every finding.")
            reduced[number] = answer.text

        await run_parallel(range(len(groups)), reduce_group, fan_in)
        results = [ContextItem(name=f"part {n + 1}", output=reduced[n]) for n in range(len(groups))]
    return results[0].output if results else None


@workflow.defn(name="MapBatchWorkflow", failure_exception_types=[pydantic.ValidationError])
class MapBatchWorkflow(ControlPlane[MapBatchInput]):
    contract = MapBatchInput
    pattern = "map-batch"
    step_noun = "item"

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> MapBatchResult:
        inp = await self.begin()
        self.budget.apply(inp)
        await self.agents.resolve({inp.mapper, inp.reducer})
        mapped: dict[int, str] = {}
        failed: list[ItemFailure] = []
        for offset in range(len(inp.items)) if inp.feedback else ():  # a person's feedback on the batch
            for text in inp.feedback:
                self.timeline.add_feedback(f"item-{inp.first_index + offset}", text)

        async def map_one(offset: int) -> None:
            index = inp.first_index + offset
            try:
                answer = await self.call_agent(f"item-{index}", inp.mapper, inp.goal, instructions=f"Process this item:\n{inp.items[offset]}")
            except ApplicationError as err:
                if err.type in RUN_ENDING:
                    raise  # the batch, and the run, stop
                failed.append(ItemFailure(index=index, error=err.message))
                return
            mapped[index] = answer.text

        await run_parallel(range(len(inp.items)), map_one, inp.max_parallel)
        results = [ContextItem(name=f"item {i}", output=mapped[i]) for i in sorted(mapped)]
        partial = await reduce_all(self, results, inp.reducer, inp.goal, inp.reduce_fan_in)
        return MapBatchResult(partial=partial, mapped=len(mapped), failed=sorted(failed, key=lambda f: f.index), usage=self.agents.usage)


@workflow.defn(name="MapReduceWorkflow", failure_exception_types=[pydantic.ValidationError])
class MapReduceWorkflow(ChildRunsPlane[MapReduceInput]):
    # Its first child run starts right after resolve_agents (a local activity), and
    # starting a child decides baton-index-own-run: decided at the start instead.
    run_start_patches = (*RUN_START_PATCHES, INDEX_OWN_RUN)
    about = About(
        "map-reduce", MapReduceInput, MapReduceResult, step_noun="step",  # its steps: batch-N, and reduce calls
        goal=lambda i: i.goal,
        shape=lambda i: f"**Items:** {len(i.items)} · mapper {i.mapper} · reducer {i.reducer}",
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._result: str | None = None
        self._reducing = False  # the final reduce has begun: every batch is in it
        self._progress = MapReduceProgress()
        self._batches: list[list[str]] = []
        if self._input is None:
            return  # begin() fails the run with the reasons
        inp = self.inp
        self._progress = inp.progress.model_copy(deep=True)
        self.agents.count(self._progress.usage)  # carried over from the runs before
        self._batches = [inp.items[i:i + inp.batch_size] for i in range(0, len(inp.items), inp.batch_size)]
        self._show()

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> MapReduceResult:
        inp = await self.begin()
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.mapper, inp.reducer})
            rerun = workflow.patched(RERUN_ANY_STEP)
            if rerun:
                self._show_earlier_batches()
            if await self._map_batches(rerun):
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = self._progress.model_copy(update={"runs": self._progress.runs + 1})
                workflow.continue_as_new(inp.model_copy(update={"progress": carried}))
            self._reducing = True
            # In order, as kept: a list by runs started before re-runs, by batch number after
            # (a run may continue as new from one into the other).
            kept = [*self._progress.partials,
                    *(t.partial for _, t in sorted(self._progress.batches.items()) if t.partial is not None)]
            partials = [ContextItem(name=f"batch {n + 1}", output=p) for n, p in enumerate(kept)]
            self._result = await reduce_all(self, partials, inp.reducer, inp.goal, inp.reduce_fan_in)
        return self.result()

    async def _map_batches(self, rerun: bool) -> bool:
        """Run the batches, and again those a person asked for (``rerun``); True when
        this run should continue as new first."""
        running: dict[int, asyncio.Task] = {}  # batch number -> its child run, in the order started
        again: list[int] = []  # batches asked to run again, not yet started
        while self._progress.next_batch < len(self._batches) or running or again or (rerun and self._jump_to_take(running)):
            while rerun and self._jump_to_take(running):
                again.append(batch_number(self.take_jump(self._batch_steps())))
            room = self.inp.max_batches_in_flight - len(running)
            while room > 0 and again:  # even past max_history_events: an accepted re-run is not dropped
                await self.pauses.wait()
                number = again.pop(0)
                running[number] = asyncio.create_task(self._run_batch(number, rerun))
                room -= 1
            while (room > 0 and self._progress.next_batch < len(self._batches)
                   and not self.history_full(self.inp.max_history_events) and not self._must_ask()):
                await self.pauses.wait()
                running[self._progress.next_batch] = asyncio.create_task(self._run_batch(self._progress.next_batch, rerun))
                self._progress.next_batch += 1
                room -= 1
            if not running and self._must_ask():
                await self._failure_gate()
                continue
            if not running:
                return True  # history full: hand the rest to a fresh run
            await wait_any_or(list(running.values()), (lambda: self._jump_to_take(running)) if rerun else None)
            for task in running.values():
                if task.done():
                    task.result()  # a failed batch fails the run
            running = {number: task for number, task in running.items() if not task.done()}
        return False

    def _batch_steps(self) -> list[str]:
        return [name for name in self.board.names() if name != FAILURES]

    def _jump_to_take(self, running: dict[int, asyncio.Task]) -> bool:
        """A batch a person asked to run again, and it is not running now."""
        jump = self.timeline.next_jump(self._batch_steps())
        return jump is not None and batch_number(jump.step) not in running

    def _show_earlier_batches(self) -> None:
        """After continue-as-new: the batches earlier runs finished, on the board
        and steerable again (what was carried is what they go back to)."""
        for number in sorted(self._progress.batches):
            step = batch_step(number)
            self.board.add([(step, self.inp.mapper)])
            self.timeline.before(step)
            self.step_done(step, self._progress.batches[number].partial or "")

    def rerun_scope(self, step: str) -> list[str]:
        """A batch runs again on its own (a new child run); the final reduce takes its new result."""
        if step == FAILURES:
            raise ValueError("approve to go on with the batches that are left")
        if self._reducing:
            raise ValueError("the final reduce has begun: every batch's result is already in it")
        return [step]

    async def _run_batch(self, number: int, rerun: bool) -> None:
        inp, first, step = self.inp, number * self.inp.batch_size, batch_step(number)
        last = first + len(self._batches[number]) - 1
        before = self._progress.batches.get(number)
        runs = before.runs + 1 if before else 1
        if rerun:  # a row on the board, and a checkpoint feedback and rewind go back to
            if step not in self.board:
                self.board.add([(step, inp.mapper)])
            self.timeline.before(step)
            self.board.set_state(step, "running")
        batch: MapBatchResult = await self.run_child(
            "MapBatchWorkflow",
            MapBatchInput(goal=inp.goal, first_index=first, items=self._batches[number], mapper=inp.mapper,
                          reducer=inp.reducer, max_parallel=inp.max_parallel, reduce_fan_in=inp.reduce_fan_in,
                          feedback=self.timeline.feedback.get(step, []), **self.budget.child_share()),
            f"{workflow.info().workflow_id}-{step}" + (f"-v{runs}" if runs > 1 else ""), MapBatchResult,
            f"batch {number + 1}/{len(self._batches)}: items {first}–{last}",
        )
        p = self._progress
        if before is not None:  # run again: its new counts replace its old ones
            p.mapped, p.failed_count = p.mapped - before.mapped, p.failed_count - before.failed_count
            p.failed = [f for f in p.failed if not first <= f.index <= last]
        if rerun:
            p.batches[number] = BatchTally(partial=batch.partial, mapped=batch.mapped, failed_count=len(batch.failed), runs=runs)
        elif batch.partial is not None:
            p.partials.append(batch.partial)
        p.mapped += batch.mapped
        p.failed_count += len(batch.failed)
        p.failed = sorted(p.failed + batch.failed, key=lambda f: f.index)[:MAX_FAILURES_KEPT]
        self.agents.count(batch.usage)
        p.usage = self.agents.usage
        if rerun:
            self.step_done(step, batch.partial or "")
        self._show()

    def _must_ask(self) -> bool:
        """At max_failures failed items, until a person approves: no new batch starts."""
        p, limit = self._progress, self.inp.max_failures
        return (limit is not None and p.failed_count >= limit and not p.failures_approved
                and p.next_batch < len(self._batches) and workflow.patched(RERUN_ANY_STEP))

    async def _failure_gate(self) -> None:
        await self.review_gate(FAILURES)  # approved by a person, or at the review deadline
        self._progress.failures_approved = True

    def _show(self) -> None:
        p = self._progress
        self.info.update(items=len(self.inp.items), mapped=p.mapped, failed=p.failed_count, batches=len(self._batches),
                         batches_started=p.next_batch, runs=p.runs)
        self.publish()

    @workflow.query
    def result(self) -> MapReduceResult:
        p = self._progress
        return MapReduceResult(result=self._result, items=len(self.inp.items), mapped=p.mapped, failed_count=p.failed_count,
                               failed=p.failed, runs=p.runs,
                               usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state())
