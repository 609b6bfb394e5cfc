"""What the input contracts accept is bounded so a run that cannot fit is refused
before it starts (issue: a review deadline of 1e14 seconds overflowed inside the
workflow and left the run Running with failing workflow tasks)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowFailureError

from baton import client as baton
from tests.conftest import real_worker

STAGE = {"name": "a", "agent": "writer"}
AGENT = {"name": "mine", "instructions": "Be brief.", "model": "test-model"}

TOO_BIG = [
    ("review deadline of 1e14 s", {"goal": "g", "stages": [STAGE], "review_deadline_seconds": 1e14},
     "review_deadline_seconds: Input should be less than or equal to 31622400"),
    ("an agent's timeout of 1e14 s", {"goal": "g", "stages": [STAGE], "defined_agents": [AGENT | {"start_to_close_seconds": 1e14}]},
     "defined_agents.0.start_to_close_seconds: Input should be less than or equal to 31622400"),
    ("a retry interval of 1e14 s", {"goal": "g", "stages": [STAGE], "defined_agents": [
        AGENT | {"retry": {"maximum_interval_seconds": 1e14}}]}, "maximum_interval_seconds: Input should be less than or equal"),
    ("an agent's max_tokens of 10^12", {"goal": "g", "stages": [STAGE], "defined_agents": [AGENT | {"max_tokens": 10**12}]},
     "max_tokens: Input should be less than or equal to 1000000"),
    ("200 KB of stage instructions", {"goal": "g", "stages": [STAGE | {"instructions": "x" * 200_000}]},
     "stages.0.instructions: String should have at most 100000 characters"),
    ("a 2 MB input", {"goal": "g", "stages": [STAGE | {"name": f"s{n}", "instructions": "x" * 20_000} for n in range(100)]},
     "the input is 2,00"),
]


@pytest.mark.parametrize(("what", "inp", "message"), TOO_BIG, ids=[t[0] for t in TOO_BIG])
def test_inputs_that_cannot_fit_are_refused_before_the_run_starts(what, inp, message):
    with pytest.raises(baton.BatonError) as caught:
        baton.parse_input("pipeline", inp)
    assert message in str(caught.value)


async def test_a_review_deadline_too_far_fails_the_run_at_once_from_any_client(dev_env, llm, task_queue):
    inp = {"goal": "g", "stages": [STAGE | {"review": True}], "review_deadline_seconds": 1e14}
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow("PipelineWorkflow", inp, id=f"far-{uuid.uuid4().hex[:6]}",
                                                     task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 30)  # before the bound: Running for ever, its tasks failing
    assert failed.value.cause.type == "InvalidInput"
    assert "review_deadline_seconds" in failed.value.cause.message
