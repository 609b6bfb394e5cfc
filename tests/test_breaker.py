"""The circuit breaker's states on a fake clock, then on the real dev server:
a provider that keeps failing is left alone for the cool-down, then probed."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ApplicationError

from baton.activities.breaker import Breaker, provider_down
from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from baton.trace import build_trace
from baton.trace_render import render
from baton.workflows.details import step_line
from tests.conftest import real_worker
from tests.llm_server import Reply


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(failures: int = 3, cooldown: float = 30.0) -> tuple[Breaker, FakeClock, list[str]]:
    clock, moves = FakeClock(), []
    return Breaker("m", failures, cooldown, lambda model, state: moves.append(state), clock), clock, moves


def test_opens_after_consecutive_failures_and_fails_fast_for_the_rest_of_the_cool_down():
    b, clock, moves = breaker()
    for _ in range(2):
        b.before_call()
        b.record(True)
    b.before_call()
    b.record(False)  # a success in between resets the count
    for _ in range(3):
        b.before_call()
        b.record(True)
    assert moves == ["open"]
    clock.now += 10
    with pytest.raises(ApplicationError) as caught:
        b.before_call()
    assert caught.value.type == "CircuitOpen" and not caught.value.non_retryable
    assert caught.value.next_retry_delay.total_seconds() == pytest.approx(20)


def test_one_probe_after_the_cool_down_closes_or_reopens_the_circuit():
    b, clock, moves = breaker(failures=1, cooldown=30)
    b.before_call()
    b.record(True)
    clock.now += 30
    b.before_call()  # the probe goes through
    with pytest.raises(ApplicationError) as caught:
        b.before_call()  # others wait a little while it is out
    assert caught.value.next_retry_delay.total_seconds() == 2.0
    b.record(True)  # the probe failed: another full cool-down
    assert moves == ["open", "half_open", "open"]
    clock.now += 29
    with pytest.raises(ApplicationError):
        b.before_call()
    clock.now += 1
    b.before_call()
    b.record(False)
    assert moves[-2:] == ["half_open", "closed"] and b.failures == 0
    b.before_call()  # closed: no delay


def test_a_cancelled_probe_gives_no_verdict_and_frees_the_probe():
    b, clock, moves = breaker(failures=1, cooldown=1)
    b.before_call()
    b.record(True)
    clock.now += 1
    b.before_call()
    b.record(None)
    b.before_call()  # a new probe may go
    assert moves == ["open", "half_open"]


@pytest.mark.parametrize(("kind", "down"), [("HTTP500", True), ("HTTP503", True), ("ProviderTimeout", True),
                                            ("ProviderUnreachable", True), ("HTTP400", False), ("HTTP404", False),
                                            ("RateLimited", False), ("EmptyAnswer", False)])
def test_only_failures_that_say_the_provider_is_unwell_count(kind, down):
    assert provider_down(ApplicationError("x", type=kind)) is down


async def test_a_failing_provider_is_left_alone_for_the_cool_down_then_probed(dev_env, llm, task_queue, worker_log):
    llm.script_stage("research", Reply(status=500), Reply(status=502), "back up")
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher")])
    async with real_worker(dev_env.client, llm, task_queue, BATON_BREAKER_FAILURES="2", BATON_BREAKER_COOLDOWN_SECONDS="1.5"):
        handle = await baton.start(dev_env.client, inp, workflow_id=f"breaker-{uuid.uuid4().hex[:6]}", queue=task_queue)
        result = await baton.wait_result(dev_env.client, handle.id)
    assert result.final == "back up"
    # Attempts 1 and 2 reached the provider and opened the circuit; attempt 3 failed
    # fast without a request; attempt 4, after the cool-down, was the probe.
    assert llm.stage_calls("research") == 3
    assert llm.requests[2].at - llm.requests[1].at >= 1.4
    events = [e async for e in dev_env.client.get_workflow_handle(handle.id).fetch_history_events()]
    started = [e.activity_task_started_event_attributes for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert started[-1].attempt == 4
    assert started[-1].last_failure.application_failure_info.type == "CircuitOpen"
    moves = [json.loads(line)["breaker_state"] for line in worker_log.getvalue().splitlines() if '"breaker_state"' in line]
    assert moves == ["open", "half_open", "closed"]


async def test_a_run_held_back_by_another_runs_open_breaker_shows_the_wait(dev_env, llm, task_queue):
    """Breakers are per model and worker-wide: one run's failures hold back another run's
    calls to the same model. That run says so: while it waits (its live answer) and after
    (its step's row in status, its call in the trace)."""
    llm.script_stage("research", Reply(status=500), Reply(status=502), "back up")
    llm.script_stage("draft", "drafted")
    client = dev_env.client
    async with real_worker(client, llm, task_queue, BATON_BREAKER_FAILURES="2", BATON_BREAKER_COOLDOWN_SECONDS="3"):
        failing = await baton.start(client, PipelineInput(goal="Explain tides", stages=[StageSpec(name="research", agent="researcher")]),
                                    workflow_id=f"breaker-a-{uuid.uuid4().hex[:6]}", queue=task_queue)
        async with asyncio.timeout(10):  # its second failure opened the breaker: the server schedules attempt 3
            while not [p for p in (await client.get_workflow_handle(failing.id).describe()).raw_description.pending_activities
                       if p.attempt >= 3]:
                await asyncio.sleep(0.05)
        held = await baton.start(client, PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")]),
                                 workflow_id=f"breaker-b-{uuid.uuid4().hex[:6]}", queue=task_queue)
        async with asyncio.timeout(10):
            while not (waiting := [a for a in await baton.live(client, held.id) if a.waiting]):
                await asyncio.sleep(0.05)
        assert "circuit breaker" in waiting[0].waiting and "test-model" in waiting[0].waiting
        assert "this worker" in waiting[0].waiting  # the scope: not this run's failures
        assert (await baton.wait_result(client, held.id)).final == "drafted"
        try:  # whether it got the probe in time is the other test's subject, not this one's
            await baton.wait_result(client, failing.id)
        except baton.BatonError:
            pass
        row = (await baton.status(client, held.id)).stages[0]
    assert 1.0 <= row.breaker_wait_seconds <= 5.0  # the ~3 s cool-down, less what had passed when it asked
    trace = await build_trace(await client.get_workflow_handle(held.id).fetch_history())
    [call] = trace.calls
    assert call.breaker_wait_seconds == row.breaker_wait_seconds
    said = f"waited {row.breaker_wait_seconds:.1f} s for an open circuit breaker"
    assert said in render(trace, "timeline") and said in step_line(row)
