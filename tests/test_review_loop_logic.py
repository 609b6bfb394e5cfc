"""ReviewLoopWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

from baton.contracts import ReviewLoopInput, ReviewLoopResult


def plan(*ids: str) -> dict:
    return {"tasks": [{"id": i, "agent": "writer", "prompt": f"write {i}"} for i in ids]}


def loop(**overrides) -> ReviewLoopInput:
    return ReviewLoopInput(goal="A tide guide", workers=["writer", "researcher"], **{"max_rounds": 3, **overrides})


async def test_critique_goes_back_to_the_planner_until_approved(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    fakes.script("plan.r1", plan("intro", "body"))
    fakes.script("review.r1", {"approved": False, "critique": "Needs a diagram"})
    fakes.script("plan.r2", plan("intro", "body", "diagram"))
    fakes.script("review.r2", {"approved": True, "critique": ""})
    result = await (await start("ReviewLoopWorkflow", loop(), ReviewLoopResult)).result()

    assert result.approved and len(result.rounds) == 2 and result.critiques == ["Needs a diagram"]
    assert set(result.final) == {"intro", "body", "diagram"}
    assert fakes.max_in_flight == 3  # round 2's workers ran in parallel
    second_plan = next(c for c in fakes.calls if c.stage == "plan.r2")
    assert second_plan.context == ["round 1 critique"]
    review = next(c for c in fakes.calls if c.stage == "review.r1")
    assert review.schema == "Review" and review.context == ["intro", "body"]


async def test_stops_at_max_rounds_keeping_every_critique(fake_worker):
    fakes, start = fake_worker
    for n in (1, 2):
        fakes.script(f"plan.r{n}", plan("only"))
        fakes.script(f"review.r{n}", {"approved": False, "critique": f"critique {n}"})
    result = await (await start("ReviewLoopWorkflow", loop(max_rounds=2), ReviewLoopResult)).result()
    assert not result.approved and result.critiques == ["critique 1", "critique 2"]
    assert [c.stage for c in fakes.calls].count("review.r2") == 1 and "plan.r3" not in fakes.stages_called()


async def test_plans_with_dependencies_or_unlisted_workers_are_sent_back(fake_worker):
    fakes, start = fake_worker
    fakes.script("plan.r1", {"tasks": [{"id": "a", "agent": "editor", "prompt": "p"}]},
                 {"tasks": [{"id": "a", "agent": "writer", "prompt": "p"}, {"id": "b", "agent": "writer", "prompt": "p", "depends_on": ["a"]}]},
                 plan("a"))
    fakes.script("review.r1", {"approved": True, "critique": ""})
    result = await (await start("ReviewLoopWorkflow", loop(), ReviewLoopResult)).result()
    assert result.approved and [c.stage for c in fakes.calls].count("plan.r1") == 3
