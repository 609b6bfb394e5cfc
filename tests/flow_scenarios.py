"""The example flows (examples/flows/) as the test suite and the history
recorder run them: what the scripted model answers, and what a person does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from temporalio.client import Client

from baton import client as baton
from baton.contracts import FlowInput
from baton.flows.files import read_document
from tests.llm_server import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "flows"
PLAN = json.dumps({"tasks": [{"id": "animals", "agent": "writer", "prompt": "What lives in a tide pool"},
                             {"id": "safety", "agent": "writer", "prompt": "How to visit safely"}]})

# stage -> the scripted model's answers, in order, per example
SCRIPTS: dict[str, dict[str, list[str]]] = {
    "review_loop": {"plan": [PLAN, PLAN],
                    "review": ['{"answer": "Add where to find the pools", "action": "retry"}',
                               '{"answer": "Clear and complete", "action": "approved"}']},
    "content_by_type": {"classify": ['{"label": "tutorial", "confidence": 0.9, "reason": "a how-to"}'],
                        "critique": ['{"verdict": "approve", "score": 8, "issues": []}']},
    "cascade": {"recall": ["tidal stream fastest"],
                "synthesize": ['{"answer": "Midway between high and low water", "confidence": 0.4}']},
    "static_dag": {},
}
CASCADE_ANSWER = "Confirmed: fastest midway between high and low water."


def example(name: str) -> FlowInput:
    return FlowInput.model_validate(read_document(EXAMPLES / f"{name}.toml"))


def script(llm: ScriptedLLM, name: str) -> None:
    for stage, replies in SCRIPTS[name].items():
        llm.script_stage(stage, *replies)


async def steer(client: Client, workflow_id: str, name: str) -> None:
    """What a person does in the example: approve the content's gates, answer the cascade's question."""
    if name == "content_by_type":
        for gate in ("draft", "humanize"):
            await _until(client, workflow_id, lambda s, g=gate: s.awaiting_review == g)
            await baton.approve(client, workflow_id, gate)
    elif name == "cascade":
        await _until(client, workflow_id, lambda s: s.awaiting_review == "check")
        await baton.answer(client, workflow_id, CASCADE_ANSWER)


async def _until(client: Client, workflow_id: str, predicate, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate(await baton.status(client, workflow_id)):
            await asyncio.sleep(0.05)
