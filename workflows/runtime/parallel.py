"""Bounded, deterministic parallelism inside a workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

from temporalio import workflow

T = TypeVar("T")


async def run_parallel(items: Sequence[T], work: Callable[[T], Awaitable[None]], limit: int) -> None:
    """``work`` on every item, never more than ``limit`` at once (FIFO, so deterministic)."""
    gate = asyncio.Semaphore(limit)

    async def bounded(item: T) -> None:
        async with gate:
            await work(item)

    await asyncio.gather(*(bounded(item) for item in items))


async def wait_any_or(tasks: Collection[asyncio.Task], condition: Callable[[], bool] | None) -> None:
    """Until one of ``tasks`` ends or ``condition`` holds (a person asked for a re-run);
    no condition: ``wait_any``."""
    if condition is None:
        await wait_any(tasks)
        return
    asked = asyncio.create_task(workflow.wait_condition(condition))
    try:
        await wait_any([*tasks, asked])
    finally:
        asked.cancel()


async def wait_any(tasks: Collection[asyncio.Task]) -> None:
    """Wait until one of ``tasks`` ends. If the run is cancelled meanwhile, they
    are cancelled and awaited first, so nothing finishes after the run has."""
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await workflow.wait(tasks)
        raise


async def gather_or_cancel(work: Sequence[Awaitable[T]]) -> list[T]:
    """Every result, in order; when one fails the others are cancelled and awaited
    before its error is raised, so nothing it started is left running (or waiting
    for a person) after the failure."""
    tasks = [asyncio.ensure_future(each) for each in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
