"""The answer an agent is writing, read while it writes (its call's heartbeat
details), through baton.live and `watch`, with no history event per token."""

from __future__ import annotations

import asyncio
import io
import uuid

from rich.console import Console

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from baton.progress import watch
from tests.conftest import real_worker
from tests.llm_server import Reply

WORDS = " ".join(f"word{i}" for i in range(60))  # streamed at 10 words a second: 6 s


async def test_a_slow_answer_is_seen_while_it_is_written(dev_env, llm, task_queue):
    llm.script_stage("draft", Reply(text=WORDS, pace=0.1))
    client = dev_env.client
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")])
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"live-{uuid.uuid4().hex[:6]}", queue=task_queue)
        screen = io.StringIO()
        watching = asyncio.create_task(watch(client, handle.id, Console(file=screen, force_terminal=False), 0.2))
        async with asyncio.timeout(20):
            while not (partial := [a for a in await baton.live(client, handle.id) if a.chars]):
                await asyncio.sleep(0.2)
        [answer] = partial
        assert (answer.stage, answer.agent, answer.attempt) == ("draft", "writer", 1)
        assert 0 < answer.chars < len(WORDS) and WORDS.startswith(answer.tail)  # written so far, not all of it
        result = await baton.wait_result(client, handle.id)
        await watching
    assert result.final == WORDS
    assert await baton.live(client, handle.id) == []  # nothing in flight any more
    assert "draft (writer) writing" in screen.getvalue() and "…word0 word1" in screen.getvalue()
    # Heartbeats are not history: the run's history has the same events as a quick answer's.
    events = [e async for e in handle.fetch_history_events()]
    assert len(events) <= 20, [e.event_type for e in events]
