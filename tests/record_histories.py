"""Record workflow histories for the replay tests (tests/histories/*.json).

    .venv/bin/python -m tests.record_histories

Runs each scenario on a fresh in-memory dev server with Baton's real worker and
the scripted LLM, then writes each run's history. Record again only when a
change is *meant* to alter histories (and version it with ``workflow.patched``
so runs already open keep replaying); never to make a failing replay pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from baton import client as baton
from baton.contracts import PipelineInput, StageSpec
from tests.conftest import TEMPORAL_CLI, real_worker
from tests.llm_server import Reply, ScriptedLLM

HISTORIES = Path(__file__).parent / "histories"
QUEUE = "record"


def stages(*specs: tuple) -> PipelineInput:
    return PipelineInput(goal="Explain tides", stages=[StageSpec(name=s[0], agent=s[1], review=len(s) > 2) for s in specs])


async def wait_for(client: Client, workflow_id: str, predicate) -> None:
    while not predicate(await baton.status(client, workflow_id)):
        await asyncio.sleep(0.05)


async def straight(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: critique", '{"verdict": "approve", "score": 8, "issues": []}')
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer"), ("critique", "critic")), queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def steered(client: Client, llm: ScriptedLLM) -> str:
    """Pause, resume, feedback, rewind and approvals: every handler in one history."""
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer", True), ("edit", "editor")), queue=QUEUE)
    await baton.pause(client, handle.id)
    await baton.resume(client, handle.id)
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "draft")
    await baton.feedback(client, handle.id, "Use a beach analogy")
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
    await baton.rewind(client, handle.id, "research")
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 3)
    await baton.approve(client, handle.id, "draft")
    await baton.wait_result(client, handle.id)
    return handle.id


async def retried_and_fallback(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: research", Reply(status=500), "facts")
    llm.script("Often fails", Reply(status=404), "fallback answer")
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("risky", "flaky")), queue=QUEUE)
    await baton.wait_result(client, handle.id)
    return handle.id


async def cancelled(client: Client, llm: ScriptedLLM) -> str:
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer", True)), queue=QUEUE)
    await wait_for(client, handle.id, lambda s: s.awaiting_review == "draft")
    await baton.cancel(client, handle.id)
    await wait_for(client, handle.id, lambda s: s.state == "cancelled")
    return handle.id


async def failed(client: Client, llm: ScriptedLLM) -> str:
    llm.script("Your stage: research", Reply(status=401))
    handle = await baton.start_pipeline(client, stages(("research", "researcher"), ("draft", "writer")), queue=QUEUE)
    try:
        await baton.wait_result(client, handle.id)
    except baton.BatonError:
        pass
    return handle.id


SCENARIOS: dict[str, Callable[[Client, ScriptedLLM], Awaitable[str]]] = {
    "pipeline_straight": straight,
    "pipeline_steered": steered,
    "pipeline_retried_and_fallback": retried_and_fallback,
    "pipeline_cancelled": cancelled,
    "pipeline_failed": failed,
}


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI), data_converter=pydantic_data_converter)
    try:
        for name, scenario in SCENARIOS.items():
            llm = ScriptedLLM().start()
            try:
                async with real_worker(env.client, llm, QUEUE):
                    workflow_id = await scenario(env.client, llm)
                history = await env.client.get_workflow_handle(workflow_id).fetch_history()
                (HISTORIES / f"{name}.json").write_text(history.to_json())
                print(f"recorded {name}: {len(history.events)} events")
            finally:
                llm.stop()
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
