"""A circuit breaker per model, in each worker: no retry storm against a
provider that is down.

After ``failures_to_open`` consecutive provider failures (5xx, timeouts,
connection errors: not 4xx, which say nothing about the provider's health, nor
429, whose Retry-After already paces us) the circuit opens: calls to that model
fail at once with a retryable ``CircuitOpen`` error whose ``next_retry_delay``
is the rest of the cool-down, so Temporal's retry comes back when a call could
succeed. After the cool-down one call goes through as a probe (half-open): its
success closes the circuit, its failure opens it for another cool-down.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from temporalio.exceptions import ApplicationError

State = Literal["closed", "open", "half_open"]
STATE_VALUES: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}  # the baton_breaker_state gauge

# Failure types (activities.errors.classify) that mean the provider is unwell.
PROVIDER_DOWN = frozenset({"ProviderTimeout", "ProviderUnreachable", "ProviderError"})
# While the probe is out, other calls come back this soon (or at the end of the cool-down).
PROBE_WAIT_SECONDS = 2.0


def provider_down(failure: ApplicationError) -> bool:
    kind = failure.type or ""
    return kind in PROVIDER_DOWN or (kind.startswith("HTTP5") and len(kind) == 7)


@dataclass
class Breaker:
    model: str
    failures_to_open: int
    cooldown_seconds: float
    on_change: Callable[[str, State], None]
    clock: Callable[[], float] = time.monotonic
    state: State = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def before_call(self) -> None:
        """Let the call through, or raise the retryable ``CircuitOpen``."""
        if self.state == "closed":
            return
        waited = self.clock() - self.opened_at
        if self.state == "open" and waited >= self.cooldown_seconds:
            self._move("half_open")
        if self.state == "half_open" and not self.probing:
            self.probing = True  # this call is the probe
            return
        remaining = max(self.cooldown_seconds - waited, 0.0)
        delay = remaining if self.state == "open" else min(PROBE_WAIT_SECONDS, self.cooldown_seconds)
        raise ApplicationError(
            f"{self.model}: circuit breaker open on this worker after {self.failures} consecutive provider failures "
            f"(of any run calling {self.model}); next try in {delay:.1f}s", type="CircuitOpen",
            next_retry_delay=timedelta(seconds=max(delay, 0.1)))

    def record(self, failed: bool | None) -> None:
        """The call's verdict on the provider: True down, False up, None no verdict (cancelled)."""
        probe, self.probing = self.probing, False
        if failed is None:
            return
        if not failed:
            self.failures = 0
            if self.state != "closed":
                self._move("closed")
            return
        self.failures += 1
        if probe or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()
            if self.state != "open":
                self._move("open")

    def _move(self, state: State) -> None:
        self.state = state
        self.on_change(self.model, state)


@dataclass
class BreakerBoard:
    """The worker's breakers, one per model, made on first use."""

    failures_to_open: int
    cooldown_seconds: float
    on_change: Callable[[str, State], None] = lambda model, state: None
    clock: Callable[[], float] = time.monotonic
    breakers: dict[str, Breaker] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.failures_to_open > 0

    def of(self, model: str) -> Breaker:
        if model not in self.breakers:
            self.breakers[model] = Breaker(model, self.failures_to_open, self.cooldown_seconds, self.on_change, self.clock)
        return self.breakers[model]


@contextlib.contextmanager
def guarded(board: BreakerBoard, model: str) -> Iterator[None]:
    """Around one call to ``model``: refused at once while its circuit is open; the
    call's outcome recorded after (a provider failure, a success, or neither when the
    call was cancelled)."""
    breaker = board.of(model) if board.enabled else None
    if breaker is not None:
        breaker.before_call()
    verdict: bool | None = None
    try:
        yield
        verdict = False
    except ApplicationError as err:
        verdict = provider_down(err)  # a refusal is an answer: not the provider's failure
        raise
    finally:
        if breaker is not None:
            breaker.record(verdict)
