"""The installed distribution, as a user gets it: a wheel built from this
checkout, installed into a fresh virtual environment, used from another folder.
Everything is under `baton` (no generic top-level names), the slim client
imports none of the worker's libraries, and `baton-worker` and `baton` run a
pipeline with the packaged agents file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, address_of
from tests.llm_server import ScriptedLLM

HEAVY = ["openai", "cryptography", "aiohttp", "opentelemetry", "rich"]
GENERIC = ["workflows", "activities", "worker", "starter", "tests", "bench"]


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(the wheel, the fresh venv's python, a folder outside the checkout)."""
    root = tmp_path_factory.mktemp("package")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", REPO_ROOT, cwd=root)
    [wheel] = (root / "dist").glob("baton-*.whl")
    run(sys.executable, "-m", "venv", root / "venv", cwd=root)
    python = root / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=root)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return wheel, python, elsewhere


@pytest.mark.timeout(900)
def test_the_slim_client_installs_nothing_generic_and_imports_no_worker_library(installed):
    wheel, python, elsewhere = installed
    probe = (
        "import importlib.util, json, pathlib, sys\n"
        "import baton.client, baton.contracts\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        f"generic = [name for name in {GENERIC!r} if importlib.util.find_spec(name) is not None]\n"
        "typed = (pathlib.Path(baton.__file__).parent / 'py.typed').is_file()\n"
        "print(json.dumps({'heavy': heavy, 'generic': generic, 'typed': typed}))\n"
    )
    seen = json.loads(run(python, "-c", probe, cwd=elsewhere))
    assert seen == {"heavy": [], "generic": [], "typed": True}


@pytest.mark.timeout(900)
async def test_baton_worker_and_baton_run_a_pipeline_from_an_installed_wheel(installed, dev_env, llm: ScriptedLLM):
    wheel, python, elsewhere = installed
    await asyncio.to_thread(run, python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            f"{wheel}[worker]", cwd=elsewhere)
    bin_dir = python.parent
    queue = f"pkg-{uuid.uuid4().hex[:6]}"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/root"),
           "TEMPORAL_ADDRESS": address_of(dev_env), "BATON_TASK_QUEUE": queue, "OPENAI_BASE_URL": llm.base_url,
           "BATON_LOG_FORMAT": "json"}  # no BATON_AGENTS: the packaged agents file
    log = elsewhere / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([bin_dir / "baton-worker"], cwd=elsewhere, env=env, stdout=out, stderr=out)
    try:
        async with asyncio.timeout(60):
            while "worker started" not in log.read_text():
                assert worker.poll() is None, log.read_text()
                await asyncio.sleep(0.2)
        workflow_id = f"pkg-{uuid.uuid4().hex[:6]}"
        inp = json.dumps({"goal": "Explain tides", "stages": [{"name": "research", "agent": "researcher"},
                                                               {"name": "draft", "agent": "writer"}]})
        started = await asyncio.to_thread(run, bin_dir / "baton", "start", "--id", workflow_id, "--input", inp,
                                          cwd=elsewhere, env=env, timeout=60)
        assert json.loads(started)["workflow_id"] == workflow_id
        result = json.loads(await asyncio.to_thread(run, bin_dir / "baton", "result", workflow_id, "--wait",
                                                    cwd=elsewhere, env=env, timeout=60))
        assert set(result["outputs"]) == {"research", "draft"}
        # The packaged team answered: the shipped agents file's default model.
        assert {r.body["model"] for r in llm.requests} == {"gpt-4o-mini"}
    finally:
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, 30)
    assert code == 0, log.read_text()
