"""What a person sees in the Web UI and in `temporal workflow list`: runs
filterable by Baton's search attributes, kept current as the run moves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
import structlog
import structlog.testing
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from baton import client as baton
from baton import search
from baton.contracts import PipelineInput, PipelineResult, StageSpec
from baton.embedded import register_search_attributes
from baton.temporal import web_ui_url
from tests.conftest import TEMPORAL_CLI, free_port, real_worker
from tests.test_pipeline_logic import until


async def listed(client: Client, query: str, expect: int = 1, timeout: float = 10) -> list[str]:
    """The ids a visibility query returns, polled until there are ``expect`` (visibility lags a little)."""
    async with asyncio.timeout(timeout):
        while True:
            ids = [w.id async for w in client.list_workflows(query)]
            if len(ids) >= expect:
                return ids
            await asyncio.sleep(0.2)


async def test_runs_are_filterable_by_pattern_and_live_state(dev_env, llm, task_queue):
    client = dev_env.client
    inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer", review=True)])
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"indexed-{uuid.uuid4().hex[:6]}", queue=task_queue)
        await until(handle, lambda s: s.state == "awaiting_review", 30)
        mine = f"WorkflowId = '{handle.id}'"
        assert await listed(client, f"{mine} AND BatonPattern = 'pipeline' AND BatonState = 'awaiting_review'") == [handle.id]
        with pytest.raises(baton.BatonError, match="already running"):
            await baton.start(client, inp, workflow_id=handle.id, queue=task_queue)
        await baton.approve(client, handle.id)
        await baton.wait_result(client, handle.id)
        assert await listed(client, f"{mine} AND BatonState = 'completed'") == [handle.id]
    assert [w.id async for w in client.list_workflows(f"{mine} AND BatonState = 'awaiting_review'")] == []
    # One upsert per change of state, none repeated while the state stays the same.
    events = [e async for e in client.get_workflow_handle(handle.id).fetch_history_events()]
    upserts = [e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields for e in events
               if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]
    states = [client.data_converter.payload_converter.from_payload(fields["BatonState"], str)
              for fields in upserts if "BatonState" in fields]
    assert states == ["running", "awaiting_review", "running", "completed"]
    # The SDK also records the patches the run took (Baton decides its own at the start: docs/versioning.md).
    changes = [client.data_converter.payload_converter.from_payload(fields["TemporalChangeVersion"], list[str])
               for fields in upserts if "TemporalChangeVersion" in fields]
    assert changes == [["baton-rerun-any-step"]]


async def test_a_cluster_without_the_attributes_still_runs_the_pattern(llm, task_queue):
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error",
                                                     data_converter=pydantic_data_converter) as bare:
        client = bare.client
        with structlog.testing.capture_logs() as logs:
            async with real_worker(client, llm, task_queue):
                inp = PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")])
                handle = await baton.start(client, inp, queue=task_queue)
                result = await baton.wait_result(client, handle.id)
                assert result.outputs["draft"]
                # Runs started as the temporal CLI starts them: they do not index themselves
                # here (that would fail their workflow tasks), and the worker says why once.
                for n in range(2):
                    await client.execute_workflow("PipelineWorkflow", inp, id=f"bare-{n}-{uuid.uuid4().hex[:6]}",
                                                  task_queue=task_queue, result_type=PipelineResult)
            warned = [e for e in logs if e["event"].startswith("runs started without BatonPattern stay unindexed")]
            assert len(warned) == 1 and "temporal operator search-attribute create --name BatonPattern" in warned[0]["event"]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a closed network: no background calls to Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("BATON_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


async def text_showing(page, *expected: str, timeout: float = 30) -> str:
    """The text of the page and its frames (the UI renders markdown in sandboxed
    iframes), once every ``expected`` string is in it."""
    async with asyncio.timeout(timeout):
        while True:
            texts = []
            for frame in page.frames:
                with contextlib.suppress(Exception):  # a frame may go away while we read
                    texts.append(await frame.inner_text("body"))
            text = "\n".join(texts)
            if all(e in text for e in expected):
                return text
            await asyncio.sleep(0.5)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
async def test_the_web_ui_shows_a_finished_runs_summary_and_current_details(llm, task_queue):
    from playwright.async_api import async_playwright

    ui_port = free_port()
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error", data_converter=pydantic_data_converter,
        ui=True, ui_port=ui_port, search_attributes=search.ATTRIBUTES,
    ) as env:
        client = env.client
        inp = PipelineInput(goal="Explain the tides to sailors", stages=[StageSpec(name="research", agent="researcher"),
                                                                         StageSpec(name="draft", agent="writer")])
        # The worker stays up: the UI asks the run itself (a query) for its current details.
        async with real_worker(client, llm, task_queue):
            handle = await baton.start(client, inp, workflow_id=f"ui-{uuid.uuid4().hex[:6]}", queue=task_queue)
            await baton.wait_result(client, handle.id)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 1800})
                await page.goto(web_ui_url(handle.id, env={"BATON_UI_URL": f"http://127.0.0.1:{ui_port}"}))
                try:
                    # The timeline names each agent call by its activity summary.
                    await page.get_by_text("writer · draft").first.wait_for(timeout=30_000)
                    # The static summary set at start, and the live details table the workflow renders.
                    await page.get_by_text("User Metadata").first.click()
                    await page.get_by_text("Current Details").first.wait_for(timeout=30_000)
                    body = await text_showing(page, "pipeline: Explain the tides to sailors", "Stages: research → draft",
                                              "pipeline · completed")
                finally:  # the screenshot is the artifact, and on a failure the evidence
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=ARTIFACTS / "web-ui-finished-pipeline.png", full_page=True)
                    await browser.close()
    # The current details: one line per stage, its fields apart (a table's cells ran together).
    assert "draft · writer · done · test-model · 1 run" in body, body
    assert (ARTIFACTS / "web-ui-finished-pipeline.png").stat().st_size > 10_000


async def test_a_server_whose_database_predates_the_attributes_gets_them_from_the_embedded_setup(llm, task_queue):
    # start-dev registers --search-attribute only when it creates its database.
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error",
                                                     data_converter=pydantic_data_converter) as old:
        address = old.client.service_client.config.target_host
        said: list[str] = []
        await asyncio.to_thread(register_search_attributes, address, said.append)
        assert said == []  # nothing to report: registered
        client = old.client
        async with real_worker(client, llm, task_queue):
            handle = await baton.start(client, PipelineInput(goal="Explain tides", stages=[StageSpec(name="draft", agent="writer")]),
                                       queue=task_queue)
            await baton.wait_result(client, handle.id)
        assert await listed(client, f"WorkflowId = '{handle.id}' AND BatonPattern = 'pipeline' AND BatonState = 'completed'") == [handle.id]
