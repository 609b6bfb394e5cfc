"""SupervisorWorkflow's logic on the time-skipping server, with fake activities."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from baton.contracts import FeedbackRequest, SupervisorInput, SupervisorResult
from tests.test_pipeline_logic import until


def supervised(**overrides) -> SupervisorInput:
    return SupervisorInput(**{"goal": "Write a launch note", "workers": ["researcher", "writer"], **overrides})


async def test_delegates_turn_by_turn_and_finishes(fake_worker):
    fakes, start = fake_worker
    fakes.script("turn-1", [("delegate", {"agent": "researcher", "instruction": "find the facts"}),
                            ("delegate", {"agent": "writer", "instruction": "draft an outline"})])
    fakes.script("turn-2", [("delegate", {"agent": "writer", "instruction": "write it from the facts"})])
    fakes.script("turn-3", [("finish", {"answer": "the launch note"})])
    result = await (await start("SupervisorWorkflow", supervised(), SupervisorResult)).result()

    assert result.answer == "the launch note" and result.stopped == "finished" and result.turns == 3
    assert [(d.step, d.agent, d.instruction, d.output) for d in result.delegations] == [
        ("turn-1.1-researcher", "researcher", "find the facts", "turn-1.1-researcher v1"),
        ("turn-1.2-writer", "writer", "draft an outline", "turn-1.2-writer v1"),
        ("turn-2.1-writer", "writer", "write it from the facts", "turn-2.1-writer v1"),
    ]
    supervisor_calls = [c for c in fakes.calls if c.agent == "supervisor"]
    assert supervisor_calls[0].tools == ["delegate", "finish", "ask_person"]
    # The supervisor sees every worker's result before its next decision.
    second = supervisor_calls[1].conversation
    assert [t["role"] for t in second] == ["assistant", "tool", "tool"]
    assert second[1]["content"] == "turn-1.1-researcher v1" and second[1]["tool_call_id"] == second[0]["tool_calls"][0]["id"]
    assert "- researcher: Research the goal." in supervisor_calls[0].instructions
    assert result.usage.total_tokens == 15 * len(fakes.calls)


async def test_bad_calls_go_back_to_the_supervisor_as_errors(fake_worker):
    fakes, start = fake_worker
    fakes.script("turn-1", [("delegate", {"agent": "poet", "instruction": "rhyme"}), ("launch", {}),
                            ("delegate", "{not json"), ("delegate", {"agent": "writer"})])
    fakes.script("turn-2", [("finish", {"answer": "done"})])
    result = await (await start("SupervisorWorkflow", supervised(), SupervisorResult)).result()
    errors = [t["content"] for t in fakes.calls[-1].conversation if t["role"] == "tool"]
    assert errors[0] == "error: 'poet' is not on your team; choose one of researcher, writer"
    assert errors[1].startswith("error: there is no function 'launch'")
    assert "not JSON" in errors[2] and "instruction" in errors[3]
    assert result.delegations == [] and result.answer == "done"


async def test_a_failed_worker_is_reported_to_the_supervisor(fake_worker):
    fakes, start = fake_worker
    fakes.failing_steps = {"turn-1.1-researcher"}
    fakes.script("turn-1", [("delegate", {"agent": "researcher", "instruction": "find"})])
    fakes.script("turn-2", [("finish", {"answer": "done anyway"})])
    result = await (await start("SupervisorWorkflow", supervised(), SupervisorResult)).result()
    assert result.delegations[0].output is None and "cannot be done" in result.delegations[0].error
    tool_result = fakes.calls[-1].conversation[-1]["content"]
    assert tool_result.startswith("researcher failed:") and result.answer == "done anyway"


async def test_max_turns_bounds_the_run_then_asks_for_the_final_answer(fake_worker):
    fakes, start = fake_worker
    for turn in range(1, 4):
        fakes.script(f"turn-{turn}", [("delegate", {"agent": "writer", "instruction": f"pass {turn}"})])
    fakes.script("final", [("finish", {"answer": "best so far"})])
    result = await (await start("SupervisorWorkflow", supervised(max_turns=3), SupervisorResult)).result()
    assert result.stopped == "max_turns" and result.answer == "best so far" and len(result.delegations) == 3
    assert [c.stage for c in fakes.calls if c.agent == "supervisor"] == ["turn-1", "turn-2", "turn-3", "final"]


async def test_escalation_waits_for_a_person_and_continues_with_their_answer(fake_worker):
    fakes, start = fake_worker
    fakes.script("turn-1", [("ask_person", {"question": "Which market first?"})])
    fakes.script("turn-2", [("finish", {"answer": "France first"})])
    handle = await start("SupervisorWorkflow", supervised(), SupervisorResult)
    waiting = await until(handle, lambda s: s.state == "awaiting_review")
    assert waiting.awaiting_review == "ask-1" and waiting.info["question"] == "Which market first?"
    await handle.execute_update("feedback", FeedbackRequest(text="France"))
    result = await handle.result()
    assert result.questions == [{"question": "Which market first?", "answer": "France"}]
    assert fakes.calls[-1].conversation[-1]["content"] == "France" and result.answer == "France first"


async def test_approve_without_an_answer_lets_the_supervisor_go_on(fake_worker):
    fakes, start = fake_worker
    fakes.script("turn-1", [("ask_person", {"question": "OK to go on?"})])
    fakes.script("turn-2", "A plain answer is final too.")
    handle = await start("SupervisorWorkflow", supervised(), SupervisorResult)
    await until(handle, lambda s: s.state == "awaiting_review")
    await handle.signal("approve")
    result = await handle.result()
    assert "continue on your own judgement" in result.questions[0]["answer"]
    assert result.answer == "A plain answer is final too." and result.stopped == "finished"


async def test_without_escalation_ask_person_is_not_offered(fake_worker):
    fakes, start = fake_worker
    fakes.script("turn-1", [("ask_person", {"question": "?"})])
    fakes.script("turn-2", [("finish", {"answer": "ok"})])
    result = await (await start("SupervisorWorkflow", supervised(allow_escalation=False), SupervisorResult)).result()
    assert fakes.calls[0].tools == ["delegate", "finish"] and result.questions == []
    assert fakes.calls[-1].conversation[-1]["content"].startswith("error: there is no function 'ask_person'")


async def test_pause_holds_the_next_decision(fake_worker):
    fakes, start = fake_worker
    release = fakes.hold("turn-1.1-writer")
    fakes.script("turn-1", [("delegate", {"agent": "writer", "instruction": "x"})])
    fakes.script("turn-2", [("finish", {"answer": "ok"})])
    handle = await start("SupervisorWorkflow", supervised(), SupervisorResult)
    await fakes.started["turn-1.1-writer"].wait()
    await handle.signal("pause")
    release.set()
    paused = await until(handle, lambda s: s.state == "paused" and not s.running)
    assert paused.pattern == "supervisor" and "turn-2" not in fakes.stages_called()
    await handle.signal("resume")
    assert (await handle.result()).answer == "ok"


@pytest.mark.parametrize(("overrides", "error"), [
    ({"workers": []}, "at least 1 item"),
    ({"workers": ["writer", "writer"]}, "duplicate worker"),
    ({"workers": ["supervisor"]}, "cannot also be a worker"),
    ({"workers": ["bad name!"]}, "not a valid agent name"),
    ({"max_turns": 0}, "greater than or equal to 1"),
])
def test_bad_input_is_rejected_clearly(overrides, error):
    with pytest.raises(ValidationError, match=error):
        supervised(**overrides)
