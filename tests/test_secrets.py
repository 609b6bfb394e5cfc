"""Secrets never leave the worker's environment: runs made with a canary API
key, whose provider even echoes the key in its errors, leave no trace of it in
any history (children included), memo, search attribute or log line."""

from __future__ import annotations

import contextlib
import io
import json
import uuid

import pytest

from baton import client as baton
from baton.logs import configure_logging
from baton.trace import RunTrace
from tests.conftest import real_worker
from tests.llm_server import Reply

CANARY = f"sk-canary-{uuid.uuid4().hex}"
ECHO = json.dumps({"error": {"message": f"Incorrect API key provided: {CANARY}"}})


def every_run(trace: RunTrace) -> list[str]:
    """The run's id and its children's, recursively (the trace follows child runs)."""
    return [trace.workflow_id, *(run for child in trace.children for run in every_run(child))]


async def test_a_canary_key_appears_in_no_history_memo_search_attribute_or_log(dev_env, llm, task_queue):
    client = dev_env.client
    llm.script("Often fails", Reply(status=404, body=ECHO), "fallback answer")  # a model-specific failure echoing the key
    llm.script_stage("b", Reply(status=401, body=ECHO), Reply(status=401, body=ECHO))  # auth failures echoing the key
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    runs = [
        ("pipeline", {"goal": "Explain tides", "stages": [{"name": "risky", "agent": "flaky"}, {"name": "draft", "agent": "writer"}]}),
        ("fan-out", {"goal": "Compare tides", "tasks": [{"id": "a", "agent": "researcher", "prompt": "Atlantic"},
                                                        {"id": "b", "agent": "researcher", "prompt": "Pacific"}]}),
        ("pipeline", {"goal": "Fails", "stages": [{"name": "b", "agent": "researcher"}]}),
    ]
    ids = []
    try:
        async with real_worker(client, llm, task_queue, OPENAI_API_KEY=CANARY):
            for pattern, inp in runs:
                handle = await baton.start(client, baton.parse_input(pattern, inp), workflow_id=f"canary-{uuid.uuid4().hex[:6]}",
                                           queue=task_queue)
                ids.append(handle.id)
                with pytest.raises(baton.BatonError) if inp["goal"] == "Fails" else contextlib.nullcontext():
                    await baton.wait_result(client, handle.id)
    finally:
        configure_logging(level="WARNING", fmt="console", stream=io.StringIO())

    # The key was really used, and the provider really echoed it.
    assert all(r.authorization == f"Bearer {CANARY}" for r in llm.requests)
    scanned = 0
    for workflow_id in ids:
        for run_id in every_run(await baton.trace(client, workflow_id)):
            history = await client.get_workflow_handle(run_id).fetch_history()
            described = await client.get_workflow_handle(run_id).describe()
            for text in (history.to_json(), str(await described.memo()), str(described.typed_search_attributes)):
                assert CANARY not in text, f"canary key leaked in {run_id}"
                scanned += 1
    logs = stream.getvalue()
    assert "agent call failed" in logs and "***" in logs  # the echoed key, redacted
    assert CANARY not in logs
    assert scanned >= 9

