"""ExpertPanelWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

from baton.contracts import ExpertSpec, PanelInput, PanelResult

EXPERTS = [ExpertSpec(name="oceanographer", agent="researcher", role="an oceanographer"),
           ExpertSpec(name="sailor", agent="writer", role="a sailor"),
           ExpertSpec(name="physicist", agent="editor", role="a physicist")]


async def test_experts_debate_and_the_moderator_scores_agreement(fake_worker):
    fakes, start = fake_worker
    fakes.delay = 0.05
    fakes.script("consensus", {"consensus": "The moon drives tides", "agreement": 0.8, "dissent": ["the sun matters too"]})
    inp = PanelInput(question="What drives tides?", experts=EXPERTS, rounds=2, moderator="critic")
    result = await (await start("ExpertPanelWorkflow", inp, PanelResult)).result()

    assert fakes.max_in_flight == 3  # each round's experts answer in parallel
    round_one, round_two = fakes.calls[:3], fakes.calls[3:6]
    assert all(c.context == [] for c in round_one)
    sailor = next(c for c in round_two if c.stage == "sailor.r2")
    assert sailor.context == ["oceanographer", "physicist"]  # the others' previous answers, not its own
    assert "You are a sailor" in sailor.instructions
    moderator = fakes.calls[-1]
    assert moderator.schema == "Consensus" and moderator.context == ["oceanographer", "sailor", "physicist"]
    assert result.rounds[1]["sailor"] == "sailor.r2 v1"
    assert (result.consensus, result.agreement, result.dissent) == ("The moon drives tides", 0.8, ["the sun matters too"])


async def test_one_round_panel(fake_worker):
    fakes, start = fake_worker
    fakes.script("consensus", {"consensus": "c", "agreement": 1.0, "dissent": []})
    inp = PanelInput(question="q", experts=EXPERTS[:2], moderator="critic")
    result = await (await start("ExpertPanelWorkflow", inp, PanelResult)).result()
    assert len(result.rounds) == 1 and len(fakes.calls) == 3
