"""The README's main command path, `starter.py run`, end to end: it starts the
embedded dev server (persisting to SQLite), a worker and the demo pipeline.
The scripted LLM stands in for the model (the demo model is never needed)."""

from __future__ import annotations

import asyncio
import os
import sys

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
        assert "Starting the Temporal dev server" in out
        assert "[completed] ████████████████████ 3/3 steps research:done draft:done edit:done" in out
        assert "The sky is blue because air scatters blue light most." in out
        assert f"http://localhost:{env['BATON_UI_PORT']}/namespaces/default/workflows/pipeline-" in out
        assert [llm.stage_calls(s) for s in ("research", "draft", "edit")] == [1, 1, 1]
        assert all(r.body["model"] == "demo-model" for r in llm.requests)
        assert (tmp_path / "temporal.db").exists()

        # A second run reuses the server that the first left running.
        code, out = await starter("run", "--goal", "Why is grass green?", env=env)
        assert code == 0 and "Temporal server already running" in out, out
    finally:
        code, out = await starter("down", env=env)
    assert "stopped temporal" in out
