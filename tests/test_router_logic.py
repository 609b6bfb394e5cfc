"""RouterWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import pytest

from baton.contracts import RouteSpec, RouterInput, RouterResult, Status

ROUTES = [RouteSpec(agent="writer", description="writes prose"), RouteSpec(agent="researcher", description="finds facts")]


def router(**overrides) -> RouterInput:
    return RouterInput(input="How high are tides in Brittany?", routes=ROUTES, default="editor", classifier="critic", **overrides)


async def test_routes_to_the_chosen_agent(fake_worker):
    fakes, start = fake_worker
    fakes.script("classify", {"agent": "researcher", "confidence": 0.9, "reason": "a factual question"})
    handle = await start("RouterWorkflow", router(), RouterResult)
    result = await handle.result()
    assert (result.route, result.confidence, result.fallback) == ("researcher", 0.9, False)
    assert [(c.stage, c.agent) for c in fakes.calls] == [("classify", "critic"), ("handle", "researcher")]
    assert fakes.calls[0].schema == "Route" and "- writer: writes prose" in fakes.calls[0].instructions
    assert result.output == "handle v1"
    status = await handle.query("status", result_type=Status)
    assert status.info["route"] == "researcher" and status.stages[1].agent == "researcher"


@pytest.mark.parametrize(
    ("pick", "why"),
    [({"agent": "poet", "confidence": 0.99, "reason": "x"}, "unknown route 'poet'"),
     ({"agent": "writer", "confidence": 0.2, "reason": "x"}, "confidence 0.2 below 0.5")],
)
async def test_unknown_or_unsure_choice_falls_back_to_the_default(fake_worker, pick, why):
    fakes, start = fake_worker
    fakes.script("classify", pick)
    result = await (await start("RouterWorkflow", router(), RouterResult)).result()
    assert result.route == "editor" and result.fallback and result.reason == why
    assert fakes.calls[-1].agent == "editor"
