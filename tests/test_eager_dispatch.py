"""A run's agent calls go to the worker that scheduled them with its workflow task's
completion (eager dispatch), up to that worker's free slots: no trip through the
task queue. Two workers on one queue tell the paths apart: a call taken from the
queue goes to either."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from baton import client as baton
from baton.contracts import FanOutInput, TaskSpec
from baton.worker import _eager_calls
from tests.conftest import address_of, real_worker


async def test_a_fan_out_s_calls_run_on_the_worker_that_scheduled_them(dev_env, llm, task_queue):
    other = await Client.connect(address_of(dev_env), namespace=dev_env.client.namespace,
                                 data_converter=dev_env.client.data_converter, identity="the-other-worker")
    tasks = [TaskSpec(id=f"t{i}", agent="researcher", prompt=f"part {i}") for i in range(12)]
    async with real_worker(dev_env.client, llm, task_queue), real_worker(other, llm, task_queue):
        handle = await baton.start(dev_env.client, FanOutInput(goal="g", tasks=tasks, max_parallel=12, synthesizer=None),
                                   workflow_id=f"eager-{uuid.uuid4().hex[:8]}", queue=task_queue)
        await baton.wait_result(dev_env.client, handle.id)

    events = [e async for e in dev_env.client.get_workflow_handle(handle.id).fetch_history_events()]
    by_id = {e.event_id: e for e in events}
    calls = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
             and e.activity_task_scheduled_event_attributes.activity_type.name == "run_agent"]
    started = {e.activity_task_started_event_attributes.scheduled_event_id: e.activity_task_started_event_attributes.identity
               for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED}
    assert len(calls) == 12
    # Each call ran where the workflow task that scheduled it completed. Through the
    # queue, 12 calls would land on one of two polling workers by chance 1 time in 2,048.
    scheduled_by = [by_id[c.activity_task_scheduled_event_attributes.workflow_task_completed_event_id]
                    .workflow_task_completed_event_attributes.identity for c in calls]
    assert [started[c.event_id] for c in calls] == scheduled_by


def test_eager_dispatch_takes_the_worker_s_slots_and_is_off_under_a_rate_limit():
    assert _eager_calls({}, slots=20) == 20
    assert _eager_calls({"BATON_EAGER_AGENTS": "0"}, slots=20) == 0
    assert _eager_calls({"BATON_AGENT_CALLS_PER_SECOND": "3"}, slots=20) == 0
    assert _eager_calls({"BATON_QUEUE_AGENT_CALLS_PER_SECOND": "3", "BATON_EAGER_AGENTS": "0"}, slots=20) == 0
    with pytest.raises(ValueError, match="whole number"):
        _eager_calls({"BATON_EAGER_AGENTS": "-1"}, slots=20)
    with pytest.raises(ValueError, match="past BATON_QUEUE_AGENT_CALLS_PER_SECOND's limit"):
        _eager_calls({"BATON_EAGER_AGENTS": "5", "BATON_QUEUE_AGENT_CALLS_PER_SECOND": "3"}, slots=20)
