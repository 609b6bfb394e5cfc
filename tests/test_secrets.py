"""Secrets never leave the worker's environment: runs made with a canary API
key, whose provider even echoes the key in its errors (as HTTP errors, as an
error in a 200, past the 500-character cut of a failure message), leave no
trace of it in any history (children included), memo, search attribute, log
line, rendered trace, payload store file or artifact."""

from __future__ import annotations

import contextlib
import io
import json
import uuid

import pytest

from baton import client as baton
from baton.logs import configure_logging
from baton.trace import RunTrace
from baton.trace_render import FORMATS, render
from tests.conftest import real_worker
from tests.llm_server import Reply, unfenced

CANARY = f"sk-canary-{uuid.uuid4().hex}"
LEAK = CANARY[:12]  # the key's start: what a cut through it used to leave
ECHO = json.dumps({"error": {"message": f"Incorrect API key provided: {CANARY}"}})


def every_run(trace: RunTrace) -> list[str]:
    """The run's id and its children's, recursively (the trace follows child runs)."""
    return [trace.workflow_id, *(run for child in trace.children for run in every_run(child))]


async def test_a_canary_key_appears_in_no_history_memo_search_attribute_or_log(dev_env, llm, task_queue, worker_log, tmp_path):
    client = dev_env.client
    llm.script("Often fails", Reply(status=404, body=ECHO), "fallback answer")  # a model-specific failure echoing the key
    llm.script_stage("b", Reply(status=401, body=ECHO), Reply(status=401, body=ECHO))  # auth failures echoing the key
    in_body = json.dumps({"error": {"message": f"Incorrect API key provided: {CANARY}", "type": "authentication_error"}})
    llm.script_stage("in-body", Reply(status=200, body=in_body))  # an error in a 200 (a gateway's), echoing the key
    at_the_cut = json.dumps({"error": {"message": "x" * 440 + f" key {CANARY} rejected", "type": "invalid_request_error"}})
    llm.script_stage("at-cut", Reply(status=400, body=at_the_cut))  # the key across the message's 500-character cut
    llm.script_stage("long", "Tides-rise-and-fall-twice-a-day " * 12)  # 384 characters: kept in the payload store
    store, artifacts = tmp_path / "store", tmp_path / "artifacts"
    runs = [
        ("pipeline", {"goal": "Explain tides", "stages": [{"name": "risky", "agent": "flaky"}, {"name": "draft", "agent": "writer"}]}),
        ("fan-out", {"goal": "Compare tides", "tasks": [{"id": "a", "agent": "researcher", "prompt": "Atlantic"},
                                                        {"id": "b", "agent": "researcher", "prompt": "Pacific"}]}),
        ("pipeline", {"goal": "Fails", "stages": [{"name": "b", "agent": "researcher"}]}),
        ("pipeline", {"goal": "Fails", "stages": [{"name": "in-body", "agent": "writer"}]}),
        ("pipeline", {"goal": "Fails", "stages": [{"name": "at-cut", "agent": "writer"}]}),
        ("pipeline", {"goal": "Explain tides", "artifacts": True, "stages": [{"name": "long", "agent": "writer"},
                                                                            {"name": "edit", "agent": "editor"}]}),
    ]
    ids = []
    async with real_worker(client, llm, task_queue, OPENAI_API_KEY=CANARY, BATON_PAYLOAD_STORE=store.as_uri(),
                           BATON_ARTIFACTS_DIR=str(artifacts)):
        for pattern, inp in runs:
            handle = await baton.start(client, baton.parse_input(pattern, inp), workflow_id=f"canary-{uuid.uuid4().hex[:6]}",
                                       queue=task_queue)
            ids.append(handle.id)
            with pytest.raises(baton.BatonError) if inp["goal"] == "Fails" else contextlib.nullcontext():
                await baton.wait_result(client, handle.id)

    # The key was really used, and the provider really echoed it, on every path.
    assert all(r.authorization == f"Bearer {CANARY}" for r in llm.requests)
    scanned = 0
    for workflow_id in ids:
        for run_id in every_run(trace := await baton.trace(client, workflow_id)):
            history = await client.get_workflow_handle(run_id).fetch_history()
            described = await client.get_workflow_handle(run_id).describe()
            for text in (history.to_json(), str(await described.memo()), str(described.typed_search_attributes),
                         *(render(trace, fmt) for fmt in FORMATS)):
                assert LEAK not in text, f"canary key leaked in {run_id}"
                scanned += 1
    assert scanned >= 6 * len(FORMATS) + 18
    kept = [path for folder in (store, artifacts) for path in folder.rglob("*") if path.is_file()]
    assert len([p for p in kept if p.is_relative_to(store)]) >= 1 and len([p for p in kept if p.is_relative_to(artifacts)]) == 2
    for path in kept:
        assert LEAK.encode() not in path.read_bytes(), f"canary key leaked in {path}"
    logs = worker_log.getvalue()
    assert "agent call failed" in logs and "***" in logs  # the echoed key, redacted
    assert "HTTP 200 carrying an error" in logs and "rejected" in logs  # the in-body and cut paths were taken
    assert LEAK not in logs



async def test_tool_secrets_from_the_worker_environment_reach_no_history_or_log(dev_env, llm, task_queue, tmp_path):
    """MCP headers and a stdio server's environment take ${VAR}s from the worker; tools
    that answer with them anyway have them redacted before the answer is recorded."""
    import asyncio
    import os
    import sys

    from tests.conftest import REPO_ROOT, TEST_AGENTS_FILE, free_port

    token = f"tok-canary-{uuid.uuid4().hex}"
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.mcp_servers", "--http", str(port),
                                                  cwd=REPO_ROOT, env={**os.environ, "MCP_TOKEN": token})
    layer = tmp_path / "vault.toml"
    layer.write_text(f'''
[agents.vaulted]
instructions = "Use the vault."
tools = ["vault.leak", "local.leak"]

[mcp.vault]
url = "http://127.0.0.1:{port}/mcp"
headers = {{ Authorization = "Bearer ${{VAULT_TOKEN}}" }}

[mcp.local]
command = ["python", "-m", "tests.mcp_servers"]
env = {{ MCP_TOKEN = "${{VAULT_TOKEN}}" }}
''')
    llm.script_stage("open", Reply(tool_calls=[("vault__leak", {}), ("local__leak", {})]), Reply(text="opened"))
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    try:
        async with real_worker(dev_env.client, llm, task_queue, VAULT_TOKEN=token,
                               BATON_AGENTS=f"{TEST_AGENTS_FILE}:{layer}"):
            handle = await baton.start(dev_env.client, baton.parse_input(
                "pipeline", {"goal": "Open the vault", "stages": [{"name": "open", "agent": "vaulted"}]}),
                workflow_id=f"vault-{uuid.uuid4().hex[:6]}", queue=task_queue)
            await baton.wait_result(dev_env.client, handle.id)
    finally:
        configure_logging(level="WARNING", fmt="console", stream=io.StringIO())
        server.terminate()
        await server.wait()

    answers = [unfenced(m["content"]) for m in [r for r in llm.requests if r.stage == "open"][1].body["messages"]
               if m["role"] == "tool"]
    # The token really reached both servers (the HTTP one let the call in; both echoed it) and was redacted.
    assert answers == ["I was called with *** and env ***", "I was called with nothing and env ***"]
    history = await dev_env.client.get_workflow_handle(handle.id).fetch_history()
    described = await dev_env.client.get_workflow_handle(handle.id).describe()
    for text in (history.to_json(), str(await described.memo()), stream.getvalue(), json.dumps([r.body for r in llm.requests])):
        assert token not in text
    assert "tool call finished" in stream.getvalue()
