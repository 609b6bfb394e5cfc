"""What a forked (or seeded) run takes instead of calling agents: the outputs its
source run's snapshot held, and the outputs people gave (a fork's ``set``, an
``edit_output`` that re-runs what follows, a ``skip`` with an output).

A step takes its given output the next time it would call its agent
(``ControlPlane.call_agent``): no model call, no cost. Where the outputs came
from is kept for status, the memo and the trace (``ForkInfo``); what the source
spent on them is kept apart from this run's usage, so budgets count only what
this run spends. Loaded once, at the start, through the ``load_fork`` activity
(recorded: a replay reads the source never again)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from baton.contracts import AgentResult, ForkInfo, ForkSeed, ForkSpec, Usage

Origin = Literal["inherited", "set"]


class Inheritance:
    def __init__(self) -> None:
        self.info: ForkInfo | None = None  # None: the run is not a fork
        self.seed: ForkSeed | None = None
        self._given: dict[str, tuple[str, Origin]] = {}  # step -> the output it takes next, and whence
        self.origin: dict[str, Origin] = {}  # step -> whence its current output came, until it runs for real
        self._skips: dict[str, str] = {}  # step -> why a person skipped it, until its turn comes

    @property
    def usage(self) -> Usage:
        """What the source spent on what this run inherited."""
        return self.info.inherited_usage if self.info else Usage()

    async def load(self, spec: ForkSpec) -> None:
        """Read the source's snapshot (an activity) and take the outputs it held,
        then the ones ``spec.set`` gives on top. Raises ValueError saying why the
        fork cannot begin (no such run or snapshot, another pattern)."""
        if spec.source is not None:
            try:
                self.seed = await workflow.execute_activity(
                    "load_fork", spec, result_type=ForkSeed, start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(maximum_attempts=3), summary=f"fork of {spec.source} at {spec.at}")
            except ActivityError as err:
                cause = err.cause
                raise ValueError(f"fork: {getattr(cause, 'message', None) or cause or err}") from None
        seed = self.seed
        inherited = {step: text for step, text in (seed.outputs if seed else {}).items() if step not in spec.set}
        self._given = {**{s: (t, "inherited") for s, t in inherited.items()}, **{s: (t, "set") for s, t in spec.set.items()}}
        self.info = ForkInfo(source=spec.source, source_run_id=seed.source_run_id if seed else None,
                             at=seed.at if seed else None, label=seed.label if seed else None,
                             inherited=list(inherited), set=list(spec.set),
                             inherited_usage=seed.usage if seed else Usage())

    def keep_only(self, steps: set[str]) -> None:
        """Forget inherited outputs of steps this run does not have (its input changed them)."""
        self._given = {step: given for step, given in self._given.items() if step in steps}
        if self.info is not None:
            self.info.inherited = [step for step in self.info.inherited if step in steps]

    def give(self, step: str, text: str) -> None:
        """A person's output for ``step``'s next run (an edit re-running what follows, a skip)."""
        self._given[step] = (text, "set")

    def skip(self, step: str, reason: str) -> None:
        """A person's: ``step`` does not run and has no output (the pattern says what its dependants get)."""
        self._skips[step] = reason

    def skipped(self, step: str) -> str | None:
        """Why ``step`` is to be skipped, once (None: it runs)."""
        return self._skips.pop(step, None)

    def take(self, step: str, structured: bool) -> AgentResult | None:
        """``step``'s given output as its agent's answer (``structured``: with the JSON
        object it holds as data), once; None when it has none and must run."""
        if step not in self._given:
            self.origin.pop(step, None)  # it runs for real now
            return None
        text, origin = self._given.pop(step)
        self.origin[step] = origin
        artifact = self.seed.artifacts.get(step) if self.seed and origin == "inherited" else None
        return AgentResult(text=text, data=json_object(text) if structured else None, model=origin, artifact=artifact)

    def take_as_state(self, steps: list[str]) -> dict[str, tuple[str, Origin]]:
        """``steps``' given outputs, taken now as the run's state (a flow's progress
        holds its inherited nodes): step -> (text, whence). A loop's later visit of
        such a step runs."""
        taken = {step: self._given.pop(step) for step in steps if step in self._given}
        self.origin.update({step: origin for step, (_, origin) in taken.items()})
        return taken

    def peek(self, step: str) -> str | None:
        """The output ``step`` will take, without taking it."""
        return self._given[step][0] if step in self._given else None


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object ``text`` holds (a structured output given as text), else None."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
