"""The step board: every step of a run, in order, with its state. The only
writer of step rows; schedulers ask it which steps are ready, done or failed,
and ``status`` and the Web UI show its rows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from baton.contracts import AgentResult, StageState, StageStatus


class StepBoard:
    def __init__(self, changed: Callable[[], None]) -> None:
        self._rows: dict[str, StageStatus] = {}
        self._changed = changed  # publishes the run's status after a visible change
        self._calling: list[str] = []  # steps whose agent call is under way, in the order they started

    # ------------------------------------------------------------ writes

    def define(self, steps: Iterable[tuple[str, str]]) -> None:
        """The steps known when the run starts: ``(name, agent)`` pairs."""
        self._rows = {name: StageStatus(name=name, agent=agent, state="pending") for name, agent in steps}
        self._changed()

    def add(self, steps: Iterable[tuple[str, str]]) -> None:
        """Steps known only once the run is under way (a plan's tasks, a turn)."""
        self._rows.update({name: StageStatus(name=name, agent=agent, state="pending") for name, agent in steps})
        self._changed()

    def keep_only(self, names: Collection[str]) -> None:
        """Drop every other step (a new plan replaces the old plan's tasks)."""
        self._rows = {name: row for name, row in self._rows.items() if name in names}

    def start(self, step: str) -> int:
        """The step's agent call begins: its run number (1, 2, … on re-runs)."""
        row = self._rows[step]
        row.runs += 1
        row.origin = None
        self.set_state(step, "running")
        return row.runs

    def took(self, step: str, origin: str) -> None:
        """The step's output came without a call here: ``inherited`` from a fork's source, ``set`` by a person."""
        self._rows[step].origin = origin
        self._changed()

    def chosen(self, step: str, override: str | None) -> None:
        """The agent or model a person chose for the step (None: its own)."""
        self._rows[step].override = override

    def call_started(self, step: str) -> None:
        """An agent call for ``step`` is under way (a step with no row too: a reducer call)."""
        self._calling.append(step)

    def call_ended(self, step: str) -> None:
        self._calling.remove(step)

    def set_state(self, step: str, state: StageState) -> None:
        self._rows[step].state = state
        self._changed()

    def fail(self, step: str, error: str, state: StageState = "failed") -> None:
        """A step failed (or was ``skipped``) without failing the run."""
        self._rows[step].error = error
        self.set_state(step, state)

    def fail_running(self, error: str) -> list[str]:
        """The run failed: the steps running then fail with it (no publish: the run's end does)."""
        failed = [row.name for row in self._rows.values() if row.state == "running"]
        for name in failed:
            self._rows[name].state, self._rows[name].error = "failed", error
        return failed

    def answered(self, step: str, result: AgentResult) -> None:
        """The step's answer came: the model that gave it, whether it stopped at the token limit,
        how long it waited for an open circuit breaker."""
        row = self._rows[step]
        row.model, row.truncated, row.breaker_wait_seconds = result.model, result.truncated, result.breaker_wait_seconds

    def assign(self, step: str, agent: str) -> None:
        """The agent that will run a step chosen during the run (a router's route)."""
        self._rows[step].agent = agent

    def note(self, step: str, text: str) -> None:
        """Feedback shown on the step's row."""
        self._rows[step].feedback.append(text)

    def reset(self, steps: Iterable[str]) -> None:
        """Steps that will run again: pending (no publish: the caller publishes once)."""
        for name in steps:
            self._rows[name].state = "pending"

    # ------------------------------------------------------------ reads

    def __contains__(self, step: object) -> bool:
        return step in self._rows

    def __bool__(self) -> bool:
        return bool(self._rows)

    def calling(self) -> list[str]:
        """The steps whose agent call is under way, in the order they started."""
        return list(self._calling)

    def names(self) -> list[str]:
        return list(self._rows)

    def rows(self) -> list[StageStatus]:
        return list(self._rows.values())

    def state(self, step: str) -> StageState:
        return self._rows[step].state

    def error(self, step: str) -> str | None:
        return self._rows[step].error

    def runs(self, step: str) -> int:
        return self._rows[step].runs

    def agent(self, step: str) -> str:
        return self._rows[step].agent

    def in_state(self, *states: StageState, among: Iterable[str] | None = None) -> list[str]:
        """The steps (of ``among``, default all) in one of ``states``, in board order."""
        names = self._rows if among is None else among
        return [name for name in names if self._rows[name].state in states]

    def ready(self, depends_on: Mapping[str, Collection[str]]) -> list[str]:
        """Pending steps of ``depends_on`` whose dependencies are all done, in its order."""
        return [step for step, needs in depends_on.items() if self._rows[step].state == "pending"
                and all(self._rows[d].state == "done" for d in needs)]

    def blocked_by(self, step: str, needs: Collection[str]) -> list[str]:
        """The dependencies of a pending ``step`` that failed or were skipped."""
        if self._rows[step].state != "pending":
            return []
        return [d for d in needs if self._rows[d].state in ("failed", "skipped")]
