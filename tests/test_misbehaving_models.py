"""Models and endpoints that misbehave (issue 14, points 1-4 and 6): the agent
activity with the real ``openai`` client against the scripted server, which cuts
streams, runs out of tokens, hides errors in a 200 and never stops writing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx2 as httpx  # the HTTP client openai 3 is built on
import openai
import pytest
from temporalio.exceptions import ApplicationError

from baton.activities.errors import classify
from baton.activities.provider import ModelCall, OpenAIChatProvider
from baton.contracts import PipelineInput, StageSpec, Status
from baton.trace import build_trace
from baton.trace_render import render
from baton.workflows.details import step_line
from tests.conftest import agent_registry, model_client, real_worker
from tests.llm_server import Reply, ScriptedLLM
from tests.test_agent_activity import request, run

WHOLE = "Tides-rise-twice-a-day-as-the-moon-and-the-sun-pull-the-oceans. " * 30  # 30 words, 1,950 characters


async def test_a_stream_cut_before_its_end_is_incomplete_not_an_answer(llm: ScriptedLLM):
    llm.script("draft", Reply(text=WHOLE[:499], cut=True))  # no finish_reason, no [DONE]
    with pytest.raises(ApplicationError) as cut:
        await run(llm, request())
    assert cut.value.type == "IncompleteAnswer" and not cut.value.non_retryable  # another attempt may finish
    assert "499" in cut.value.message and "finish_reason" in cut.value.message


async def test_a_cut_stream_is_asked_again_and_the_whole_answer_kept(dev_env, llm: ScriptedLLM, task_queue):
    llm.script_stage("draft", Reply(text=WHOLE[:499], cut=True), WHOLE)
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow(
            "PipelineWorkflow", PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")]),
            id=f"cut-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        result = await asyncio.wait_for(handle.result(), 30)
    assert result["final"] == WHOLE.strip() and llm.stage_calls("draft") == 2


async def test_an_error_in_a_200_carries_the_providers_message_and_is_classified(llm: ScriptedLLM):
    llm.script("draft", Reply(status=200, body=json.dumps({"error": {"message": "upstream model overloaded"}})))
    with pytest.raises(ApplicationError) as overloaded:
        await run(llm, request())
    assert "upstream model overloaded" in overloaded.value.message and "HTTP 200" in overloaded.value.message
    assert overloaded.value.type == "HTTP503" and not overloaded.value.non_retryable  # as a 503 would be
    assert len(llm.requests) == 1

    llm.script("draft", Reply(status=200, body=json.dumps({"error": {"message": "Invalid model", "type": "invalid_request_error"}})))
    with pytest.raises(ApplicationError) as invalid:
        await run(llm, request())
    assert invalid.value.type == "HTTP400" and invalid.value.non_retryable and "Invalid model" in invalid.value.message

    llm.script("draft", Reply(status=200, body=json.dumps({"error": {"message": "slow down", "code": "rate_limit_exceeded"}})))
    with pytest.raises(ApplicationError) as limited:
        await run(llm, request())
    assert limited.value.type == "RateLimited" and "slow down" in limited.value.message


async def test_an_endless_answer_is_stopped_past_the_token_limit(llm: ScriptedLLM):
    llm.script("draft", Reply(text="and so on ", endless=True))
    began = time.monotonic()
    with pytest.raises(ApplicationError) as runaway:
        await run(llm, request())  # the writer's max_tokens: 200 (tests/agents.toml)
    assert time.monotonic() - began < 10  # not the 120 s call timeout, five times over
    assert runaway.value.type == "RunawayAnswer" and runaway.value.non_retryable
    assert "max_tokens" in runaway.value.message and "200" in runaway.value.message


CUT = "Tides-rise-and-fall-as-the-moon-pulls " * 10  # a text answer ended by the token limit


async def test_an_answer_cut_at_the_token_limit_is_kept_and_marked_truncated(llm: ScriptedLLM):
    llm.script("draft", Reply(text=CUT, finish_reason="length"))
    result = await run(llm, request())
    assert result.text == CUT.strip() and result.truncated
    llm.script("draft", Reply(text=CUT))  # finish_reason "stop": whole
    assert not (await run(llm, request())).truncated


@pytest.mark.parametrize(("choice", "retried"), [("retry", True), ("fail", False)])
async def test_an_agent_that_asks_for_complete_answers_fails_a_truncated_one(llm: ScriptedLLM, choice, retried):
    spec = agent_registry().get("writer").model_copy(update={"on_truncated": choice})
    llm.script("draft", Reply(text=CUT, finish_reason="length"))
    with pytest.raises(ApplicationError) as cut:
        await run(llm, request().model_copy(update={"agent": spec}))
    assert cut.value.type == "TruncatedAnswer" and cut.value.non_retryable is not retried
    assert "max_tokens=200" in cut.value.message and "writer" in cut.value.message


async def test_a_structured_answer_cut_at_the_token_limit_fails_naming_the_setting(llm: ScriptedLLM):
    llm.script("Your stage: draft", Reply(text='{"verdict": "revise", "score": 4, "issues": ["the intro is', finish_reason="length"))
    with pytest.raises(ApplicationError) as cut:
        await run(llm, request("critic"))
    assert cut.value.type == "TruncatedAnswer" and cut.value.non_retryable  # asking again hits the same limit
    assert "max_tokens=200" in cut.value.message and "critic" in cut.value.message
    assert len(llm.requests) == 1  # no correction round: the schema was not the problem


async def test_a_truncated_step_is_marked_in_status_trace_and_result(dev_env, llm: ScriptedLLM, task_queue):
    llm.script_stage("research", "Facts-about-tides.")
    llm.script_stage("draft", Reply(text=CUT, finish_reason="length"))
    async with real_worker(dev_env.client, llm, task_queue):
        handle = await dev_env.client.start_workflow(
            "PipelineWorkflow", PipelineInput(goal="Explain tides", stages=[
                StageSpec(name="research", agent="researcher"), StageSpec(name="draft", agent="writer")]),
            id=f"truncated-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        result = await asyncio.wait_for(handle.result(), 30)
        status = await handle.query("status", result_type=Status)
    assert result["truncated"] == ["draft"] and result["final"] == CUT.strip()
    assert [row.truncated for row in status.stages] == [False, True]
    trace = await build_trace(await handle.fetch_history())
    assert [call.truncated for call in trace.calls] == [False, True]
    assert "cut at max_tokens" in render(trace, "timeline") and "cut at max_tokens" in step_line(status.stages[1])


KEY = "sk-canary-4f2a9c7e1b3d5a8f"  # 26 characters


@pytest.mark.parametrize("at", range(470, 531, 3))
def test_a_key_echoed_anywhere_near_the_cut_leaks_no_fragment(at: int):
    message = "x" * at + KEY + " is not a valid key" + "y" * 100
    response = httpx.Response(401, request=httpx.Request("POST", "http://model/v1/chat/completions"))
    error = classify(openai.AuthenticationError(message, response=response, body=None), "gpt-4o-mini", secrets=(KEY,))
    fragments = {KEY[i:i + 6] for i in range(len(KEY) - 5)}
    assert not any(fragment in error.message for fragment in fragments), error.message[-80:]


def stream_of(llm: ScriptedLLM, timeout: float = 10.0):
    """The provider alone, as the agent activity drives it: the events of one call, or its failure."""
    call = ModelCall(model="test-model", messages=[{"role": "user", "content": "Your stage: draft"}], temperature=0.0,
                     max_tokens=200, timeout_seconds=timeout)

    async def events():
        async with model_client(llm.base_url) as client:
            return [event async for event in OpenAIChatProvider(client).stream(call)]
    return events()


async def test_a_model_that_stops_writing_mid_answer_times_out_and_is_asked_again(llm: ScriptedLLM):
    llm.script("draft", Reply(text="The moon pulls the oceans.", pace=2.0))  # headers at once, then 2 s a word
    with pytest.raises(ApplicationError) as stalled:
        await stream_of(llm, timeout=0.5)
    assert stalled.value.type == "ProviderTimeout" and not stalled.value.non_retryable


async def test_an_error_event_mid_stream_is_classified_as_the_status_it_stands_for(llm: ScriptedLLM):
    llm.script("draft", Reply(text="The moon", stream_error={"message": "slow down", "code": "rate_limit_exceeded"}))
    with pytest.raises(ApplicationError) as limited:
        await stream_of(llm)
    assert limited.value.type == "RateLimited" and "slow down" in limited.value.message

    llm.script("draft", Reply(text="The moon", stream_error={"message": "the model crashed"}))
    with pytest.raises(ApplicationError) as crashed:
        await stream_of(llm)
    assert crashed.value.type == "HTTP503" and not crashed.value.non_retryable and "the model crashed" in crashed.value.message


async def test_answers_read_to_their_end_keep_the_connection_for_the_next_call(llm: ScriptedLLM):
    # A response closed unread closes its connection: each call would then open a new one.
    call = ModelCall(model="test-model", messages=[{"role": "user", "content": "Your stage: draft"}], temperature=0.0,
                     max_tokens=200, timeout_seconds=10)
    async with model_client(llm.base_url) as client:
        for _ in range(3):
            assert [event async for event in OpenAIChatProvider(client).stream(call)]
    assert len({request.connection for request in llm.requests}) == 1
