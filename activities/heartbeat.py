"""Heartbeats while an agent call or a tool call runs: a dead worker is noticed
within the agent's heartbeat timeout, and ``watch`` shows what the agent is
writing (docs/clients.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from pydantic import ValidationError
from temporalio import activity

from baton.contracts import LIVE_TAIL_CHARS, LiveAnswer


def beat(*details: object) -> None:
    """A heartbeat, unless this call is a short agent's local activity: the server has no
    activity task to keep its details on (AgentSpec.short gives heartbeats up)."""
    if not activity.info().is_local:
        activity.heartbeat(*details)


@contextlib.asynccontextmanager
async def live_heartbeats(seconds: float, parts: list[str], live: LiveAnswer) -> AsyncIterator[None]:
    """Heartbeat every ``seconds`` while the block runs, whether the server is still
    thinking (long prompts, reasoning models) or streaming. Not once per chunk: that
    cost 3% of the worker's time at 90 calls/s and proved nothing this does not."""
    def answer_so_far() -> tuple[LiveAnswer]:
        # Details are not history events; the worker sends the latest to the server at
        # most every BATON_LIVE_SECONDS.
        text = "".join(parts)
        return (live.model_copy(update={"chars": len(text), "tail": text[-LIVE_TAIL_CHARS:]}),)

    async with _beating(seconds, answer_so_far):
        yield


@contextlib.asynccontextmanager
async def heartbeats() -> AsyncIterator[None]:
    """Heartbeat (no details) every third of this call's heartbeat timeout while the block
    runs; none when it has no heartbeat timeout."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    async with _beating(timeout.total_seconds() / 3, tuple):
        yield


@contextlib.asynccontextmanager
async def _beating(seconds: float, details: Callable[[], tuple[object, ...]]) -> AsyncIterator[None]:
    """Heartbeat with ``details()`` every ``seconds`` while the block runs (a local activity: none)."""
    if activity.info().is_local:
        yield
        return
    ticker = asyncio.create_task(_heartbeat_every(seconds, details))
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def breaker_wait(info: activity.Info) -> float:
    """Seconds this call's earlier attempts waited for open circuit breakers. An attempt the
    breaker refused leaves ``waiting_since`` in its heartbeat details, which outlive it; each
    later attempt carries the sum on (``breaker_wait_seconds``). The same all through one attempt."""
    if not info.heartbeat_details:
        return 0.0
    try:
        last = LiveAnswer.model_validate(info.heartbeat_details[0])
    except ValidationError:  # a worker from before live answers heartbeats a plain count
        return 0.0
    waited = last.breaker_wait_seconds
    if last.waiting_since is not None:  # the wait ended when this attempt was scheduled
        waited += max((info.current_attempt_scheduled_time - last.waiting_since).total_seconds(), 0.0)
    return round(waited, 3)


async def _heartbeat_every(seconds: float, details: Callable[[], tuple[object, ...]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        activity.heartbeat(*details())
