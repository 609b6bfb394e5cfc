"""Bad input, table-driven, through every door: the Python client, starter.py
and the `temporal` CLI. Each case gets a message naming the problem, and the
run they were aimed at is not corrupted: it finishes normally afterwards."""

from __future__ import annotations

import json
import uuid

import pytest

from baton import client as baton
from tests.conftest import real_worker
from tests.test_cli import sh, until_state

LIVE = "{live}"  # a pipeline waiting for review on 'draft' (research done, edit not yet run)
DONE = "{done}"  # a pipeline that has completed
CYCLE = json.dumps({"tasks": [{"id": "a", "agent": "writer", "prompt": "p", "depends_on": ["b"]},
                              {"id": "b", "agent": "writer", "prompt": "p", "depends_on": ["a"]}]})
STAGES = [{"name": "research", "agent": "researcher"}, {"name": "draft", "agent": "writer", "review": True},
          {"name": "edit", "agent": "editor"}]


def client_input(pattern, raw):
    return lambda c, ids: _parse(pattern, raw)


async def _parse(pattern, raw):
    baton.parse_input(pattern, raw)


# (door, what is done, the message that must name the problem)
CASES = [
    ("client", client_input("pipeline", "{not json"), "invalid pipeline input: value: Invalid JSON"),
    ("client", client_input("pipeline", {"stages": [{"name": "a", "agent": "writer"}]}), "goal: Field required"),
    ("client", client_input("pipeline", {"goal": "g", "stages": "research"}), "stages: Input should be a valid list"),
    ("client", client_input("pipeline", {"goal": "g", "stages": []}), "stages: List should have at least 1 item"),
    ("client", client_input("pipeline", {"goal": "g", "stages": [STAGES[0], STAGES[0]]}), "duplicate stage name 'research'"),
    ("client", client_input("pipeline", {"goal": "g" * 100_001, "stages": STAGES}), "goal: String should have at most 100000"),
    ("client", client_input("fan-out", {"goal": "g", "tasks": [{"id": "a", "agent": "writer", "prompt": "p"}],
                                        "max_parallel": "five"}), "max_parallel: Input should be a valid integer"),
    ("client", client_input("pipeline", {"goal": "g", "stages": STAGES, "priority": "urgent"}), "priority: Input should be"),
    ("client", client_input("pipeline", {"goal": "g", "stages": STAGES, "max_tokens_total": -5}), "max_tokens_total"),
    ("client", client_input("teleport", {"goal": "g"}), "unknown pattern 'teleport'"),
    ("client", lambda c, ids: baton.feedback(c, ids[LIVE], "   "), "feedback text must not be empty"),
    ("client", lambda c, ids: baton.rewind(c, ids[LIVE], "nope"), "unknown stage 'nope'; stages: research, draft, edit"),
    ("client", lambda c, ids: baton.rewind(c, ids[LIVE], "edit"), "stage 'edit' has not run yet"),
    ("client", lambda c, ids: baton.feedback(c, ids[DONE], "more"), "has finished; it can no longer be steered"),
    ("client", lambda c, ids: baton.pause(c, "no-such-run"), "no run with id 'no-such-run'"),
    ("client", lambda c, ids: baton.raise_budget(c, ids[LIVE]), "give max_tokens_total or max_cost_usd"),
    ("client", lambda c, ids: baton.snapshot(c, ids[LIVE], 99), "no snapshot 99"),
    ("client", lambda c, ids: baton.trace(c, "no-such-run"), "no run with id 'no-such-run'"),
    ("starter", "python starter.py start --input '{not json'", "invalid pipeline input"),
    ("starter", "python starter.py start --type teleport --input '{}'", "unknown pattern 'teleport'"),
    ("starter", "python starter.py start --input @/nonexistent.json", "input file not found: /nonexistent.json"),
    ("starter", "python starter.py feedback no-such-run 'text'", "no run with id 'no-such-run'"),
    ("starter", f"python starter.py rewind {LIVE} nope", "unknown stage 'nope'"),
    ("starter", f"python starter.py raise-budget {LIVE}", "give max_tokens_total or max_cost_usd"),
    ("starter", "python starter.py trace --file /etc/hostname", "is not a workflow history"),
    ("temporal", f"temporal workflow update execute --workflow-id {LIVE} --name feedback --input '{{\"text\": \"\"}}'",
     "feedback text must not be empty"),
    ("temporal", f"temporal workflow update execute --workflow-id {LIVE} --name rewind --input '{{\"stage\": \"nope\"}}'",
     "unknown stage 'nope'"),
    ("temporal", f"temporal workflow update execute --workflow-id {LIVE} --name feedback --input '{{\"txt\": \"x\"}}'",
     "text"),
    ("temporal", "temporal workflow signal --workflow-id no-such-run --name approve", "not found"),
    ("temporal", f"temporal workflow update execute --workflow-id {DONE} --name rewind --input '{{\"stage\": \"research\"}}'",
     "workflow execution already completed"),
]


async def test_every_bad_input_gets_a_message_naming_the_problem_and_no_run_is_harmed(dev_env, llm):
    client = dev_env.client
    llm.script_stage("plan", CYCLE, CYCLE, CYCLE)
    async with real_worker(client, llm, "baton"):  # the queue starter.py and the CLI use
        live = await baton.start(client, baton.parse_input("pipeline", {"goal": "g", "stages": STAGES}),
                                 workflow_id=f"live-{uuid.uuid4().hex[:6]}")
        done = await baton.start(client, baton.parse_input("pipeline", {"goal": "g", "stages": STAGES[:1]}),
                                 workflow_id=f"done-{uuid.uuid4().hex[:6]}")
        await baton.wait_result(client, done.id)
        await until_state(dev_env, live.id, lambda s: s.awaiting_review == "draft")
        ids = {LIVE: live.id, DONE: done.id}
        problems = []
        for door, action, message in CASES:
            if door == "client":
                try:
                    await action(client, ids)
                    problems.append(f"{door}: no error, expected {message!r}")
                except baton.BatonError as err:
                    if message not in str(err):
                        problems.append(f"{door}: {err!s:.300} (expected {message!r})")
            else:
                line = action.replace(LIVE, live.id).replace(DONE, done.id)
                code, out = await sh(line, dev_env)
                flat = " ".join(out.split())
                if code == 0 or message not in flat:
                    problems.append(f"{line}: exit {code}: {flat[-300:]} (expected {message!r})")
        assert problems == []

        # Typed at the CLI, bad input fails the run at once with the reason, and a
        # planner whose plans keep a cycle fails the run after its re-plans.
        bad_id = f"bad-{uuid.uuid4().hex[:6]}"
        await sh(f"temporal workflow start --type PipelineWorkflow --task-queue baton --workflow-id {bad_id} "
                 "--input '{\"goal\": \"g\", \"stages\": []}'", dev_env)
        with pytest.raises(baton.BatonError, match="stages"):
            await baton.wait_result(client, bad_id)
        planned = await baton.start(client, baton.parse_input("planned", {"goal": "g", "agents": ["writer"]}))
        with pytest.raises(baton.BatonError, match="cycle"):
            await baton.wait_result(client, planned.id)

        # The run every bad request was aimed at is intact: approve it and it finishes.
        await baton.approve(client, live.id, "draft")
        result = await baton.wait_result(client, live.id)
    assert list(result.outputs) == ["research", "draft", "edit"]
    assert len(CASES) >= 25 and {door for door, _, _ in CASES} == {"client", "starter", "temporal"}
