"""Budgets and priority on the real dev server: a run stops starting agent calls
at its token or cost budget (partial results kept), or waits for a person to
raise it; a run's priority is carried by the run and its agent calls."""

from __future__ import annotations

import itertools
import uuid

import pytest
from temporalio.api.enums.v1 import EventType

from baton import client as baton
from tests.conftest import real_worker
from tests.test_pipeline_logic import until

THREE_STAGES = [{"name": "research", "agent": "researcher"}, {"name": "draft", "agent": "writer"},
                {"name": "edit", "agent": "editor"}]


async def start(client, task_queue, pattern: str, inp: dict):
    return await baton.start(client, baton.parse_input(pattern, inp), workflow_id=f"budget-{uuid.uuid4().hex[:6]}", queue=task_queue)


async def test_at_the_token_budget_no_new_call_starts_and_partial_outputs_are_kept(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await start(client, task_queue, "pipeline", {"goal": "Explain tides", "stages": THREE_STAGES, "max_tokens_total": 30})
        with pytest.raises(baton.BatonError, match=r"budget exceeded: \d+ of 30 tokens used; no new agent call was started"):
            await baton.wait_result(client, handle.id)
        memo = await (await client.get_workflow_handle(handle.id).describe()).memo()
    # research (~17 tokens) left room; draft took the run past 30; edit never started.
    assert [r.stage for r in llm.requests] == ["research", "draft"]
    assert set(memo["partial_outputs"]) == {"research", "draft"} and memo["usage"]["total_tokens"] >= 30


async def test_a_fan_out_at_its_cost_budget_stops_instead_of_failing_task_by_task(dev_env, llm, task_queue):
    tasks = [{"id": f"t{n}", "agent": "researcher", "prompt": f"part {n}"} for n in range(6)]
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        # tests/agents.toml: $1 / $2 per million tokens; one call costs about $0.00002.
        handle = await start(client, task_queue, "fan-out", {"goal": "Compare", "tasks": tasks, "max_parallel": 1,
                                                             "max_cost_usd": 0.00005})
        with pytest.raises(baton.BatonError, match=r"budget exceeded: \$0\.0000\d+ of \$0\.000050 spent"):
            await baton.wait_result(client, handle.id)
    assert 2 <= len(llm.requests) <= 3 and "synthesis" not in [r.stage for r in llm.requests]


async def test_with_on_budget_wait_a_person_raises_the_budget_and_the_run_goes_on(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await start(client, task_queue, "pipeline", {"goal": "Explain tides", "stages": THREE_STAGES,
                                                              "max_tokens_total": 30, "on_budget": "wait"})
        waiting = await until(client.get_workflow_handle(handle.id), lambda s: s.awaiting_review == "budget", 30)
        assert waiting.state == "awaiting_review" and "of 30 tokens used" in waiting.info["budget"]
        with pytest.raises(baton.BatonError, match="already used"):
            await baton.raise_budget(client, handle.id, max_tokens_total=31)
        await baton.raise_budget(client, handle.id, max_tokens_total=10_000)
        result = await baton.wait_result(client, handle.id)
    assert list(result.outputs) == ["research", "draft", "edit"]


async def test_priority_from_the_input_is_on_the_run_and_its_agent_calls(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await start(client, task_queue, "pipeline", {"goal": "Bulk job", "stages": THREE_STAGES[:1], "priority": "batch"})
        await baton.wait_result(client, handle.id)
    events = [e async for e in client.get_workflow_handle(handle.id).fetch_history_events()]
    assert events[0].workflow_execution_started_event_attributes.priority.priority_key == 5
    scheduled = [e.activity_task_scheduled_event_attributes for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert [a.priority.priority_key for a in scheduled] == [5]


# 12 ready at once; or 3 at a time, each next call scheduled by the workflow task its
# predecessor's answer woke, which would hand it straight to the worker (eager dispatch,
# past the limiter) if the limit did not turn that off.
@pytest.mark.parametrize("max_parallel", [12, 3])
async def test_a_worker_rate_limit_paces_agent_calls(dev_env, llm, task_queue, max_parallel):
    tasks = [{"id": f"t{n}", "agent": "researcher", "prompt": f"part {n}"} for n in range(12)]
    client = dev_env.client
    async with real_worker(client, llm, task_queue, BATON_AGENT_CALLS_PER_SECOND="3"):
        handle = await start(client, task_queue, "fan-out", {"goal": "Compare", "tasks": tasks, "max_parallel": max_parallel})
        await baton.wait_result(client, handle.id)
    starts = sorted(r.at for r in llm.requests if r.stage != "synthesis")
    assert len(starts) == 12
    # The limiter lets a first burst through (the SDK's token bucket: about 5 here),
    # then one call every 1/3 s.
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.25 for gap in gaps[-5:]), gaps
    assert starts[-1] - starts[0] >= (12 - 6) / 3


@pytest.mark.parametrize("on_deadline", ["approve", "fail"])
async def test_a_review_gate_with_a_deadline_approves_or_fails_when_nobody_answers(dev_env, llm, task_queue, on_deadline):
    stages = [{"name": "draft", "agent": "writer", "review": True}, {"name": "edit", "agent": "editor"}]
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handle = await start(client, task_queue, "pipeline", {"goal": "Explain tides", "stages": stages,
                                                              "review_deadline_seconds": 1, "on_review_deadline": on_deadline})
        if on_deadline == "fail":
            with pytest.raises(baton.BatonError, match=r"nobody reviewed stage 'draft' within 1s"):
                await baton.wait_result(client, handle.id)
            assert [r.stage for r in llm.requests] == ["draft"]
        else:
            result = await baton.wait_result(client, handle.id)
            status = await baton.status(client, handle.id)
            assert list(result.outputs) == ["draft", "edit"]
            assert status.stages[0].feedback == ["approved automatically after 1s"]
