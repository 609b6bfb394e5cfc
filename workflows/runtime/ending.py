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

from baton.contracts import ERROR_TYPES, RunState
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
        workflow.upsert_memo({"partial_outputs": dict(self._timeline.outputs), "usage": self._caller.usage.model_dump()})
        self._changed()
