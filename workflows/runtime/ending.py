"""How a run ends: a failure names its step (and a child run's cause) with a
stable error type, a cancel keeps the partial outputs, the end marks it
completed. Failed and cancelled runs keep their outputs and usage in the memo,
readable without a worker (``temporal workflow describe``, the Web UI)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from baton import contracts
from baton.contracts import ERROR_TYPES, TOO_LARGE_ADVICE, RunState
from baton.workflows.runtime.board import StepBoard
from baton.workflows.runtime.caller import AgentCaller
from baton.workflows.runtime.timeline import Timeline


def root_cause(err: BaseException) -> BaseException:
    """The error at the bottom of a child workflow or activity failure chain."""
    while isinstance(err, ChildWorkflowError | ActivityError) and err.cause is not None:
        err = err.cause
    return err


def root_message(err: BaseException) -> str:
    """The reason at the bottom of a child workflow failure chain."""
    cause = root_cause(err)
    return getattr(cause, "message", None) or str(cause)


MEMO_OUTPUTS_BYTES = 256 * 1024  # the outputs a failed or cancelled run keeps in its memo, whole, up to this
MEMO_OUTPUT_CHARS = 2_000  # past it, the start of each


def memo_outputs(outputs: dict[str, str]) -> dict[str, str]:
    """The outputs as the memo keeps them: whole when they fit, else the start of each
    (a memo past Temporal's payload limit would fail the run's last task, and leave it stuck)."""
    if sum(len(text.encode()) for text in outputs.values()) <= MEMO_OUTPUTS_BYTES:
        return dict(outputs)
    return {step: text if len(text) <= MEMO_OUTPUT_CHARS
            else f"{text[:MEMO_OUTPUT_CHARS]}\n… [{len(text):,} characters in all: the run's result query has the whole text]"
            for step, text in outputs.items()}


def require_history_room(step: str) -> None:
    """Before a step starts: fail the run (``HistoryTooLarge``, its outputs kept in the memo)
    when its history nears Temporal's limits, which would terminate it with nothing kept."""
    info = workflow.info()
    size, events = info.get_current_history_size(), info.get_current_history_length()
    # Read at each call (not bound at import): the suite lowers them to reach them quickly.
    if size < contracts.HISTORY_BYTES_GUARD and events < contracts.HISTORY_EVENTS_GUARD:
        return
    raise ApplicationError(
        f"the run's history holds {events:,} events and {size:,} bytes, near Temporal's limits; {step!r} and the "
        f"steps after it were not started (at most {contracts.HISTORY_EVENTS_GUARD:,} events and "
        f"{contracts.HISTORY_BYTES_GUARD:,} bytes): {TOO_LARGE_ADVICE}, or split the work into several runs",
        type="HistoryTooLarge", non_retryable=True)


class RunEnd:
    def __init__(self, pattern: str, board: StepBoard, timeline: Timeline, caller: AgentCaller,
                 changed: Callable[[], None]) -> None:
        self.state: RunState = "running"  # until the run ends
        self.error: str | None = None
        self._pattern, self._board, self._timeline, self._caller, self._changed = pattern, board, timeline, caller, changed

    def invalid_input(self, problems: list[str]) -> ApplicationError:
        """The run's input is unusable: it fails at once, one line per problem."""
        self.error = f"invalid {self._pattern} input:\n" + "\n".join(f"- {p}" for p in problems)
        self.state = "failed"
        self._changed()
        return ApplicationError(self.error, {"problems": problems}, type="InvalidInput", non_retryable=True)

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        """Around a pattern's body. Continue-as-new passes through untouched."""
        try:
            yield
        except ApplicationError as err:
            if self.state == "failed":
                raise  # this run's end, made already (invalid_input(): the problems are its details)
            raise self.failed(err) from err
        except (ChildWorkflowError, ActivityError) as err:  # a child run's failure, or a local activity's
            cause = root_cause(err)
            raise self.failed(cause if isinstance(cause, ApplicationError) else ApplicationError(root_message(err))) from err
        except asyncio.CancelledError:
            self.cancelled()
            raise
        self.completed()

    def failed(self, err: ApplicationError) -> ApplicationError:
        """The run's failure, with the step, the agent and the provider's reason; its
        type is the cause's when that is one of the stable ERROR_TYPES (docs/errors.md),
        else ``RunFailed`` (the cause's own type is in the details)."""
        self.error = err.message
        self.state = "failed"
        failed_steps = self._board.fail_running(err.message)  # the steps running when the run failed
        self._record_outputs()
        details = {"pattern": self._pattern, "steps": failed_steps, "cause_type": err.type}
        stable = err.type if err.type in ERROR_TYPES else "RunFailed"
        return ApplicationError(self.error, details, type=stable, non_retryable=True)

    def cancelled(self) -> None:
        self.state = "cancelled"
        self._record_outputs()

    def completed(self) -> None:
        self.state = "completed"
        self._changed()

    def _record_outputs(self) -> None:
        workflow.upsert_memo({"partial_outputs": memo_outputs(self._timeline.outputs), "usage": self._caller.usage.model_dump()})
        self._changed()
