"""Time travel on the dev server (docs/time-travel.md): forks begin at a source
run's snapshot and make exactly the model calls of the steps after it (counted
at the scripted model server), edits and skips inside a run, a person's choice
of agent or model; the real worker, the real ``openai`` client."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError

from baton import client as baton
from baton.client import BatonError
from baton.content import content_pipeline
from baton.contracts import FanOutInput, FlowInput, PipelineInput, PlannedInput, StageSpec, TaskSpec
from baton.flows.builder import Flow, agent, code
from tests.conftest import real_worker
from tests.flow_scenarios import PLAN, SCRIPTS, example, script
from tests.llm_server import Reply, ScriptedLLM
from tests.test_cli import doc_lines, ok, sh, until_state
from tests.test_versioning import marker_of

STAGES = ["gather", "draft", "polish", "sum"]


def four_stages(**extra) -> PipelineInput:
    agents = ["researcher", "writer", "editor", "summarizer"]
    return PipelineInput(goal="Explain tides", stages=[StageSpec(name=n, agent=a) for n, a in zip(STAGES, agents)],
                         **extra)


def calls_since(llm: ScriptedLLM, mark: int) -> list[str]:
    """The stages the model was asked for since request number ``mark``."""
    return [r.stage for r in llm.requests[mark:]]


async def finished(client: Client, workflow_id: str):
    return await baton.wait_result(client, workflow_id)


async def source_run(client: Client, queue: str, inp=None) -> str:
    handle = await baton.start(client, inp or four_stages(), workflow_id=f"source-{uuid.uuid4().hex[:8]}", queue=queue)
    await finished(client, handle.id)
    return handle.id


async def test_a_fork_at_every_snapshot_calls_only_the_steps_after_it(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue)
        source_result = await baton.result(client, source)
        points = await baton.snapshots(client, source)
        assert [p.label for p in points] == [f"{when} {s}" for s in STAGES for when in ("before", "after")]
        for point in points:
            index = STAGES.index(point.step) + (1 if point.label.startswith("after") else 0)
            mark = len(llm.requests)
            fork = await baton.fork(client, source, point.seq, queue=task_queue)
            result = await finished(client, fork.id)
            assert calls_since(llm, mark) == STAGES[index:], point.label
            for stage in STAGES[:index]:  # inherited as they were
                assert result.outputs[stage] == source_result.outputs[stage]
            status = await baton.status(client, fork.id)
            assert status.fork.source == source and status.fork.at == point.seq
            assert status.fork.inherited == STAGES[:index]
            assert [s.origin for s in status.stages] == ["inherited"] * index + [None] * (4 - index)
        # The source is untouched: still its own 8 checkpoints and outputs.
        assert len(await baton.snapshots(client, source)) == 8
        assert (await baton.result(client, source)).outputs == source_result.outputs


async def test_a_fork_takes_an_edited_output_another_model_and_another_agent(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue)
        mark = len(llm.requests)
        fork = await baton.fork(client, source, "after draft", set={"draft": "EDITED DRAFT by a person"},
                                models={"polish": "backup-model"}, agents={"sum": "critic"}, queue=task_queue)
        llm.script_stage("sum", '{"verdict": "approve", "score": 9, "issues": []}')
        result = await finished(client, fork.id)
        status = await baton.status(client, fork.id)
    polish, summary = llm.requests[mark:]
    assert "EDITED DRAFT by a person" in polish.prompt  # the edit reached the next stage
    assert polish.body["model"] == "backup-model"
    assert "Critique the draft." in summary.prompt  # the critic's instructions, not the summarizer's
    assert result.outputs["draft"] == "EDITED DRAFT by a person"
    assert status.fork.set == ["draft"] and status.fork.inherited == ["gather"]
    rows = {s.name: s for s in status.stages}
    assert rows["draft"].origin == "set" and rows["gather"].origin == "inherited"
    assert rows["polish"].override == "model backup-model" and rows["sum"].agent == "critic"
    trace = await baton.trace(client, fork.id)
    assert [c.step for c in trace.calls] == ["polish", "sum"]
    assert trace.fork is not None and trace.fork.inherited == ["gather"] and trace.fork.set == ["draft"]


async def test_a_fork_of_a_failed_run_begins_before_the_failure(dev_env, llm, task_queue):
    client = dev_env.client
    llm.script_stage("polish", Reply(status=400, body='{"error": {"message": "bad request"}}'))
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, four_stages(), workflow_id=f"failing-{uuid.uuid4().hex[:8]}", queue=task_queue)
        with pytest.raises(BatonError, match="polish"):
            await finished(client, handle.id)
        mark = len(llm.requests)
        fork = await baton.fork(client, handle.id, "before polish", queue=task_queue)
        result = await finished(client, fork.id)
    assert calls_since(llm, mark) == ["polish", "sum"]
    assert set(result.outputs) == set(STAGES)


async def test_a_fork_of_a_fork_inherits_both_and_budgets_count_only_its_own(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue)
        first = await baton.fork(client, source, "after gather", set={"draft": "a draft a person wrote"},
                                 queue=task_queue)
        await finished(client, first.id)
        first_calls = {c.step: c.usage for c in (await baton.trace(client, first.id)).calls}
        one_call = (await baton.trace(client, source)).calls[0].usage.total_tokens
        mark = len(llm.requests)
        # A budget smaller than what came before the fork point: only what the fork spends counts.
        inp = four_stages(max_tokens_total=one_call + 1)
        second = await baton.fork(client, first.id, "after polish", inp=inp, queue=task_queue)
        result = await finished(client, second.id)
        status = await baton.status(client, second.id)
        source_trace = await baton.trace(client, source)
    assert calls_since(llm, mark) == ["sum"]
    assert result.outputs["draft"] == "a draft a person wrote"  # set in the first fork, inherited by the second
    assert status.fork.source == first.id and status.fork.inherited == ["gather", "draft", "polish"]
    assert list(first_calls) == ["polish", "sum"]
    # What the outputs it inherited cost: gather in the source, polish in the first fork.
    assert status.fork.inherited_usage == source_trace.calls[0].usage + first_calls["polish"]
    assert status.usage.total_tokens == result.usage.total_tokens < one_call + 1 + 200  # the one call it made
    assert status.fork.inherited_usage.cost_usd > 0 and status.usage.cost_usd > 0


async def test_forks_that_cannot_begin_say_why(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue)
        with pytest.raises(BatonError, match="no snapshot 99; the run has 8"):
            await baton.fork(client, source, 99, queue=task_queue)
        with pytest.raises(BatonError, match="no snapshot labelled 'before nothing'"):
            await baton.fork(client, source, "before nothing", queue=task_queue)
        with pytest.raises(BatonError, match="no run with id 'nope'"):
            await baton.fork(client, "nope", 1, queue=task_queue)
        fan = await baton.start(client, FanOutInput(goal="g", tasks=[TaskSpec(id="a", agent="researcher", prompt="p")],
                                                    synthesizer="writer"), queue=task_queue)
        await finished(client, fan.id)
        with pytest.raises(BatonError, match="a fan-out run cannot be forked"):
            await baton.fork(client, fan.id, 1, queue=task_queue)
        # Checked by the run itself too (a client in another language sends the fork section as is).
        bad = await baton.fork(client, source, 2, set={"nowhere": "x"}, queue=task_queue)
        with pytest.raises(BatonError, match="fork: no stage 'nowhere' in this run"):
            await finished(client, bad.id)
        bad = await baton.fork(client, source, 2, models={"draft": "no-such-model"}, queue=task_queue)
        with pytest.raises(BatonError, match="no agent of the agents file uses model 'no-such-model'"):
            await finished(client, bad.id)
        raw = four_stages().model_dump(mode="json") | {"fork": {"source": fan.id, "at": 1}}
        handle = await client.start_workflow("PipelineWorkflow", raw, id=f"raw-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert "is a FanOutWorkflow run; a PipelineWorkflow forks only a PipelineWorkflow run" in str(failed.value.cause)
    assert failed.value.cause.type == "InvalidInput"


def tail_after(trace, point) -> list[str]:
    """The stages the source asked the model for after a checkpoint: what a fork there asks again."""
    return sorted(c.step for c in trace.calls if c.scheduled_at >= point.at)


async def test_a_fork_of_a_flow_with_a_loop_begins_where_the_loop_was(dev_env, llm, task_queue):
    client = dev_env.client
    script(llm, "review_loop")
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue, example("review_loop"))
        trace = await baton.trace(client, source)
        points = await baton.snapshots(client, source)
        labelled = lambda label: [p for p in points if p.label == label]  # noqa: E731
        retry, approved = SCRIPTS["review_loop"]["review"]
        forks = [(labelled("before plan")[1], [approved]),  # the loop's second pass
                 (labelled("after review")[0], [approved]),  # the reviewer's "retry" decided: back to plan
                 (labelled("after work")[0], [retry, approved])]  # the first review runs again
        for point, reviews in forks:
            llm.script_stage("plan", PLAN)
            llm.script_stage("review", *reviews)
            mark = len(llm.requests)
            fork = await baton.fork(client, source, point.seq, queue=task_queue)
            result = await finished(client, fork.id)
            assert sorted(calls_since(llm, mark)) == tail_after(trace, point), point.label
            assert {n.id: n.visits for n in result.nodes} == {"plan": 2, "work": 2, "review": 2, "finalize": 1}
            assert result.outputs["finalize"] and [e.label for e in result.path if e.source == "review"] == [
                "retry", "approved"]  # the inherited edges, then its own


async def test_a_fork_of_a_planned_dag_keeps_the_plan_and_the_tasks_done(dev_env, llm, task_queue):
    client = dev_env.client
    plan = json.dumps({"tasks": [{"id": "a", "agent": "researcher", "prompt": "facts", "depends_on": []},
                                 {"id": "b", "agent": "writer", "prompt": "story", "depends_on": ["a"]},
                                 {"id": "c", "agent": "writer", "prompt": "glossary", "depends_on": ["a"]}]})
    llm.script_stage("plan", plan)
    inp = PlannedInput(goal="Explain tides", agents=["researcher", "writer"], allow_new_agents=False)
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue, inp)
        mark = len(llm.requests)
        fork = await baton.fork(client, source, "after a", queue=task_queue)
        result = await finished(client, fork.id)
        with pytest.raises(BatonError, match="fork: no task 'd' in this run"):  # the plan's tasks are known
            await finished(client, (await baton.fork(client, source, "after a", set={"d": "x"}, queue=task_queue)).id)
    assert sorted(calls_since(llm, mark)) == ["b", "c"]
    assert [t.id for t in result.plan] == ["a", "b", "c"] and set(result.outputs) == {"a", "b", "c"}


async def test_a_fork_of_the_content_pipeline_skips_gates_already_passed_and_reads_whole_artifacts(
        dev_env, llm, task_queue):
    client = dev_env.client
    long_draft = "Tides-rise-and-fall-twice-a-day. " * 200  # past the inline preview (200 words: within max_tokens)
    llm.script_stage("classify", '{"label": "tutorial", "confidence": 0.9, "reason": "how-to"}')
    llm.script_stage("draft", long_draft)
    llm.script_stage("critique", '{"verdict": "approve", "score": 8, "issues": []}')
    inp = content_pipeline("Tides", automatic={"focus_questions", "research", "critique", "humanize", "image_prompts"})
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, workflow_id=f"content-{uuid.uuid4().hex[:6]}", queue=task_queue)
        for gate in ("draft", "publish_metadata"):
            await until_state(dev_env, handle.id, lambda s, g=gate: s.awaiting_review == g)
            await baton.approve(client, handle.id, gate)
        await finished(client, handle.id)
        llm.script_stage("critique", '{"verdict": "approve", "score": 9, "issues": []}')
        mark = len(llm.requests)
        fork = await baton.fork(client, handle.id, "after draft", queue=task_queue)
        await until_state(dev_env, fork.id, lambda s: s.awaiting_review == "publish_metadata")
        await baton.approve(client, fork.id, "publish_metadata")
        await finished(client, fork.id)
    asked = llm.requests[mark:]
    assert [r.stage for r in asked] == ["critique", "humanize", "image_prompts", "publish_metadata"]
    assert long_draft.strip() in asked[0].prompt  # the whole draft, read from the source's artifact


async def test_edit_skip_and_a_persons_choice_of_agent_and_model_inside_a_run(dev_env, llm, task_queue):
    client = dev_env.client
    stages = [StageSpec(name="gather", agent="researcher"), StageSpec(name="draft", agent="writer", review=True),
              StageSpec(name="polish", agent="editor"), StageSpec(name="sum", agent="summarizer"),
              StageSpec(name="extra", agent="summarizer")]
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, PipelineInput(goal="Explain tides", stages=stages), queue=task_queue)
        wid = handle.id
        await until_state(dev_env, wid, lambda s: s.awaiting_review == "draft")
        before = await baton.status(client, wid)
        refusals = [
            (baton.edit_output(client, wid, "polish", "x"), "stage 'polish' has not finished (pending)"),
            (baton.edit_output(client, wid, "nope", "x"), "unknown stage 'nope'"),
            (baton.edit_output(client, wid, "gather", "  "), "the new output must not be empty"),
            (baton.skip(client, wid, "gather", "no need"), "stage 'gather' is done; only one that has not started"),
            (baton.set_agent(client, wid, "polish", "nobody"), "nobody"),
            (baton.set_model(client, wid, "polish", "gpt-nothing"), "no agent of the agents file uses model 'gpt-nothing'"),
            (baton.set_model(client, wid, "polish", "two words"), "invalid request"),
        ]
        for call, message in refusals:
            with pytest.raises(BatonError, match=re.escape(message)):
                await call
        after = await baton.status(client, wid)
        assert after.stages == before.stages and after.usage == before.usage  # untouched
        await baton.edit_output(client, wid, "gather", "GATHERED BY HAND", note="the source was wrong")
        await baton.edit_output(client, wid, "draft", "DRAFT EDITED AT ITS GATE")  # waiting for review: editable
        await baton.skip(client, wid, "sum", "not needed", output="A SUMMARY A PERSON WROTE")
        await baton.skip(client, wid, "extra", "not needed")
        await baton.set_model(client, wid, "polish", "backup-model")
        await baton.set_agent(client, wid, "polish", "writer")
        mark = len(llm.requests)
        await baton.approve(client, wid, "draft")
        result = await finished(client, wid)
        status = await baton.status(client, wid)
        trace = await baton.trace(client, wid)
        labels = [p.label for p in await baton.snapshots(client, wid)]
    [polish] = llm.requests[mark:]  # sum took the person's output, extra was skipped
    assert polish.stage == "polish" and polish.body["model"] == "backup-model" and "Write a draft." in polish.prompt
    assert "GATHERED BY HAND" in polish.prompt and "DRAFT EDITED AT ITS GATE" in polish.prompt
    assert result.outputs["sum"] == "A SUMMARY A PERSON WROTE" and "extra" not in result.outputs
    rows = {s.name: s for s in status.stages}
    assert rows["gather"].origin == "set" and rows["sum"].origin == "set"
    assert rows["extra"].state == "skipped" and rows["extra"].error == "skipped by a person: not needed"
    assert rows["polish"].agent == "writer" and rows["polish"].override == "agent writer, model backup-model"
    edit = next(a for a in trace.actions if a.name == "edit_output")
    assert edit.args[0]["note"] == "the source was wrong" and edit.target == "gather"
    assert "edited gather" in labels


async def test_an_edit_that_reruns_what_follows_keeps_the_edit(dev_env, llm, task_queue):
    client = dev_env.client
    stages = [StageSpec(name="gather", agent="researcher"), StageSpec(name="draft", agent="writer"),
              StageSpec(name="polish", agent="editor", review=True)]
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, PipelineInput(goal="Explain tides", stages=stages), queue=task_queue)
        await until_state(dev_env, handle.id, lambda s: s.awaiting_review == "polish")
        mark = len(llm.requests)
        ack = await baton.edit_output(client, handle.id, "gather", "NEW FACTS", rerun=True)
        assert ack.rerun_from == "gather"
        await until_state(dev_env, handle.id, lambda s: s.awaiting_review == "polish" and s.stages[2].runs == 2)
        await baton.approve(client, handle.id, "polish")
        result = await finished(client, handle.id)
    assert calls_since(llm, mark) == ["draft", "polish"]  # not gather: it keeps the edit
    assert "NEW FACTS" in llm.requests[mark].prompt and result.outputs["gather"] == "NEW FACTS"


async def test_the_docs_and_starter_lines_fork_edit_diff_and_reseed(dev_env, llm, tmp_path):
    client = dev_env.client
    [start_line] = doc_lines("docs/time-travel.md", "temporal workflow start")
    [edit_line] = doc_lines("docs/time-travel.md", "temporal workflow update")
    three = [StageSpec(name="gather", agent="researcher"), StageSpec(name="draft", agent="writer"),
             StageSpec(name="polish", agent="editor")]
    async with real_worker(client, llm, "baton"):
        await baton.start(client, PipelineInput(goal="Explain tides", stages=three), workflow_id="coast-1", queue="baton")
        await finished(client, "coast-1")
        mark = len(llm.requests)
        await ok(start_line, dev_env)  # a fork from the temporal CLI: the fork section in the input
        await until_state(dev_env, "coast-2", lambda s: s.awaiting_review == "polish")
        await ok(edit_line, dev_env)
        await baton.approve(client, "coast-2", "polish")
        forked = await finished(client, "coast-2")
        asked = llm.requests[mark:]
        assert [r.stage for r in asked] == ["draft", "polish"] and asked[1].body["model"] == "backup-model"
        assert forked.outputs["gather"] == "Tides are caused by the moon and the sun."
        assert (await baton.status(client, "coast-2")).fork.source == "coast-1"

        draft = tmp_path / "draft.md"
        draft.write_text("A draft from a file.")
        out = await ok(f'python starter.py fork coast-1 --at "after draft" --set draft=@{draft} --id coast-3', dev_env)
        assert json.loads(out)["fork_of"] == "coast-1"
        third = await finished(client, "coast-3")
        assert third.outputs["draft"] == "A draft from a file."
        listed = await ok("temporal workflow list --query \"BatonForkOf = 'coast-1'\"", dev_env)
        assert "coast-3" in listed  # set by the client that started it
        assert "coast-2" in listed  # set by the run itself: the temporal CLI started it without
        history = await client.get_workflow_handle("coast-2").fetch_history()
        markers = [marker_of(e) for e in history.events if e.HasField("marker_recorded_event_attributes")]
        assert markers.index("patch baton-index-fork-of") < markers.index("core_local_activity"), markers  # test_versioning says why
        described = await client.get_workflow_handle("coast-3").describe()
        assert await described.static_summary() == "pipeline (fork of coast-1 @ after draft): Explain tides"
        assert described.memo  # the fork's memo names its source too
        assert (await described.memo_value("fork"))["source"] == "coast-1"
        shown = await ok("python starter.py diff coast-1 coast-3", dev_env)
        rows = {line.split()[0]: line for line in shown.splitlines() if line.split()[:1] in (["gather"], ["draft"], ["polish"])}
        assert "same" in rows["gather"] and "inherited" in rows["gather"]
        assert "differs" in rows["draft"] and rows["draft"].rstrip().endswith("set")
        assert "+A draft from a file." in shown  # the unified diff of what differs

        seeds = tmp_path / "coast-old"
        seeds.mkdir()
        (seeds / "gather-v1.md").write_text("old facts")
        (seeds / "gather-v2.md").write_text("the facts after feedback")
        (seeds / "draft-v1.md").write_text("the old draft")
        mark = len(llm.requests)
        pipeline = PipelineInput(goal="Explain tides", stages=three).model_dump_json()
        await ok(f"python starter.py reseed {seeds} --input '{pipeline}' --id coast-4", dev_env)
        seeded = await finished(client, "coast-4")
        assert calls_since(llm, mark) == ["polish"] and seeded.outputs["gather"] == "the facts after feedback"
        assert "the old draft" in llm.requests[mark].prompt
        for line, message in [("python starter.py fork coast-1 --at 99", "no snapshot 99; the run has 6"),
                              ("python starter.py fork coast-1 --at 2 --set draft", "--set takes STEP=VALUE"),
                              (f"python starter.py reseed {seeds} --content Tides", "no step gather in this run"),
                              ("python starter.py edit-output coast-3 draft x", "has finished"),
                              ("python starter.py fork nope --at 1", "no run with id 'nope'")]:
            code, said = await sh(line, dev_env)
            assert code == 2 and message in " ".join(said.split()), (line, said)


async def test_in_a_flow_a_skipped_node_fires_no_edge_and_a_given_output_does(dev_env, llm, task_queue):
    client = dev_env.client

    def flow() -> FlowInput:
        first = agent("first", "researcher", review=True)
        first >> agent("middle", "writer") >> agent("last", "editor")
        first >> code("loud", "shout", args={"text": "=goal"})  # a code node: no agent to choose
        return Flow("Explain tides", start=first).input()

    async with real_worker(client, llm, task_queue):
        plain = await baton.start(client, flow(), queue=task_queue)
        given = await baton.start(client, flow(), queue=task_queue)
        for handle in (plain, given):
            await until_state(dev_env, handle.id, lambda s: s.awaiting_review == "first")
        await baton.edit_output(client, given.id, "first", "FIRST, EDITED")
        with pytest.raises(BatonError, match="node 'loud' runs no agent; set_model applies to steps that do"):
            await baton.set_model(client, given.id, "loud", "backup-model")
        await baton.skip(client, plain.id, "middle", "not needed")
        await baton.skip(client, given.id, "middle", "written by hand", output="MIDDLE BY HAND")
        mark = len(llm.requests)
        for handle in (plain, given):
            await baton.approve(client, handle.id, "first")
        skipped, filled = await finished(client, plain.id), await finished(client, given.id)
    states = lambda result: {n.id: n.state for n in result.nodes}  # noqa: E731
    assert states(skipped) == {"first": "done", "middle": "skipped", "last": "skipped", "loud": "done"}  # its branch
    assert states(filled) == {"first": "done", "middle": "done", "last": "done", "loud": "done"}
    [last] = llm.requests[mark:]  # only the filled-in run's last node asked the model
    assert last.stage == "last" and "MIDDLE BY HAND" in last.prompt
    assert filled.outputs["first"] == "FIRST, EDITED"


async def test_in_a_planned_dag_a_skipped_task_skips_the_tasks_that_need_it(dev_env, llm, task_queue):
    client = dev_env.client
    plan = json.dumps({"tasks": [{"id": "a", "agent": "researcher", "prompt": "facts", "depends_on": []},
                                 {"id": "b", "agent": "writer", "prompt": "story", "depends_on": ["a"]},
                                 {"id": "c", "agent": "writer", "prompt": "glossary", "depends_on": ["a"]},
                                 {"id": "d", "agent": "editor", "prompt": "edit", "depends_on": ["b"]}]})
    llm.script_stage("plan", plan)
    llm.script_stage("a", Reply(text="facts", delay=1.0))  # long enough for a person to skip b
    inp = PlannedInput(goal="Explain tides", agents=["researcher", "writer", "editor"], allow_new_agents=False)
    async with real_worker(client, llm, task_queue):
        handle = await baton.start(client, inp, queue=task_queue)
        await until_state(dev_env, handle.id, lambda s: "a" in s.running)
        await baton.skip(client, handle.id, "b", "not needed")
        result = await finished(client, handle.id)
    assert sorted(r.stage for r in llm.requests) == ["a", "c", "plan"]
    assert {t.id: t.state for t in result.plan} == {"a": "done", "b": "skipped", "c": "done", "d": "skipped"}


async def test_a_fork_with_another_input_inherits_only_the_steps_it_has(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        source = await source_run(client, task_queue)
        by_number = await baton.fork(client, source, "3", queue=task_queue)  # a seq typed as text
        await finished(client, by_number.id)
        shorter = four_stages()
        shorter.stages = [s for s in shorter.stages if s.name != "polish"]
        mark = len(llm.requests)
        fork = await baton.fork(client, source, "after polish", inp=shorter, queue=task_queue)
        await finished(client, fork.id)
        numbered = await baton.status(client, by_number.id)
        status = await baton.status(client, fork.id)
    assert numbered.fork.at == 3 and numbered.fork.label == "before draft"
    assert status.fork.inherited == ["gather", "draft"]  # not polish: this run has none
    assert calls_since(llm, mark) == ["sum"]
