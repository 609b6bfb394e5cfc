"""The README's main command path, `starter.py run`, end to end: it starts the
embedded dev server (persisting to SQLite), a background worker and the demo
pipeline, and leaves the server and worker for the README's next commands.
The scripted LLM stands in for the model (the demo model is never needed)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from baton import embedded
from baton.agents import load_agents
from baton.contracts import Usage
from tests.conftest import REPO_ROOT, free_port
from tests.llm_server import ScriptedLLM


async def starter(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *args, cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode()


async def test_run_starts_everything_and_finishes_the_demo(llm: ScriptedLLM, tmp_path):
    llm.script("Your stage: edit", "The sky is blue because air scatters blue light most.")
    llm.script("Your stage: research", "Rayleigh-scattering;" * 15_000)  # 300 KB: kept in the store, not the history
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "OPENAI_", "BATON_"))},
        "OPENAI_BASE_URL": llm.base_url,
        "BATON_MODEL": "demo-model",
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_TEMPORAL_PORT": str(free_port()),
        "BATON_UI_PORT": str(free_port()),
    }
    try:
        code, out = await starter("run", env=env)
        assert code == 0, out
        assert "Starting the Temporal dev server" in out and "Starting a worker in the background" in out
        assert "[completed] ████████████████████ 3/3 steps research:done draft:done edit:done" in out
        assert "The sky is blue because air scatters blue light most." in out
        assert f"http://localhost:{env['BATON_UI_PORT']}/namespaces/default/workflows/pipeline-" in out
        assert [llm.stage_calls(s) for s in ("research", "draft", "edit")] == [1, 1, 1]
        assert all(r.body["model"] == "demo-model" for r in llm.requests)
        assert (tmp_path / "temporal.db").exists()
        # The embedded default's store: the worker kept the research there (later steps read it by reference,
        # the history holds a reference to it), and this command read the run's result back from it.
        store = tmp_path / "store"
        assert list((store / "baton-texts").rglob("*")) and [p for p in store.iterdir() if p.name != "baton-texts"]
        assert "Rayleigh-scattering;" * 15_000 in llm.requests[1].prompt

        # The end message says what is left running and how to stop it.
        assert "Still running in the background" in out and "a worker on task queue baton (pid" in out
        assert "Stop them all: python starter.py down" in out

        # The README's next lines work: the worker `run` left behind runs a new pipeline.
        code, out = await starter("start", "--input", "@examples/pipeline.json", env=env)
        assert code == 0, out
        workflow_id = json.loads(out.splitlines()[-1])["workflow_id"]
        async with asyncio.timeout(30):
            while json.loads((await starter("status", workflow_id, env=env))[1])["awaiting_review"] != "draft":
                await asyncio.sleep(0.3)
        code, out = await starter("approve", workflow_id, env=env)
        assert code == 0 and "stage 'draft' approved" in out, out
        code, out = await starter("result", workflow_id, "--wait", env=env)
        assert code == 0 and set(json.loads(out)["outputs"]) == {"research", "draft", "edit"}, out

        # A second run reuses the server and the worker that the first left running.
        code, out = await starter("run", "--goal", "Why is grass green?", env=env)
        assert code == 0 and "Temporal server already running" in out and "Worker already running" in out, out
    finally:
        code, out = await starter("down", env=env)
    assert out.index("stopped worker") < out.index("stopped temporal")


async def test_a_worker_without_a_model_endpoint_says_how_to_get_one(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))},
           "BATON_MODEL_PORT": str(free_port())}
    process = await asyncio.create_subprocess_exec(sys.executable, "worker.py", cwd=REPO_ROOT, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert out.decode().startswith("error: no model endpoint: set OPENAI_API_KEY") and "Traceback" not in out.decode()
    assert "python starter.py up" in out.decode()


def test_the_demo_model_is_asked_for_by_its_own_name_and_costs_nothing(llm: ScriptedLLM, monkeypatch):
    """It answers any model name and echoes it: agents asking for gpt-4o-mini were
    recorded, and charged, as gpt-4o-mini."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "BATON_MAX_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_MODEL", "gpt-4o-mini")  # as the README's OpenAI line exports it
    monkeypatch.setenv("BATON_MODEL_PORT", llm.base_url.rsplit(":", 1)[1].split("/")[0])  # "already running"
    said: list[str] = []
    embedded.ensure_local_model(said.append)
    assert os.environ["BATON_MODEL"] == embedded.LOCAL_MODEL_NAME
    assert any("BATON_MODEL=gpt-4o-mini ignored" in line for line in said)
    registry = load_agents()
    assert {registry.get(name).model for name in registry.names} == {embedded.LOCAL_MODEL_NAME}
    assert registry.priced(embedded.LOCAL_MODEL_NAME, Usage(prompt_tokens=1000, completion_tokens=1000)).cost_usd == 0
