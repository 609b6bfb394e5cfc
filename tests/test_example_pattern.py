"""The example pattern of docs/authoring.md (examples/critics.py), written on
Baton's runtime outside Baton's files: its logic on the time-skipping server
with a fake agent (as docs/authoring.md shows a user), then end to end on the
dev server from the doc's `temporal workflow start` and `starter.py` lines."""

from __future__ import annotations

import asyncio

from baton import client as baton
from examples.critics import CriticsInput, CriticsResult, CriticsWorkflow
from tests.conftest import EXAMPLE_PATTERN, real_worker
from tests.test_cli import doc_lines, ok, until_state, workflow_id_of
from tests.test_pipeline_logic import until

APPROVE = {"approved": True, "critique": ""}


async def test_the_writer_revises_until_every_critic_approves(fake_worker):
    fakes, start = fake_worker  # tests/fakes.py: a fake agent activity, scripted per step
    fakes.script("critic.r1", {"approved": False, "critique": "Mention the moon."})
    fakes.script("reviewer.r1", APPROVE)
    fakes.script("critic.r2", APPROVE)
    fakes.script("reviewer.r2", APPROVE)
    handle = await start("CriticsWorkflow", CriticsInput(goal="Explain tides"), CriticsResult)
    result = await handle.result()
    assert (result.approved, result.rounds, result.draft, result.critiques) == (True, 2, "draft.r2 v1", [])
    # The second draft saw both critiques of the first; the critics saw the draft.
    revise = next(c for c in fakes.calls if c.stage == "draft.r2")
    assert revise.context == ["critic's critique", "reviewer's critique"] and "Revise" in revise.instructions
    assert next(c for c in fakes.calls if c.stage == "critic.r2").context == ["the draft"]
    assert result.usage.total_tokens == 6 * 15


async def test_it_stops_after_max_rounds_with_the_critiques_left(fake_worker):
    fakes, start = fake_worker
    fakes.script("critic.r1", {"approved": False, "critique": "Too long."})
    handle = await start("CriticsWorkflow", CriticsInput(goal="Explain tides", critics=["critic"], max_rounds=1), CriticsResult)
    result = await handle.result()
    assert (result.approved, result.rounds, result.critiques) == (False, 1, ["Too long."])


async def test_feedback_on_a_round_runs_it_again(fake_worker):
    fakes, start = fake_worker
    release = fakes.hold("critic.r1")
    fakes.script("critic.r1", APPROVE, APPROVE)
    handle = await start("CriticsWorkflow", CriticsInput(goal="Explain tides", critics=["critic"]), CriticsResult)
    await fakes.started["critic.r1"].wait()
    # By typed reference, as a user's test would call it.
    from baton.contracts import FeedbackRequest
    ack = await handle.execute_update(CriticsWorkflow.feedback, FeedbackRequest(text="Shorter", stage="draft.r1"))
    assert ack.rerun_from == "draft.r1"
    release.set()
    result = await handle.result()
    assert result.approved and fakes.stages_called() == ["draft.r1", "critic.r1", "draft.r1", "critic.r1"]
    assert fakes.calls[2].feedback == ["Shorter"]
    status = await until(handle, lambda s: s.state == "completed")
    assert [(row.name, row.runs) for row in status.stages] == [("draft.r1", 2), ("critic.r1", 2)]


async def test_the_doc_lines_run_it_from_the_temporal_cli_and_starter(dev_env, llm):
    for stage in ("critic.r1", "reviewer.r1"):
        llm.script_stage(stage, '{"approved": true, "critique": ""}', '{"approved": true, "critique": ""}')
    lines = doc_lines("docs/authoring.md", "temporal workflow start") + [
        line for line in doc_lines("docs/authoring.md", "BATON_PATTERNS=") if "starter.py start" in line]
    assert len(lines) == 2
    async with real_worker(dev_env.client, llm, "baton", BATON_PATTERNS=EXAMPLE_PATTERN):  # as the doc's worker line
        for line in lines:
            await ok(line, dev_env)
        for line in lines:
            workflow_id = workflow_id_of(line)
            result = await asyncio.wait_for(baton.wait_result(dev_env.client, workflow_id), 60)
            assert isinstance(result, CriticsResult) and result.approved and result.rounds == 1
            status = await until_state(dev_env, workflow_id, lambda s: s.state == "completed")
            assert status.pattern == "critics" and [r.name for r in status.stages] == ["draft.r1", "critic.r1", "reviewer.r1"]
