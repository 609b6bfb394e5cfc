"""The README's command lines, run for real: the `temporal` CLI and starter.py
against the dev server, with Baton's worker and the scripted LLM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
import uuid

import pytest

from baton import cli as starter
from baton import client as baton
from baton import search
from tests.conftest import BIN, REPO_ROOT, TEST_ARTIFACTS, address_of, real_worker
from tests.llm_server import Reply


def readme_block(heading: str) -> list[str]:
    """The command lines of the first ```sh block after a README heading."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


TEMPORAL_LINES = readme_block("### From the `temporal` CLI")


def temporal_line(name: str) -> str:
    """The README line that does ``name`` (e.g. '--name feedback', 'workflow start')."""
    [line] = [line for line in TEMPORAL_LINES if name in line]
    return line


async def sh(line: str, dev_env) -> tuple[int, str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": address_of(dev_env), "PATH": f"{BIN}:{os.environ['PATH']}"}
    # Lines with a shell substitution ("$(cat file)") run through bash, as a user types them.
    argv = ["bash", "-c", line] if "$(" in line else shlex.split(line)
    while "=" in argv[0] and argv[0].split("=")[0].isidentifier():  # NAME=value before the command
        name, _, value = argv.pop(0).partition("=")
        env[name] = value
    if argv[0] == "python":
        argv[0] = sys.executable
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode()


async def ok(line: str, dev_env) -> str:
    code, out = await sh(line, dev_env)
    assert code == 0, f"{line}\n{out}"
    return out


async def until_state(dev_env, workflow_id: str, predicate, timeout: float = 20):
    async with asyncio.timeout(timeout):
        while True:
            status = await baton.status(dev_env.client, workflow_id)
            if predicate(status):
                return status
            await asyncio.sleep(0.1)


async def test_readme_temporal_cli_lines_drive_a_pipeline(dev_env, llm):
    async with real_worker(dev_env.client, llm, "baton"):  # the README's task queue
        await ok(temporal_line("workflow start"), dev_env)
        out = await ok(temporal_line("--name status"), dev_env)
        assert '"state"' in out
        # Started by the temporal CLI, not baton.client: the run indexed itself.
        async with asyncio.timeout(10):
            while "tides-1" not in (out := await ok(temporal_line("workflow list"), dev_env)):
                await asyncio.sleep(0.2)
        described = await dev_env.client.get_workflow_handle("tides-1").describe()
        assert described.typed_search_attributes.get(search.PATTERN) == "pipeline"
        assert await described.static_summary() == "pipeline: Explain tides"

        await ok(temporal_line("--name pause"), dev_env)
        await ok(temporal_line("--name resume"), dev_env)
        await until_state(dev_env, "tides-1", lambda s: s.awaiting_review == "draft")

        out = await ok(temporal_line("--name feedback"), dev_env)
        assert "draft" in out
        await until_state(dev_env, "tides-1", lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
        assert "Use a beach analogy" in llm.requests[-1].prompt

        await ok(temporal_line("--name rewind"), dev_env)
        await until_state(dev_env, "tides-1", lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 3)

        # A wrong approval answers the caller and changes nothing.
        code, out = await sh(temporal_line("--name approve").replace('"draft"', '"research"'), dev_env)
        assert code != 0 and "stage 'research' is not awaiting review; 'draft' is" in out
        await ok(temporal_line("--name approve"), dev_env)
        out = await ok(temporal_line("workflow result"), dev_env)
        assert "COMPLETED" in out.upper() and "edit" in out
        out = await ok(temporal_line("workflow metadata"), dev_env)
        assert "**draft** · writer · done · test-model · 3 runs" in out and "Use a beach analogy" in out
        assert [llm.stage_calls(s) for s in ("research", "draft", "edit")] == [1, 3, 1]

        # Cancel a second run of the same id.
        await ok(temporal_line("workflow start"), dev_env)
        await until_state(dev_env, "tides-1", lambda s: s.awaiting_review == "draft")
        await ok(temporal_line("workflow cancel"), dev_env)
        status = await until_state(dev_env, "tides-1", lambda s: s.state == "cancelled")
        assert status.completed_stages == ["research"]


async def test_readme_starter_lines_drive_a_pipeline(dev_env, llm, tmp_path):
    inp = {"goal": "Explain tides", "stages": [{"name": "research", "agent": "researcher"},
                                               {"name": "draft", "agent": "writer", "review": True}]}
    workflow_id = f"starter-{uuid.uuid4().hex[:6]}"
    (tmp_path / "pipeline.json").write_text(json.dumps(inp))
    async with real_worker(dev_env.client, llm, "baton"):
        out = await ok(f"python starter.py start --input @{tmp_path / 'pipeline.json'} --id {workflow_id}", dev_env)
        assert json.loads(out)["workflow_id"] == workflow_id
        await until_state(dev_env, workflow_id, lambda s: s.awaiting_review == "draft")
        out = await ok(f"python starter.py feedback {workflow_id} 'More on the moon'", dev_env)
        assert json.loads(out)["rerun_from"] == "draft"
        await until_state(dev_env, workflow_id, lambda s: s.awaiting_review == "draft" and s.stages[1].runs == 2)
        status = json.loads(await ok(f"python starter.py status {workflow_id}", dev_env))
        assert status["stages"][1]["feedback"] == ["More on the moon"]
        await ok(f"python starter.py approve {workflow_id} --stage draft", dev_env)
        result = json.loads(await ok(f"python starter.py result {workflow_id} --wait", dev_env))
        assert set(result["outputs"]) == {"research", "draft"}

        # Checkpoints before and after each step, the feedback's re-run included.
        listed = await ok(f"python starter.py snapshots list {workflow_id}", dev_env)
        labels = [re.search(r"(before|after) \w+", line).group(0) for line in listed.splitlines()]
        assert labels == ["before research", "after research", "before draft", "after draft", "before draft", "after draft"]
        diff = await ok(f"python starter.py snapshots diff {workflow_id} 4 6", dev_env)
        assert "~ draft changed" in diff and "! feedback on draft: More on the moon" in diff
        assert "+ research" in await ok(f"python starter.py snapshots diff {workflow_id} 1 2", dev_env)
        code, out = await sh(f"python starter.py snapshots diff {workflow_id} 1 99", dev_env)
        assert code == 2 and "no snapshot 99; this run has 6" in out

        replayed = await ok(f"python starter.py replay --query \"WorkflowId = '{workflow_id}'\"", dev_env)
        assert f"{workflow_id} " in replayed and "1 run replayed against the current code, 0 failed" in replayed

        timeline = await ok(f"python starter.py trace {workflow_id}", dev_env)
        assert "person update feedback" in timeline and "person update approve" in timeline


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("python starter.py start --input '{not json'", "invalid pipeline input"),
        ("python starter.py start --input '{\"goal\": \"x\", \"stages\": []}'", "stages"),
        ("python starter.py start --input @/nonexistent.json", "input file not found"),
        # A file name without its @: the hint says how to read it.
        ("python starter.py start --input examples/pipeline.json",
         "--input is not JSON; to read the file examples/pipeline.json, write --input @examples/pipeline.json"),
        ("python starter.py start --input ../nothing-here.json", "--input takes JSON, or @FILE to read a JSON or TOML file"),
        ("python starter.py start --type flow --input @examples/flows", "examples/flows: cannot be read"),
        ("python starter.py start --type flow --input @README.md", "README.md: invalid JSON"),
        ("python starter.py flow check agents.toml", "invalid flow input: goal: Field required"),
        ("python starter.py status no-such-run", "no run with id 'no-such-run'"),
        ("python starter.py feedback no-such-run 'text'", "no run with id 'no-such-run'"),
        # A pattern module of one's own that does not import: one line, no traceback.
        ("BATON_PATTERNS=no_such.patterns python starter.py list", "BATON_PATTERNS: cannot import pattern module 'no_such.patterns'"),
        ("BATON_PATTERNS=no_such.patterns python worker.py", "BATON_PATTERNS: cannot import pattern module 'no_such.patterns'"),
    ],
)
async def test_starter_names_the_problem(dev_env, line, message):
    code, out = await sh(line, dev_env)
    assert code == 2 and message in " ".join(out.split()) and "Traceback" not in out, out


def doc_lines(path: str, prefix: str) -> list[str]:
    text = (REPO_ROOT / path).read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith(prefix)]


def workflow_id_of(line: str) -> str:
    return re.search(r"--(?:workflow-)?id (\S+)", line).group(1)


# What the scripted model answers where a pattern needs structured output or tool calls.
PATTERN_SCRIPTS = {
    "content-1": {"classify": '{"label": "tutorial", "confidence": 0.9, "reason": "how-to"}',
                  "critique": '{"verdict": "approve", "score": 8, "issues": []}'},
    "panel-1": {"consensus": '{"consensus": "Not now", "agreement": 0.7, "dissent": ["the SRE wants it"]}'},
    "router-1": {"classify": '{"agent": "researcher", "confidence": 0.8, "reason": "a fact"}'},
    "supervisor-1": {"turn-1": Reply(tool_calls=[("ask_person", {"question": "Who is it for?"})]),
                     "turn-2": Reply(tool_calls=[("finish", {"answer": "Launch note for sailors"})])},
    "hierarchical-1": {"plan": json.dumps({"phases": [
        {"id": "study", "pattern": "fan-out", "goal": "market study", "agents": ["researcher", "writer"]},
        {"id": "launch", "pattern": "pipeline", "goal": "launch plan", "agents": ["writer", "editor"]}]})},
    "planned-1": {"plan": json.dumps({"tasks": [
        {"id": "basics", "agent": "researcher", "prompt": "the basics", "depends_on": []},
        {"id": "glossary", "agent": "writer", "prompt": "a glossary", "depends_on": ["basics"]}]})},
    "reviewloop-1": {"plan.r1": '{"tasks": [{"id": "copy", "agent": "writer", "prompt": "write", "depends_on": []}]}',
                     "review.r1": '{"approved": true, "critique": ""}'},
}


async def test_patterns_doc_lines_start_every_pattern(dev_env, llm):
    starts = doc_lines("docs/patterns.md", "temporal workflow start")
    started_types = {re.search(r"--type (\S+)", line).group(1) for line in starts}
    from baton.patterns import all_patterns, find_pattern
    assert started_types == {p.workflow_type for p in all_patterns() if p.built_in}  # one line per pattern (content: the pipeline)
    for workflow_id, replies in PATTERN_SCRIPTS.items():
        for stage, reply in replies.items():
            llm.script_stage(stage, reply)

    async with real_worker(dev_env.client, llm, "baton"):
        for line in starts:
            await ok(line, dev_env)
        # The supervisor asks its question; the doc's feedback line answers it.
        await until_state(dev_env, "supervisor-1", lambda s: s.state == "awaiting_review")
        await ok(doc_lines("docs/patterns.md", "temporal workflow update")[0], dev_env)
        # The content pipeline waits at every stage after classify: a person approves each.
        while (status := await until_state(dev_env, "content-1", lambda s: s.state in ("awaiting_review", "completed"))).state != "completed":
            await baton.approve(dev_env.client, "content-1")
            await until_state(dev_env, "content-1", lambda s, stage=status.awaiting_review: s.awaiting_review != stage)
        for line in starts:
            result = await asyncio.wait_for(baton.wait_result(dev_env.client, workflow_id_of(line)), 60)
            assert result.state == "completed", line
            # Started by the temporal CLI: every pattern indexed itself; the line gave the summary.
            described = await dev_env.client.get_workflow_handle(workflow_id_of(line)).describe()
            pattern = find_pattern(re.search(r"--type (\S+)", line).group(1)).name
            assert described.typed_search_attributes.get(search.PATTERN) == pattern, line
            assert described.typed_search_attributes.get(search.STATE) == "completed", line
            assert await described.static_summary() == re.search(r'--static-summary "([^"]+)"', line).group(1)
        supervisor = await baton.result(dev_env.client, "supervisor-1")
    assert supervisor.questions == [{"question": "Who is it for?", "answer": "Aim it at sailors"}]
    # The content pipeline's stage files went to the suite's temporary folder, not into the checkout.
    assert list((TEST_ARTIFACTS / "content-1").glob("*.md")) and not (REPO_ROOT / "data" / "artifacts" / "content-1").exists()


async def test_list_shows_ones_runs_with_pattern_state_and_spend(dev_env, llm):
    waiting = f"list-wait-{uuid.uuid4().hex[:6]}"
    done = f"list-done-{uuid.uuid4().hex[:6]}"
    review = '{"goal": "Explain tides", "stages": [{"name": "draft", "agent": "writer", "review": true}]}'
    fan_out = '{"goal": "Seas", "tasks": [{"id": "a", "agent": "researcher", "prompt": "Atlantic"}]}'
    async with real_worker(dev_env.client, llm, "baton"):
        await ok(f"python starter.py start --id {waiting} --input '{review}'", dev_env)
        await ok(f"python starter.py start --id {done} --type fan-out --input '{fan_out}'", dev_env)
        await until_state(dev_env, waiting, lambda s: s.state == "awaiting_review")
        await asyncio.wait_for(baton.wait_result(dev_env.client, done), 30)
        async with asyncio.timeout(10):  # visibility lags a moment behind the runs
            while done not in (everything := await ok("python starter.py list --limit 200", dev_env)):
                await asyncio.sleep(0.2)
        row = " ".join(next(line for line in everything.splitlines() if waiting in line).split())
        assert re.fullmatch(rf"{waiting} pipeline awaiting_review \d+s \d+ \$\d\.\d{{4}}", row), row
        assert re.search(rf"{done} +fan-out +completed", everything)
        active = await ok("python starter.py list --active --limit 200", dev_env)
        assert waiting in active and done not in active
        pipelines = await ok("python starter.py list --pattern pipeline --limit 200", dev_env)
        assert waiting in pipelines and done not in pipelines
        await baton.approve(dev_env.client, waiting)
    code, out = await sh("python starter.py list --pattern fan-in", dev_env)
    assert code == 2 and "unknown pattern 'fan-in'" in out


def test_agents_lists_the_team_and_previews_what_an_agent_is_sent(capsys):
    assert starter.main(["agents"]) == 0
    team = capsys.readouterr().out
    assert "agents in" in team and re.search(r"critic +gpt-4o-mini +– +\d+ +Critique", team)
    assert starter.main(["agents", "writer"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "writer"
    assert starter.main(["agents", "critic", "--preview", "--goal", "Explain tides"]) == 0
    system, user = json.loads(capsys.readouterr().out)
    assert system["role"] == "system" and "matching this JSON schema" in system["content"]
    assert user["content"] == "Goal:\nExplain tides\n\nYour stage: critic"
    assert starter.main(["agents", "nobody"]) == 2
    assert "unknown agent 'nobody'" in capsys.readouterr().out
