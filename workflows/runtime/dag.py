"""Steps that depend on each other, run as soon as they can: a planned DAG's
tasks, a fan-out's tasks (none depends on another), a panel's answers (each
round's answers need the round before).

A step runs once every step it needs is done, never more than ``max_parallel``
at once; a step whose dependency failed or was skipped is skipped. At
``max_failures`` failed steps the run waits at a review gate for a person:
``approve`` goes on with what succeeded, feedback on a failed step runs it
again, feedback on the gate step itself hands back to the pattern (the planned
DAG re-plans). Feedback or rewind on a step that has run runs it and the steps
that need it again, as soon as none of them is running."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import TYPE_CHECKING

from temporalio import workflow

from baton.workflows.runtime.parallel import wait_any_or

if TYPE_CHECKING:
    from baton.workflows.control import ControlPlane

# Patch (workflow.patched): runs started before it took no re-run of a DAG step and
# ignored a step's failure to start (a spent budget) instead of ending the run.
RERUN_ANY_STEP = "baton-rerun-any-step"
FAILURES = "failures"  # the gate step of patterns with no step of their own to hold it (a fan-out)


def dependents(needs: Mapping[str, Collection[str]], step: str) -> list[str]:
    """``step`` and every step that needs it, directly or not, in ``needs``' order."""
    found, grew = {step}, True
    while grew:  # a plan need not list a task after the tasks it needs
        more = {name for name, wants in needs.items() if found & set(wants)} - found
        found, grew = found | more, bool(more)
    return [name for name in needs if name in found] if step in needs else [step]


async def run_dag(plane: ControlPlane, needs: Mapping[str, Collection[str]], run_step: Callable[[str], Awaitable[None]],
                  max_parallel: int, max_failures: int | None = None, gate: str | None = None) -> None:
    """Run the steps of ``needs`` (step -> the steps it needs, each listed after
    them) with ``run_step``. Returns when nothing is left to run, or when a person
    asked to re-run a step outside ``needs`` (the caller takes that jump)."""
    board, timeline = plane.board, plane.timeline
    rerun = workflow.patched(RERUN_ANY_STEP)
    running: dict[str, asyncio.Task] = {}
    gate_open = False  # a person approved going on past max_failures

    def jump_to_take() -> bool:
        return plane.jump_waiting(running, among=needs)

    while True:
        while rerun and jump_to_take():
            plane.take_jump(needs)
        handing_back = rerun and timeline.jump is not None and timeline.jump.step not in needs
        if handing_back and not running:
            return  # the caller's jump (a re-plan), once nothing runs
        _skip_blocked(plane, needs)
        failures = len(board.in_state("failed", among=needs))
        if max_failures is not None and gate is not None and failures >= max_failures and not gate_open:
            if running:  # let what is in flight finish first
                await wait_any_or(list(running.values()), jump_to_take if rerun else None)
                running = _still_running(running, rerun)
                continue
            await plane.review_gate(gate)
            if timeline.jump is None:  # approved (by a person or at the review deadline)
                gate_open = True
            elif not rerun or timeline.jump.step not in needs:
                return  # sent back: the caller's jump
            else:  # feedback on a failed step: it runs again, the gate closes behind it
                continue
        ready = [] if handing_back else [step for step in board.ready(needs) if step not in running]
        for step in ready[: max_parallel - len(running)]:
            running[step] = asyncio.create_task(run_step(step))
        if not running:
            if rerun and jump_to_take():
                continue
            return
        await wait_any_or(list(running.values()), jump_to_take if rerun else None)
        running = _still_running(running, rerun)


def _still_running(running: dict[str, asyncio.Task], rerun: bool) -> dict[str, asyncio.Task]:
    for task in running.values():
        if rerun and task.done():
            task.result()  # a step that could not even start (a spent budget) ends the run
    return {step: task for step, task in running.items() if not task.done()}


def _skip_blocked(plane: ControlPlane, needs: Mapping[str, Collection[str]]) -> None:
    changed = True
    while changed:  # a skipped step blocks its own dependents too
        changed = False
        for step, wants in needs.items():
            blocked = plane.board.blocked_by(step, wants)
            if blocked:
                plane.board.fail(step, f"skipped: depends on {', '.join(blocked)}", state="skipped")
                changed = True
