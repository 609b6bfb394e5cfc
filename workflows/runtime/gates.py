"""The gates a run waits at for a person: the pause gate before every agent
call, review gates after ``review`` steps (and the DAG's failure gate), and the
budget. Each owns its own state; the control plane publishes after changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from baton.contracts import ApproveRequest, RaiseBudgetRequest, RunInput, Usage
from baton.workflows.runtime.board import StepBoard

BUDGET_EXCEEDED = "BudgetExceeded"
# Failures that end the run wherever they happen, not only the step: no step after them could run.
RUN_ENDING = (BUDGET_EXCEEDED, "PayloadTooLarge", "HistoryTooLarge")
STEADY_STATES = ("running", "paused", "awaiting_review")  # a run in one of these can be steered


def record_human_wait(pattern: str, kind: str, began: datetime) -> None:
    # The workflow meter records on real executions only, never on replay.
    seconds = (workflow.now() - began).total_seconds()
    workflow.metric_meter().create_histogram_float(
        "baton_human_wait_seconds", "Time runs waited for a person, by pattern and kind (review, pause, budget)", "s"
    ).record(seconds, {"pattern": pattern, "kind": kind})


async def wait_for_person(answered: Callable[[], bool], limits: RunInput, unanswered: str) -> bool:
    """Wait until ``answered()`` holds; True then. At the run's review deadline: False
    when the input says to go on (``on_review_deadline: approve``), else the run fails
    (``ReviewDeadline``: ``unanswered`` within N s)."""
    deadline = limits.review_deadline_seconds
    try:
        # No deadline: no timer, the same commands as runs from before deadlines existed.
        await workflow.wait_condition(answered, timeout=timedelta(seconds=deadline) if deadline else None)
    except asyncio.TimeoutError:
        if limits.on_review_deadline == "fail":
            raise ApplicationError(f"{unanswered} within {deadline:g}s", type="ReviewDeadline", non_retryable=True) from None
        return False
    return True


class PauseGate:
    def __init__(self, pattern: str) -> None:
        self.paused = False  # set by pause() / resume() only
        self._pattern = pattern

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    async def wait(self) -> None:
        """Return at once unless paused; else when resumed."""
        began = workflow.now() if self.paused else None
        await workflow.wait_condition(lambda: not self.paused)
        if began is not None:
            record_human_wait(self._pattern, "pause", began)


class ReviewGate:
    """Which step awaits review and which are approved. An approval binds to the run
    of the step awaiting review now: one re-applied by ``temporal workflow reset``
    of an earlier run, or sent before the step ran again, approves nothing new."""

    def __init__(self, pattern: str, step_noun: str, board: StepBoard) -> None:
        self.awaiting: str | None = None
        self._approved: set[str] = set()
        self._pattern, self._noun, self._board = pattern, step_noun, board

    def approve(self, step: str) -> None:
        self._approved.add(step)

    def approved(self, step: str) -> bool:
        return step in self._approved

    def forget(self, steps: list[str]) -> None:
        """Steps that will run again need a new approval."""
        self._approved.difference_update(steps)

    def target(self, request: ApproveRequest | None) -> str:
        return (request.stage if request else None) or self.awaiting or ""

    def problem(self, request: ApproveRequest | None, run_state: str) -> str | None:
        """Why this approval approves nothing, or None."""
        noun, board = self._noun, self._board
        stage, run = self.target(request), request.run if request else None
        if run_state not in STEADY_STATES:
            return f"the run is {run_state}; nothing awaits review"
        if stage and board and stage not in board:
            return f"unknown {noun} {stage!r}; {noun}s: {', '.join(board.names())}"
        if self.awaiting is None:
            return f"{noun} {stage!r} is not awaiting review; nothing is" if stage else "nothing is awaiting review"
        if stage != self.awaiting:
            return f"{noun} {stage!r} is not awaiting review; {self.awaiting!r} is"
        current = board.runs(stage)
        if run is not None and run != current:
            return f"this approves run {run} of {noun} {stage!r}, but run {current} is awaiting review"
        return None

    async def wait(self, step: str, sent_back: Callable[[], bool], limits: RunInput) -> None:
        """Wait after ``step`` until it is approved or ``sent_back`` (feedback, rewind);
        at the run's review deadline, approve it or fail the run as the input says."""
        self.awaiting = step
        self._board.set_state(step, "awaiting_review")
        began = workflow.now()
        try:
            answered = await wait_for_person(lambda: step in self._approved or sent_back(), limits,
                                             f"nobody reviewed {self._noun} {step!r}")
            if not answered:
                deadline = limits.review_deadline_seconds
                workflow.logger.info("review of %s not answered within %ss: approved automatically", step, deadline,
                                     extra={"stage": step})
                self._approved.add(step)
                self._board.note(step, f"approved automatically after {deadline:g}s")
        finally:
            self.awaiting = None
        record_human_wait(self._pattern, "review", began)
        if step in self._approved:
            self._board.set_state(step, "done")


class Budget:
    """The run's limits (budget, priority, review deadline: ``RunInput``'s fields),
    checked before every agent call against the usage so far."""

    def __init__(self, pattern: str, usage: Callable[[], Usage]) -> None:
        self.limits = RunInput()
        self.waiting: str | None = None  # why the run waits for a bigger budget
        self._pattern, self._usage = pattern, usage

    def apply(self, inp: RunInput) -> None:
        self.limits = RunInput(**inp.limits())

    def over(self) -> str | None:
        """Why no new agent call may start, or None."""
        limits, used = self.limits, self._usage()
        if limits.max_tokens_total is not None and used.total_tokens >= limits.max_tokens_total:
            return f"{used.total_tokens} of {limits.max_tokens_total} tokens used"
        if limits.max_cost_usd is not None and used.cost_usd >= limits.max_cost_usd:
            return f"${used.cost_usd:.6f} of ${limits.max_cost_usd:.6f} spent"
        return None

    async def check(self, changed: Callable[[], None]) -> None:
        """Before an agent call: at the budget, stop the run (its partial results kept)
        or, with ``on_budget: wait``, wait for a person to raise it."""
        reason = self.over()
        if reason is None:
            return
        if self.limits.on_budget == "stop":
            raise ApplicationError(f"budget exceeded: {reason}; no new agent call was started", type=BUDGET_EXCEEDED,
                                   non_retryable=True)
        self.waiting = f"{reason}: raise it with the raise_budget update"
        changed()
        began = workflow.now()
        await workflow.wait_condition(lambda: self.over() is None)
        self.waiting = None
        record_human_wait(self._pattern, "budget", began)
        changed()

    def problem(self, request: RaiseBudgetRequest) -> str | None:
        used = self._usage()
        if request.max_tokens_total is None and request.max_cost_usd is None:
            return "give max_tokens_total or max_cost_usd"
        if request.max_tokens_total is not None and request.max_tokens_total <= used.total_tokens:
            return f"the run has already used {used.total_tokens} tokens"
        if request.max_cost_usd is not None and request.max_cost_usd <= used.cost_usd:
            return f"the run has already cost ${used.cost_usd:.6f}"
        return None

    def raise_to(self, request: RaiseBudgetRequest) -> str:
        self.limits = self.limits.model_copy(update={k: v for k, v in request.model_dump().items() if v is not None})
        return f"budget now {self.limits.max_tokens_total} tokens, ${self.limits.max_cost_usd}"

    def child_share(self) -> dict:
        """A child run's share: what is left of this run's budget when it starts."""
        limits, used = self.limits, self._usage()
        return {
            "max_tokens_total": None if limits.max_tokens_total is None else max(limits.max_tokens_total - used.total_tokens, 1),
            "max_cost_usd": None if limits.max_cost_usd is None else max(limits.max_cost_usd - used.cost_usd, 1e-9),
        }
