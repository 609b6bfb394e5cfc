"""Workers on several machines with no shared disk: payloads and earlier outputs
in an S3-compatible object store (a real SeaweedFS, tests/object_store.py), two
worker processes as two hosts, each with its own data folder (dev server, the
real ``openai`` client against the scripted model server)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from baton import client as baton
from baton.blob_store import BlobMissing, BucketBlobs
from baton.content import STAGES, content_pipeline
from baton.contracts import FanOutInput, TaskSpec
from baton.temporal import data_converter
from tests.conftest import spawn_worker
from tests.object_store import BUCKET, seaweedfs
from tests.test_cli import until_state


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as env:
        yield env


def host(tmp_path: Path, name: str, s3_env: dict[str, str]) -> dict[str, str]:
    """A worker's environment on its own "machine": its own data and artifacts folders, the shared bucket."""
    folder = tmp_path / name
    return {**s3_env, "BATON_DATA_DIR": str(folder), "BATON_ARTIFACTS_DIR": str(folder / "artifacts")}


async def test_the_bucket_keeps_bytes_and_names_what_it_lacks(s3_env):
    blobs = BucketBlobs(BUCKET, s3_env)
    await blobs.put("a/b", b"x" * 700_000)
    assert await blobs.get("a/b") == b"x" * 700_000 and await blobs.exists("a/b")
    assert not await blobs.exists("a/none")
    with pytest.raises(BlobMissing):
        await blobs.get("a/none")


async def test_a_content_pipeline_runs_on_two_hosts_without_a_shared_folder(dev_env, llm, s3_env, tmp_path):
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace, data_converter=data_converter(s3_env))
    queue = f"hosts-{uuid.uuid4().hex[:6]}"
    names = [name for name, _, _ in STAGES]
    for n, name in enumerate(names):  # past the store's threshold, and each an artifact
        llm.script_stage(name, f"{name}: " + chr(ord("a") + n) * 300_000 if name != "critique"
                         else json.dumps({"verdict": "revise", "score": 5, "issues": ["e" * 300_000]}))
    first = await spawn_worker(dev_env, llm, queue, tmp_path / "a.log", **host(tmp_path, "a", s3_env))
    try:
        inp = content_pipeline("Durable agents", automatic=set(names) - {"draft"})
        handle = await client.start_workflow("PipelineWorkflow", inp, id=f"hosts-{uuid.uuid4().hex[:6]}", task_queue=queue)
        await until_state(dev_env, handle.id, lambda s: s.awaiting_review == "draft", timeout=60)
    finally:
        first.terminate()
        await first.wait()
    second = await spawn_worker(dev_env, llm, queue, tmp_path / "b.log", **host(tmp_path, "b", s3_env))
    try:
        await baton.approve(client, handle.id, "draft")
        result = await asyncio.wait_for(handle.result(), 60)
    finally:
        second.terminate()
        await second.wait()
    assert result["final"].startswith("publish_metadata: ")
    # Host b's agents read host a's outputs whole, from the bucket: a's folder is not b's.
    critique = next(r for r in llm.requests if r.stage == "critique")
    assert "research: " + "c" * 300_000 in critique.prompt and "draft: " + "d" * 300_000 in critique.prompt
    written_a = {p.name for p in (tmp_path / "a" / "artifacts").rglob("*.md")}
    written_b = {p.name for p in (tmp_path / "b" / "artifacts").rglob("*.md")}
    assert {"classify-v1.md", "draft-v1.md"} <= written_a and {"critique-v1.md", "publish_metadata-v1.md"} <= written_b
    assert not written_a & written_b


async def test_a_fan_out_of_400_kb_answers_spans_two_hosts(dev_env, llm, s3_env, tmp_path):
    client = Client(dev_env.client.service_client, namespace=dev_env.client.namespace, data_converter=data_converter(s3_env))
    queue = f"hosts-{uuid.uuid4().hex[:6]}"
    tasks = [TaskSpec(id=f"t{n}", agent="researcher", prompt=f"part {n}") for n in range(10)]
    for n, task in enumerate(tasks):
        llm.script_stage(task.id, str(n) * 400_000)
    llm.script_stage("synthesis", "the synthesis")
    llm.latency = 0.5  # the tasks overlap: each host takes some, five at most (its slots)
    workers = [await spawn_worker(dev_env, llm, queue, tmp_path / f"{name}.log", BATON_MAX_CONCURRENT_AGENTS="5",
                                  **host(tmp_path, name, s3_env)) for name in ("a", "b")]
    try:
        handle = await client.start_workflow("FanOutWorkflow", FanOutInput(goal="g", tasks=tasks),
                                             id=f"hosts-{uuid.uuid4().hex[:6]}", task_queue=queue)
        result = await asyncio.wait_for(handle.result(), 60)
        history = await handle.fetch_history()
    finally:
        for worker in workers:
            worker.terminate()
            await worker.wait()
    assert result["synthesis"] == "the synthesis"
    synthesis = next(r for r in llm.requests if r.stage == "synthesis")
    assert all(str(n) * 400_000 in synthesis.prompt for n in range(10))
    started_by = {e.activity_task_started_event_attributes.identity for e in history.events
                  if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED}
    assert len(started_by) == 2  # both hosts answered; the synthesis read what the other host wrote
    info = (await handle.describe()).raw_description.workflow_execution_info
    assert info.history_size_bytes < 100_000
