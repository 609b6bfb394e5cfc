"""A pipeline driven from Temporal's own TypeScript client (@temporalio/client
from npm, installed into tests/ts by `npm ci`): start, status, pause/resume, a
rejected and an accepted feedback, a rejected and an accepted approval, the
result, bad input failing with its stable error type, and the answer an agent
is writing read from its heartbeat details."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid

import pytest

from tests.conftest import REPO_ROOT, address_of, real_worker
from tests.llm_server import Reply

TS_DIR = REPO_ROOT / "tests" / "ts"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the TypeScript client test needs it")


def install_client() -> None:
    """The pinned @temporalio/client from the lock file (once per checkout)."""
    if not (TS_DIR / "node_modules" / "@temporalio" / "client").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, check=True, capture_output=True, timeout=600)


async def test_a_typescript_service_drives_a_pipeline(dev_env, llm, task_queue):
    install_client()
    workflow_id = f"ts-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "TEMPORAL_ADDRESS": address_of(dev_env), "BATON_TASK_QUEUE": task_queue,
           "BATON_WORKFLOW_ID": workflow_id}
    llm.script_stage("research", Reply(text=" ".join(f"fact{i}" for i in range(50)), pace=0.1))  # 5 s of writing
    async with real_worker(dev_env.client, llm, task_queue):
        process = await asyncio.create_subprocess_exec(NODE, str(TS_DIR / "drive_pipeline.mjs"), env=env, cwd=TS_DIR,
                                                       stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    seen = {line["what"]: line["value"] for line in map(json.loads, out.decode().splitlines())}
    assert seen["paused"] == "paused" and seen["awaiting_review"] == "draft"
    assert seen["live"] == {"stage": "research", "agent": "researcher", "partial": True}
    assert seen["feedback_rejected"] == "feedback text must not be empty"
    assert seen["feedback_accepted"] == "draft"
    assert seen["approve_rejected"] == "this approves run 1 of stage 'draft', but run 2 is awaiting review"
    assert seen["approve_accepted"] == "stage 'draft' approved"
    assert seen["result_stages"] == ["research", "draft", "edit"] and seen["final_state"] == "completed"
    assert seen["bad_input"] == {"type": "InvalidInput", "details": [{"problems": [
        "goal: Input should be a valid string", "stages: Field required"]}]}
    assert llm.stage_calls("draft") == 2
    described = await dev_env.client.get_workflow_handle(workflow_id).describe()
    assert await described.static_summary() == "pipeline: Explain tides"
