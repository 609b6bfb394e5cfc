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
    from baton.contracts import (ContextItem, ItemFailure, MapBatchInput, MapBatchResult, MapReduceInput,
                                 MapReduceProgress, MapReduceResult)
    from baton.patterns import About
    from baton.workflows.children import ChildRunsPlane
    from baton.workflows.control import ControlPlane
    from baton.workflows.runtime.dag import FAILURES, RERUN_ANY_STEP
    from baton.workflows.runtime.gates import BUDGET_EXCEEDED
    from baton.workflows.runtime.parallel import run_parallel, wait_any

MAX_FAILURES_KEPT = 100


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

        async def map_one(offset: int) -> None:
            index = inp.first_index + offset
            try:
                answer = await self.call_agent(f"item-{index}", inp.mapper, inp.goal, instructions=f"Process this item:\n{inp.items[offset]}")
            except ApplicationError as err:
                if err.type == BUDGET_EXCEEDED:
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
    about = About(
        "map-reduce", MapReduceInput, MapReduceResult, step_noun="item",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Items:** {len(i.items)} · mapper {i.mapper} · reducer {i.reducer}",
    )
    rerun_refusal = ("a map-reduce run cannot run a batch or an item again yet: its partial results are kept by "
                     "count, not by batch; start a new run for the items that need it (at its failure gate, approve "
                     "goes on)")

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._result: str | None = None
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
            if await self._map_batches():
                await workflow.wait_condition(workflow.all_handlers_finished)
                carried = self._progress.model_copy(update={"runs": self._progress.runs + 1})
                workflow.continue_as_new(inp.model_copy(update={"progress": carried}))
            partials = [ContextItem(name=f"batch {n + 1}", output=p) for n, p in enumerate(self._progress.partials)]
            self._result = await reduce_all(self, partials, inp.reducer, inp.goal, inp.reduce_fan_in)
        return self.result()

    async def _map_batches(self) -> bool:
        """Run the batches; True when this run should continue as new first."""
        running: list[asyncio.Task] = []  # a list, not a set: deterministic order
        while self._progress.next_batch < len(self._batches) or running:
            room = self.inp.max_batches_in_flight - len(running)
            while (room > 0 and self._progress.next_batch < len(self._batches) and not self._history_full()
                   and not self._must_ask()):
                await self.pauses.wait()
                running.append(asyncio.create_task(self._run_batch(self._progress.next_batch)))
                self._progress.next_batch += 1
                room -= 1
            if not running and self._must_ask():
                await self._failure_gate()
                continue
            if not running:
                return True  # history full: hand the rest to a fresh run
            await wait_any(running)
            for task in running:
                if task.done():
                    task.result()  # a failed batch fails the run
            running = [task for task in running if not task.done()]
        return False

    async def _run_batch(self, number: int) -> None:
        inp, first = self.inp, number * self.inp.batch_size
        batch: MapBatchResult = await self.run_child(
            "MapBatchWorkflow",
            MapBatchInput(goal=inp.goal, first_index=first, items=self._batches[number], mapper=inp.mapper,
                          reducer=inp.reducer, max_parallel=inp.max_parallel, reduce_fan_in=inp.reduce_fan_in,
                          **self.budget.child_share()),
            f"{workflow.info().workflow_id}-batch-{number + 1}", MapBatchResult,
            f"batch {number + 1}/{len(self._batches)}: items {first}–{first + len(self._batches[number]) - 1}",
        )
        if batch.partial is not None:
            self._progress.partials.append(batch.partial)
        self._progress.mapped += batch.mapped
        self._progress.failed_count += len(batch.failed)
        self._progress.failed = sorted(self._progress.failed + batch.failed, key=lambda f: f.index)[:MAX_FAILURES_KEPT]
        self.agents.count(batch.usage)
        self._progress.usage = self.agents.usage
        self._show()

    def _must_ask(self) -> bool:
        """At max_failures failed items, until a person approves: no new batch starts."""
        p, limit = self._progress, self.inp.max_failures
        return (limit is not None and p.failed_count >= limit and not p.failures_approved
                and p.next_batch < len(self._batches) and workflow.patched(RERUN_ANY_STEP))

    async def _failure_gate(self) -> None:
        if FAILURES not in self.board:
            self.board.add([(FAILURES, "person")])
        await self.review_gate(FAILURES)  # approved by a person, or at the review deadline
        self._progress.failures_approved = True

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.get_current_history_length() >= self.inp.max_history_events or info.is_continue_as_new_suggested()

    def _show(self) -> None:
        p = self._progress
        self.info.update(items=len(self.inp.items), mapped=p.mapped, failed=p.failed_count, batches=len(self._batches),
                         batches_started=p.next_batch, runs=p.runs)
        self.publish()

    @workflow.query
    def result(self) -> MapReduceResult:
        p = self._progress
        return MapReduceResult(result=self._result, items=len(self.inp.items), mapped=p.mapped, failed_count=p.failed_count,
                               failed=p.failed, runs=p.runs, usage=self.agents.usage, state=self.run_state())
