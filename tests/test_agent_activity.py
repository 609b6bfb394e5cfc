"""The agent activity with the real openai client against the scripted HTTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from baton.activities.agent import AgentActivities, make_openai_client
from baton.activities.prompts import as_data
from baton.contracts import AgentRequest, ContextItem, ResolveAgentsRequest
from tests.conftest import agent_registry, free_port, model_client
from tests.llm_server import Reply, ScriptedLLM


def request(agent: str = "writer", **fields) -> AgentRequest:
    spec = agent_registry().get(agent)
    return AgentRequest(agent=spec, model=spec.model, goal="Explain tides", stage="draft", **fields)


@pytest.fixture
async def model(llm: ScriptedLLM):
    async with model_client(llm.base_url) as client:
        yield client


def activities_for(llm: ScriptedLLM) -> AgentActivities:
    """For what makes no model call (its client's session opens at the first)."""
    return AgentActivities(model_client(llm.base_url), agent_registry())


async def run(llm: ScriptedLLM, req: AgentRequest, heartbeats: list | None = None):
    env = ActivityEnvironment()
    if heartbeats is not None:
        env.on_heartbeat = lambda *details: heartbeats.append(details)
    async with model_client(llm.base_url) as client:
        return await env.run(AgentActivities(client, agent_registry()).run_agent, req)


async def test_streams_text_usage_and_heartbeats(llm: ScriptedLLM):
    # The server thinks 2.2 s; the test agents' heartbeat timeout is 2 s: the ticker beats every 0.67 s.
    llm.script("Your stage: draft", Reply(text="The moon pulls the oceans.", delay=2.2))
    heartbeats: list = []
    result = await run(llm, request(context=[ContextItem(name="research", output="facts about tides")]), heartbeats)
    assert result.text == "The moon pulls the oceans."
    assert result.model == "test-model"
    assert result.usage.completion_tokens == 5 and result.usage.total_tokens > 5
    # tests/agents.toml prices test-model at $1 in / $2 out per million tokens
    assert result.usage.cost_usd == pytest.approx((result.usage.prompt_tokens * 1 + 5 * 2) / 1e6)
    assert not result.usage_estimated
    assert len(heartbeats) >= 3  # at 0.67, 1.33 and 2.0 s: every third of the heartbeat timeout
    sent = llm.requests[0]
    assert sent.body["stream"] is True
    assert "Explain tides" in sent.prompt and "facts about tides" in sent.prompt


async def test_prompt_has_goal_context_feedback_and_nothing_else(llm: ScriptedLLM):
    await run(llm, request(instructions="Keep it short", feedback=["Too long", "Add a diagram"]))
    system, user = llm.requests[0].body["messages"]
    assert system["content"] == agent_registry().get("writer").instructions
    assert "Keep it short" in user["content"] and "- Too long" in user["content"] and "- Add a diagram" in user["content"]


async def test_usage_estimated_when_server_sends_none(llm: ScriptedLLM):
    llm.script("draft", Reply(text="one two three", usage=False))
    result = await run(llm, request())
    assert result.usage_estimated and result.usage.completion_tokens == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retryable(llm: ScriptedLLM, status: int):
    llm.script("draft", Reply(status=status))
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request())
    assert caught.value.non_retryable and caught.value.type == f"HTTP{status}"


@pytest.mark.parametrize("status", [500, 502, 503, 409])
async def test_server_errors_are_retryable(llm: ScriptedLLM, status: int):
    llm.script("draft", Reply(status=status))
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request())
    assert not caught.value.non_retryable


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, timedelta(seconds=7)), ({"retry-after-ms": "1500"}, timedelta(seconds=1.5)), ({}, None)],
)
async def test_rate_limit_carries_retry_after(llm: ScriptedLLM, headers, expected):
    llm.script("draft", Reply(status=429, headers=headers))
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request())
    assert caught.value.type == "RateLimited" and not caught.value.non_retryable
    assert caught.value.next_retry_delay == expected


async def test_connection_drop_is_retryable(llm: ScriptedLLM):
    llm.script("draft", Reply(drop=True))
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request())
    assert caught.value.type == "ProviderUnreachable" and not caught.value.non_retryable
    assert "disconnected" in caught.value.message.lower()


async def test_a_refused_connection_is_unreachable_not_a_timeout():
    # The worker's transport (openai's aiohttp one) labels every connection failure a timeout.
    async with model_client(f"http://127.0.0.1:{free_port()}/v1") as client:  # nothing listens on it
        with pytest.raises(ApplicationError) as caught:
            await ActivityEnvironment().run(AgentActivities(client, agent_registry()).run_agent, request())
    assert caught.value.type == "ProviderUnreachable" and not caught.value.non_retryable
    assert "connect" in caught.value.message.lower()


async def test_empty_answer_is_retryable(llm: ScriptedLLM):
    llm.script("draft", Reply(text=""))
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request())
    assert caught.value.type == "EmptyAnswer" and not caught.value.non_retryable


CRITIQUE = '{"verdict": "revise", "score": 6, "issues": ["too vague"]}'


async def test_structured_output_uses_json_schema(llm: ScriptedLLM):
    llm.script("draft", CRITIQUE)
    result = await run(llm, request("critic"))
    assert result.data == {"verdict": "revise", "score": 6, "issues": ["too vague"]}
    fmt = llm.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Critique"


async def test_structured_output_falls_back_to_json_object_when_rejected():
    llm = ScriptedLLM(reject_json_schema=True).start()
    try:
        llm.script("draft", "```json\n" + CRITIQUE + "\n```")
        async with model_client(llm.base_url) as client:
            activities = AgentActivities(client, agent_registry())
            env = ActivityEnvironment()
            result = await env.run(activities.run_agent, request("critic"))
            assert result.data["score"] == 6
            kinds = [r.body["response_format"]["type"] for r in llm.requests]
            assert kinds == ["json_schema", "json_object"]
            assert llm.requests[1].body["response_format"]["schema"]["title"] == "Critique"
            # The worker remembers: the next call goes straight to json_object.
            llm.script("draft", CRITIQUE)
            await env.run(activities.run_agent, request("critic"))
        assert [r.body["response_format"]["type"] for r in llm.requests][2:] == ["json_object"]
    finally:
        llm.stop()


async def test_invalid_structured_output_is_corrected_with_the_error(llm: ScriptedLLM):
    llm.script("draft", "not json at all", '{"verdict": "maybe", "score": 6, "issues": []}', CRITIQUE)
    result = await run(llm, request("critic"))
    assert result.data["verdict"] == "revise"
    assert len(llm.requests) == 3
    assert "not valid for the required JSON schema" in llm.requests[2].prompt
    assert "verdict" in llm.requests[2].prompt  # the validation error names the field
    assert result.usage.total_tokens == sum(
        len(r.prompt.split()) for r in llm.requests
    ) + len("not json at all".split()) + len('{"verdict": "maybe", "score": 6, "issues": []}'.split()) + len(CRITIQUE.split())


async def test_structured_output_fails_non_retryably_after_two_corrections(llm: ScriptedLLM):
    llm.script("draft", "nope", "still nope", "never")
    with pytest.raises(ApplicationError) as caught:
        await run(llm, request("critic"))
    assert caught.value.type == "InvalidStructuredOutput" and caught.value.non_retryable
    assert len(llm.requests) == 3


async def test_resolve_agents_names_unknown_agent(llm: ScriptedLLM):
    env = ActivityEnvironment()
    specs = await env.run(activities_for(llm).resolve_agents, ResolveAgentsRequest(names=["writer", "critic"]))
    assert [s.name for s in specs] == ["writer", "critic"]
    with pytest.raises(ApplicationError, match="unknown agent 'ghost'.*writer") as caught:
        await env.run(activities_for(llm).resolve_agents, ResolveAgentsRequest(names=["ghost"]))
    assert caught.value.non_retryable


def test_worker_refuses_to_start_without_an_endpoint():
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        make_openai_client({})


async def test_tool_calls_stream_back_whole_and_earlier_turns_are_sent(llm: ScriptedLLM):
    from baton.contracts import ChatTurn, ToolCall, ToolSpec

    llm.script("draft", Reply(tool_calls=[("delegate", {"agent": "writer", "instruction": "write the intro"}),
                                          ("finish", {"answer": "done"})]))
    tools = [ToolSpec(name="delegate", description="d", parameters={"type": "object", "properties": {}}),
             ToolSpec(name="finish", description="f", parameters={"type": "object", "properties": {}})]
    earlier = [ChatTurn(role="assistant", tool_calls=[ToolCall(id="c1", name="delegate", arguments="{}")]),
               ChatTurn(role="tool", tool_call_id="c1", content="the researcher's facts")]
    result = await run(llm, request(tools=tools, conversation=earlier))

    assert result.text == "" and [(c.name, c.arguments) for c in result.tool_calls] == [
        ("delegate", '{"agent": "writer", "instruction": "write the intro"}'), ("finish", '{"answer": "done"}')]
    assert all(c.id for c in result.tool_calls)
    sent = llm.requests[0].body
    assert [t["function"]["name"] for t in sent["tools"]] == ["delegate", "finish"]
    assert sent["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert sent["messages"][3] == {"role": "tool", "content": as_data("the researcher's facts"), "tool_call_id": "c1"}


async def test_long_answers_become_artifacts_and_come_back_whole_as_context(llm: ScriptedLLM, model, tmp_path):
    from baton.activities.artifacts import INLINE_CHARS, ArtifactStore

    store = ArtifactStore(tmp_path)
    activities = AgentActivities(model, agent_registry(), store)
    long_text = "tides-follow-the-moon " * 200  # 4,400 characters in 200 pieces: within max_tokens
    llm.script("Your stage: draft", long_text)
    result = await ActivityEnvironment().run(activities.run_agent, request(artifact_key="run-1/draft-v1.md"))
    assert result.artifact == "run-1/draft-v1.md"
    assert (tmp_path / "run-1" / "draft-v1.md").read_text() == long_text.strip()
    assert len(result.text) < INLINE_CHARS + 200 and "full text is in artifact run-1/draft-v1.md" in result.text

    # The next stage gets the whole draft, read from the artifact, not the preview.
    edit = request(context=[ContextItem(name="draft", output=result.text, artifact=result.artifact)])
    await ActivityEnvironment().run(activities.run_agent, edit.model_copy(update={"stage": "edit"}))
    assert long_text.strip() in llm.requests[-1].prompt and "full text is in artifact" not in llm.requests[-1].prompt


@pytest.mark.parametrize(("key", "path"), [("../../etc/passwd", None), ("run/../../x.md", None), ("/abs/x.md", None),
                                           ("../x.md", "_/x.md"), ("run id!/st age.md", "run_id_/st_age.md"),
                                           ("..run/..x.md", "run/x.md")])
def test_artifact_keys_cannot_leave_the_folder(tmp_path, key, path):
    from baton.activities.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path)
    if path is None:
        with pytest.raises(ApplicationError, match="must be <run>/<name>"):
            store.write(key, "x")
    else:
        assert store.write(key, "x") == path and (tmp_path / path).read_text() == "x"


class FakeProvider:
    """A fake model provider (no HTTP): what the provider seam asks of any provider."""

    def __init__(self, *events):
        self.events, self.calls = events, []

    async def stream(self, call):
        self.calls.append(call)
        for event in self.events:
            yield event


async def test_any_model_provider_serves_the_agent_activity_through_the_seam():
    from baton.activities.provider import AnsweredBy, TextPiece, ToolCallPiece
    provider = FakeProvider(AnsweredBy("other-model"), TextPiece("The moon "), TextPiece("pulls."),
                            ToolCallPiece(0, "c1", "look", '{"q":'), ToolCallPiece(0, None, None, ' "tides"}'))
    result = await ActivityEnvironment().run(AgentActivities(provider, agent_registry()).run_agent, request())
    assert (result.text, result.model) == ("The moon pulls.", "other-model")
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("c1", "look", '{"q": "tides"}')]
    assert result.usage_estimated and result.usage.completion_tokens == 2  # no usage reported: estimated
    [call] = provider.calls
    assert call.model == "test-model" and call.messages[0]["role"] == "system" and call.max_tokens == request().agent.max_tokens


async def test_an_answer_is_kept_by_reference_and_a_later_call_reads_its_list_back(llm: ScriptedLLM, model, tmp_path):
    from baton.context_store import ContextStore
    from baton.blob_store import FolderBlobs
    from baton.temporal import data_converter

    store = ContextStore(FolderBlobs(tmp_path), data_converter({}))
    agents = AgentActivities(model, agent_registry(), context=store)
    llm.script("Your stage: draft", "Tides follow the moon. " * 20, "short")
    first = await ActivityEnvironment().run(agents.run_agent, request())
    assert first.ref and first.text == ("Tides follow the moon. " * 20).strip()
    assert (await ActivityEnvironment().run(agents.run_agent, request())).ref is None  # short: travels inline
    # A later step given a list of earlier outputs by one reference (AgentCaller, 16 or more of them).
    listed = await ActivityEnvironment().run(agents.keep_context, [ContextItem(name="research", ref=first.ref),
                                                                    ContextItem(name="notes", output="inline notes")])
    await ActivityEnvironment().run(agents.run_agent, request(context_ref=listed, context=[ContextItem(name="x", output="y")]))
    prompt = llm.requests[-1].prompt
    assert "Output of stage 'research' (data):\n" + as_data(first.text) in prompt and "inline notes" in prompt
    assert prompt.index("'research'") < prompt.index("'notes'") < prompt.index("'x'")  # the list, then the rest

    # A worker without the store is told so, not left to guess.
    with pytest.raises(ApplicationError) as missing:
        await run(llm, request(context_ref=listed))
    assert missing.value.type == "ContextMissing" and "BATON_PAYLOAD_STORE" in missing.value.message
