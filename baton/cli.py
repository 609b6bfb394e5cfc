"""Baton's command line (``baton`` when installed, ``python starter.py`` in a
checkout): run the demo end to end, or start, steer and inspect runs.

    python starter.py run                       # everything, on the embedded default, then a demo run
    python starter.py up                        # the same services (server, model, worker) without the demo
    python starter.py start [--type PATTERN] --input '{"goal": "...", ...}'|@FILE [--watch]
    python starter.py content "TOPIC" [--auto STAGE,...] [--watch]   # the content pipeline
    python starter.py status|watch|result|pause|resume|cancel ID
    python starter.py approve ID [--stage S] [--run N]
    python starter.py feedback ID "text" [--stage S]
    python starter.py rewind ID STAGE
    python starter.py answer ID "text" [--node N] [--label L]   # a flow's question to a person
    python starter.py approve-tool ID [--call tool-N] [--by NAME]        # a needs_approval tool call
    python starter.py deny-tool ID "reason" [--call tool-N] [--by NAME]
    python starter.py raise-budget ID [--tokens N] [--cost USD]
    python starter.py trace ID|--file HISTORY.json [--format json|mermaid|timeline]
    python starter.py snapshots list ID ; python starter.py snapshots diff ID A B
    python starter.py fork ID --at SNAPSHOT [--set STEP=@FILE] [--agent STEP=A] [--model STEP=M] [--input ...]
    python starter.py edit-output ID STEP TEXT|@FILE [--note N] [--rerun] ; skip ID STEP REASON [--output ...]
    python starter.py set-agent|set-model ID STEP NAME ; diff RUN_A RUN_B ; reseed FOLDER ...  # docs/time-travel.md
    python starter.py replay [--query Q] [--limit N] [--file HISTORY.json ...]   # before a deploy
    python starter.py list [--active] [--pattern P]      # your runs: id, pattern, state, age, tokens, cost
    python starter.py agents [NAME] [--preview]           # the team; one agent; what it would be sent
    python starter.py schema [PATTERN]          # JSON Schemas of a pattern's contracts, for other languages
    python starter.py flow check|json|draw FILE # a flow file before it runs (docs/flows.md)
    python starter.py down                      # stop the worker, the local model and the dev server

It talks to the Temporal server in TEMPORAL_ADDRESS (default localhost:7233).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowHistory

from baton import client as baton
from baton import embedded, telemetry
from baton.content import content_pipeline
from baton.context_store import context_store
from baton.flows.files import FlowFileError, read_document
from baton.contracts import AgentRequest, PipelineInput, StageSpec, explain
from baton.listing import RunRow, age, list_runs
from baton.logs import configure_logging
from baton.patterns import PatternsError, all_patterns, find_pattern
from baton.progress import watch
from baton.temporal import connect, data_converter, web_ui_url
from baton.trace import build_trace, history_from_file
from baton.trace_render import FORMATS, render

console = Console()

DEMO_GOAL = "Write a short, friendly explainer on why the sky is blue."
DEMO_STAGES = [
    StageSpec(name="research", agent="researcher"),
    StageSpec(name="draft", agent="writer"),
    StageSpec(name="edit", agent="editor"),
]


def say(text: str) -> None:
    console.print(f"[bold cyan]baton[/] {text}", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- run (the demo)


async def run_demo(goal: str) -> int:
    bring_up()
    temporal = await connect()
    handle = await baton.start_pipeline(temporal, PipelineInput(goal=goal, stages=DEMO_STAGES))
    say(f"Started {handle.id}: {' → '.join(s.name for s in DEMO_STAGES)}")
    say(f"Web UI: {web_ui_url(handle.id, handle.result_run_id)}")
    try:
        final = await watch(temporal, handle.id, console)
    except (KeyboardInterrupt, asyncio.CancelledError):
        say(f"Interrupted watching. The run {handle.id} goes on in the background worker: "
            f"`python starter.py watch {handle.id}`.")
        raise
    if final.state != "completed":
        console.print(f"[red]Run {handle.id} ended {final.state}: {final.error or ''}[/]")
        return 1
    result = await baton.wait_result(temporal, handle.id)
    for stage, output in result.outputs.items():
        console.rule(f"[bold]{stage}")
        console.print(output, markup=False, highlight=False)
    console.rule()
    say(f"Done in {final.elapsed_seconds:.1f}s · {result.usage.total_tokens} tokens "
        f"({result.usage.prompt_tokens} prompt + {result.usage.completion_tokens} completion) · ${result.usage.cost_usd:.4f}")
    say(f"Web UI of this run: {web_ui_url(handle.id, handle.result_run_id)}")
    say_what_runs()
    return 0


def bring_up() -> None:
    """The dev server, the local model (without an API key) and a worker, in the background."""
    embedded.ensure_dev_server(say)
    if not embedded.model_configured():
        embedded.ensure_local_model(say)
    embedded.ensure_worker(say)


def say_what_runs() -> None:
    running = embedded.describe_services()
    if running:
        say("Still running in the background, for the next commands (python starter.py start|status|watch …):\n  "
            + "\n  ".join(running) + "\nStop them all: python starter.py down")


# ---------------------------------------------------------------- steering commands


def read_input(pattern: str, raw: str):
    if raw.startswith("@"):
        try:
            return baton.parse_input(pattern, read_document(Path(raw[1:])))
        except FlowFileError as err:
            raise baton.BatonError(str(err)) from None
    elif not raw.lstrip().startswith(("{", "[")):
        # Not JSON at all: most likely a file name without its @.
        hint = f"; to read the file {raw}, write --input @{raw}" if Path(raw).exists() else \
            " (--input takes JSON, or @FILE to read a JSON or TOML file: --input @examples/pipeline.json)"
        raise baton.BatonError(f"--input is not JSON{hint}")
    return baton.parse_input(pattern, raw)


def text_arg(raw: str) -> str:
    """A text argument as given, or a file's text for ``@FILE``."""
    if not raw.startswith("@"):
        return raw
    try:
        return Path(raw[1:]).read_text(encoding="utf-8")
    except OSError as err:
        raise baton.BatonError(f"cannot read {raw[1:]}: {err.strerror}") from None


def step_pairs(given: list[str] | None, option: str, read_files: bool = False) -> dict[str, str]:
    """``--set STEP=VALUE`` options as a mapping (VALUE may be @FILE where ``read_files``)."""
    pairs: dict[str, str] = {}
    for item in given or []:
        step, sep, value = item.partition("=")
        if not sep or not step.strip():
            raise baton.BatonError(f"{option} takes STEP=VALUE, not {item!r}")
        pairs[step.strip()] = text_arg(value) if read_files else value.strip()
    return pairs


def snapshot_arg(raw: str) -> int | str:
    """``--at 5`` (a seq) or ``--at 'before draft'`` (a label)."""
    return int(raw) if raw.strip().isdigit() else raw


def seeded_input(args: argparse.Namespace):
    """``reseed``: the run's input (``--content`` or ``--type/--input``) with the folder's outputs to begin with."""
    from baton.contracts import ForkSpec
    from baton.reseed import outputs_in

    try:
        outputs = outputs_in(Path(args.folder))
    except ValueError as err:
        raise baton.BatonError(str(err)) from None
    if args.content is not None:
        inp = content_pipeline(args.content, {a.strip() for a in (args.auto or "").split(",") if a.strip()})
    elif args.input is not None:
        inp = read_input(args.type, args.input)
    else:
        raise baton.BatonError("say what to run: --content TOPIC, or --type PATTERN --input ...")
    steps = {s.name for s in getattr(inp, "stages", [])} or {n.id for n in getattr(inp, "nodes", [])}
    if steps and (unknown := sorted(set(outputs) - steps)):
        raise baton.BatonError(f"{args.folder}: no step {', '.join(unknown)} in this run; steps: {', '.join(sorted(steps))}")
    return inp.model_copy(update={"fork": ForkSpec(set=outputs)})


def print_json(value) -> None:
    print(value.model_dump_json(indent=2) if hasattr(value, "model_dump_json") else json.dumps(value, indent=2))


def content_input(args: argparse.Namespace):
    automatic = {name.strip() for name in (args.auto or "").split(",") if name.strip()}
    try:
        return content_pipeline(args.topic, automatic)
    except ValidationError as err:
        raise baton.BatonError(f"invalid content topic: {explain(err).replace('goal:', 'topic:')}") from None
    except ValueError as err:
        raise baton.BatonError(str(err)) from None


async def show_trace(args: argparse.Namespace) -> int:
    if args.file:
        converter = data_converter()
        trace = await build_trace(read_history(args.file, args.id or ""), converter, context_store(converter))
    elif args.id:
        trace = await baton.trace(await connect(), args.id, children=not args.no_children)
    else:
        raise baton.BatonError("name a run (trace ID) or a history file (trace --file HISTORY.json)")
    print(render(trace, args.format))
    return 0


def read_history(name: str, workflow_id: str = "") -> WorkflowHistory:
    path = Path(name)
    if not path.exists():
        raise baton.BatonError(f"history file not found: {path}")
    try:
        return history_from_file(path.read_text(encoding="utf-8"), workflow_id)
    except (ValueError, KeyError, IndexError) as err:
        raise baton.BatonError(f"{path} is not a workflow history (temporal workflow show --output json): {err}") from None


async def replay_runs(args: argparse.Namespace) -> int:
    from baton import replay

    if args.file:
        source = replay.from_files([read_history(name, Path(name).stem) for name in args.file])
    else:
        source = replay.from_server(await connect(), args.query, args.limit)
    outcomes = await replay.replay(source)
    for position, outcome in enumerate(outcomes):
        verdict = ("[green]ok[/]" if outcome.error is None else f"[red]NON-DETERMINISTIC[/] {outcome.error}" if outcome.replayed
                   else f"[red]NOT REPLAYED[/] {outcome.error}")
        # A history file holds no workflow id: name the file it came from.
        name = f"{args.file[position]} (run {outcome.run_id[:8]})" if args.file else f"{outcome.workflow_id} {outcome.run_id[:8]}"
        console.print(f"{name} {verdict}", highlight=False, soft_wrap=True)
    failed = sum(o.error is not None for o in outcomes)
    say(f"{len(outcomes)} run{'' if len(outcomes) == 1 else 's'} replayed against the current code, {failed} failed")
    return 1 if failed else 0


def flow_file(args: argparse.Namespace) -> int:
    """Check, print as JSON, or draw a flow file, before running it."""
    from baton.flows.drawing import draw

    inp = read_input("flow", f"@{args.file}")
    try:
        baton.check_flow(inp)
    except baton.BatonError as err:
        raise baton.BatonError(f"{args.file}: {err}") from None
    if args.action == "json":
        print(inp.model_dump_json(exclude_defaults=True, exclude={"progress"}))
    elif args.action == "draw":
        print(draw(inp))
    else:
        say(f"{args.file}: {len(inp.nodes)} nodes, {len(inp.edges)} edges: ready to run")
    return 0


async def steer(args: argparse.Namespace) -> int:
    if args.command == "trace":
        return await show_trace(args)
    if args.command == "replay":
        return await replay_runs(args)
    # Bad input is reported before anything connects.
    inp = (read_input(args.type, args.input) if args.command == "start" else content_input(args) if args.command == "content"
           else seeded_input(args) if args.command == "reseed" else None)
    temporal: Client = await connect()
    match args.command:
        case "fork":
            changed = read_input((await baton.pattern_of(temporal, args.id)).name, args.input) if args.input else None
            handle = await baton.fork(temporal, args.id, snapshot_arg(args.at), inp=changed, workflow_id=args.new_id,
                                      set=step_pairs(args.set, "--set", read_files=True),
                                      agents=step_pairs(args.agent, "--agent"), models=step_pairs(args.model, "--model"))
            print(json.dumps({"workflow_id": handle.id, "run_id": handle.result_run_id, "fork_of": args.id,
                              "web_ui": web_ui_url(handle.id, handle.result_run_id)}))
            if args.watch:
                final = await watch(temporal, handle.id, console)
                return 0 if final.state == "completed" else 1
        case "edit-output":
            print_json(await baton.edit_output(temporal, args.id, args.stage, text_arg(args.text), args.note, args.rerun))
        case "skip":
            output = text_arg(args.output) if args.output is not None else None
            print_json(await baton.skip(temporal, args.id, args.stage, args.reason, output))
        case "set-agent":
            print_json(await baton.set_agent(temporal, args.id, args.stage, args.name))
        case "set-model":
            print_json(await baton.set_model(temporal, args.id, args.stage, args.name))
        case "diff":
            print((await baton.diff(temporal, args.a, args.b)).text())
        case "start" | "content" | "reseed":
            handle = await baton.start(temporal, inp, workflow_id=args.id)
            print(json.dumps({"workflow_id": handle.id, "run_id": handle.result_run_id, "web_ui": web_ui_url(handle.id, handle.result_run_id)}))
            if args.watch:
                final = await watch(temporal, handle.id, console)
                return 0 if final.state == "completed" else 1
        case "list":
            show_runs(await list_runs(temporal, args.active, args.pattern, args.limit))
        case "status":
            print_json(await baton.status(temporal, args.id))
        case "watch":
            final = await watch(temporal, args.id, console)
            return 0 if final.state == "completed" else 1
        case "result":
            print_json(await (baton.wait_result if args.wait else baton.result)(temporal, args.id))
        case "pause":
            await baton.pause(temporal, args.id)
        case "resume":
            await baton.resume(temporal, args.id)
        case "approve":
            print_json(await baton.approve(temporal, args.id, args.stage, args.run))
        case "feedback":
            print_json(await baton.feedback(temporal, args.id, args.text, args.stage))
        case "answer":
            print_json(await baton.answer(temporal, args.id, args.text, args.node, args.label))
        case "rewind":
            print_json(await baton.rewind(temporal, args.id, args.stage))
        case "approve-tool":
            print_json(await baton.approve_tool(temporal, args.id, args.call, args.by))
        case "deny-tool":
            print_json(await baton.deny_tool(temporal, args.id, args.reason, args.call, args.by))
        case "raise-budget":
            print_json(await baton.raise_budget(temporal, args.id, args.tokens, args.cost))
        case "cancel":
            await baton.cancel(temporal, args.id)
        case "snapshots" if args.action == "list":
            for info in await baton.snapshots(temporal, args.id):
                print(f"{info.seq:>4}  {info.at:%H:%M:%S}  {info.label:<32} outputs: {', '.join(info.steps) or '–'}")
        case "snapshots":
            print((await baton.snapshots_diff(temporal, args.id, args.a, args.b)).text())
    return 0


def at_least_one(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line saying what is wrong (and where the help is), exit code 2."""

    def error(self, message: str):
        console.print(f"[red]error:[/] {self.prog}: {message} (see {self.prog} --help)", highlight=False, soft_wrap=True)
        raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="starter.py", description="Run and steer Baton agent teams on Temporal.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="start the embedded Temporal server (and a local model without an API key), a worker, and a demo pipeline")
    run.add_argument("--goal", default=DEMO_GOAL)
    start = sub.add_parser("start", help="start a run of any pattern (docs/patterns.md)")
    start.add_argument("--type", default="pipeline", metavar="PATTERN",
                       help=f"pattern name or workflow type: {', '.join(p.name for p in all_patterns())} (default: pipeline)")
    start.add_argument("--input", required=True, help="the pattern's input as JSON, or @FILE (JSON or TOML: "
                       "--input @examples/flows/review_loop.toml)")
    content = sub.add_parser("content", help="start the content pipeline on a topic (review at every stage after classify)")
    content.add_argument("topic")
    content.add_argument("--auto", help="comma-separated stages that run without review, e.g. research,draft")
    for command in (start, content):
        command.add_argument("--id", help="workflow id (default: generated)")
        command.add_argument("--watch", action="store_true", help="show progress until the run ends")
    for name, text in [("status", "the status query as JSON"), ("watch", "live progress until the run ends"),
                       ("pause", "no new agent call starts until resume"), ("resume", "continue a paused run"),
                       ("cancel", "cancel a run (partial outputs are kept in its memo)")]:
        sub.add_parser(name, help=text).add_argument("id")
    result = sub.add_parser("result", help="the outputs so far (--wait: the final result)")
    result.add_argument("id")
    result.add_argument("--wait", action="store_true")
    approve = sub.add_parser("approve", help="approve the stage awaiting review")
    approve.add_argument("id")
    approve.add_argument("--stage")
    approve.add_argument("--run", type=int, help="approve only this run of the stage (status: stages[].runs)")
    feedback = sub.add_parser("feedback", help="re-run a stage with feedback")
    feedback.add_argument("id")
    feedback.add_argument("text")
    feedback.add_argument("--stage")
    answer = sub.add_parser("answer", help="answer a flow's question to a person (a human node)")
    answer.add_argument("id")
    answer.add_argument("text")
    answer.add_argument("--node", help="the node asking (default: whichever is)")
    answer.add_argument("--label", help="which of the node's labelled edges to take")
    approve_tool = sub.add_parser("approve-tool", help="let a tool call waiting for a person run (status: tool_approvals)")
    deny_tool = sub.add_parser("deny-tool", help="refuse a waiting tool call; the agent's model is told the reason")
    deny_tool.add_argument("id")
    deny_tool.add_argument("reason")
    approve_tool.add_argument("id")
    for decide in (approve_tool, deny_tool):
        decide.add_argument("--call", help="the waiting call's id, tool-N (default: the only one waiting)")
        decide.add_argument("--by", help="who decides, shown in the trace")
    rewind = sub.add_parser("rewind", help="restore the checkpoint before a stage and run again from there")
    rewind.add_argument("id")
    rewind.add_argument("stage")
    budget = sub.add_parser("raise-budget", help="more tokens or dollars for a run waiting at its budget")
    budget.add_argument("id")
    budget.add_argument("--tokens", type=int, help="the new max_tokens_total")
    budget.add_argument("--cost", type=float, help="the new max_cost_usd")
    snapshots = sub.add_parser("snapshots", help="the checkpoints before and after each step: list them, or diff two")
    actions = snapshots.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every checkpoint, numbered").add_argument("id")
    diff = actions.add_parser("diff", help="what changed from checkpoint A to checkpoint B")
    diff.add_argument("id")
    diff.add_argument("a", type=int)
    diff.add_argument("b", type=int)
    fork = sub.add_parser("fork", help="a NEW run that begins at a run's snapshot: earlier outputs inherited, no call "
                                       "made again (docs/time-travel.md)")
    fork.add_argument("id", help="the run to fork (it is left as it is)")
    fork.add_argument("--at", required=True, help="the snapshot: its number (snapshots list ID) or label ('before draft')")
    fork.add_argument("--set", action="append", metavar="STEP=@FILE", help="a step's output instead (text or @FILE); repeat")
    fork.add_argument("--agent", action="append", metavar="STEP=AGENT", help="another agent for a step; repeat")
    fork.add_argument("--model", action="append", metavar="STEP=MODEL", help="another model for a step; repeat")
    fork.add_argument("--input", help="the new run's input (JSON or @FILE; default: the source's)")
    fork.add_argument("--id", dest="new_id", help="the new run's workflow id (default: generated)")
    fork.add_argument("--watch", action="store_true", help="show progress until the run ends")
    edit = sub.add_parser("edit-output", help="replace a finished step's output in a running run")
    edit.add_argument("id")
    edit.add_argument("stage")
    edit.add_argument("text", help="the new output, or @FILE")
    edit.add_argument("--note", help="why, shown in the trace")
    edit.add_argument("--rerun", action="store_true", help="also run what came after it again")
    skip = sub.add_parser("skip", help="a step that has not started does not run")
    skip.add_argument("id")
    skip.add_argument("stage")
    skip.add_argument("reason")
    skip.add_argument("--output", help="the output it takes instead (text or @FILE; default: none)")
    for name, what in (("set-agent", "agent"), ("set-model", "model")):
        chosen = sub.add_parser(name, help=f"another {what} (from the agents file) runs a step from its next run on")
        chosen.add_argument("id")
        chosen.add_argument("stage")
        chosen.add_argument("name", metavar=what.upper())
    compare = sub.add_parser("diff", help="two runs step by step: which outputs differ, each step's calls and cost")
    compare.add_argument("a", metavar="RUN_A")
    compare.add_argument("b", metavar="RUN_B")
    reseed = sub.add_parser("reseed", help="a new run that begins with the stage files of a folder (an old run's "
                                           "artifacts), when its history is gone")
    reseed.add_argument("folder", help="e.g. ~/.baton/artifacts/content-123 (STAGE-vN.md files)")
    reseed.add_argument("--content", metavar="TOPIC", help="run the content pipeline on this topic")
    reseed.add_argument("--auto", help="with --content: stages that run without review")
    reseed.add_argument("--type", default="pipeline", metavar="PATTERN")
    reseed.add_argument("--input", help="the run's input (JSON or @FILE) when not --content")
    reseed.add_argument("--id", help="workflow id (default: generated)")
    reseed.add_argument("--watch", action="store_true", help="show progress until the run ends")
    trace = sub.add_parser("trace", help="what happened in a run, from its history: agent calls, people's actions, edges")
    trace.add_argument("id", nargs="?", help="the run's workflow id")
    trace.add_argument("--file", help="a history exported with `temporal workflow show --output json` instead")
    trace.add_argument("--format", choices=FORMATS, default="timeline")
    trace.add_argument("--no-children", action="store_true", help="leave child runs out")
    replay = sub.add_parser("replay", help="replay recent runs (or history files) against the current workflow code")
    replay.add_argument("--query", help="a visibility query (default: every Baton pattern's runs)")
    replay.add_argument("--limit", type=at_least_one, default=50, help="newest runs to replay (default 50)")
    replay.add_argument("--file", nargs="+", help="history files from `temporal workflow show --output json` instead")
    listing = sub.add_parser("list", help="your runs, newest first: id, pattern, state, age, tokens, cost")
    listing.add_argument("--active", action="store_true", help="running runs only")
    listing.add_argument("--pattern", help="one pattern's runs (short name or workflow type)")
    listing.add_argument("--limit", type=at_least_one, default=20, help="at most this many (default 20)")
    agents = sub.add_parser("agents", help="the team from the agents file; one agent's spec; --preview: what it is sent")
    agents.add_argument("name", nargs="?")
    agents.add_argument("--preview", action="store_true", help="the exact messages the agent would be sent for --goal")
    agents.add_argument("--goal", default=DEMO_GOAL, help="the sample goal for --preview")
    schema = sub.add_parser("schema", help="the JSON Schema of a pattern's input, result, signals, updates and queries "
                                           "(all patterns without one; docs/schemas/)")
    schema.add_argument("pattern", nargs="?", help="a short name (fan-out) or a workflow type (FanOutWorkflow)")
    flow = sub.add_parser("flow", help="a flow file before it runs: check it, print it as JSON (for the temporal CLI), "
                                       "or draw its graph (Mermaid)")
    flow.add_argument("action", choices=("check", "json", "draw"))
    flow.add_argument("file", help="a flow file (TOML or JSON), e.g. examples/flows/review_loop.toml")
    sub.add_parser("up", help="start the embedded Temporal server, the local model (without an API key) and a worker "
                              "in the background, and leave them running")
    sub.add_parser("down", help="stop what `up` or `run` left running: the worker, the local model, the Temporal server")
    return p


def show_runs(rows: list[RunRow]) -> None:
    table = Table("id", "pattern", "state", "age", "tokens", "cost", box=None)
    for row in rows:
        table.add_row(row.workflow_id, row.pattern, row.state, age(row.age_seconds),
                      "–" if row.tokens is None else str(row.tokens),
                      "–" if row.cost_usd is None else f"${row.cost_usd:.4f}")
    console.print(table if rows else "no runs", highlight=False, soft_wrap=True)


def show_agents(name: str | None, preview: bool, goal: str) -> int:
    from baton.activities.prompts import build_messages
    from baton.agents import load_agents
    from baton.schemas import resolve_schema

    registry = load_agents()
    if name is None:
        table = Table("agent", "model", "fallbacks", "max tokens", "answers", "tools", box=None)
        for spec in (registry.get(n) for n in registry.names):
            table.add_row(spec.name, spec.model, ", ".join([*spec.fallback_models, *spec.fallback_agents]) or "–",
                          str(spec.max_tokens), spec.output_schema or "text", ", ".join(spec.tools) or "–")
        console.print(f"agents in {registry.source}:", highlight=False)
        console.print(table, highlight=False, soft_wrap=True)
        return 0
    try:
        spec = registry.get(name)
    except KeyError as err:
        raise baton.BatonError(err.args[0]) from None
    if not preview:
        print_json(spec)
        return 0
    # Exactly what the agent activity sends for this goal, as the first stage of a run.
    request = AgentRequest(agent=spec, model=spec.model, goal=goal, stage=spec.name)
    schema = resolve_schema(spec.output_schema) if spec.output_schema else None
    print(json.dumps(build_messages(request, schema), indent=2, ensure_ascii=False))
    return 0


def print_schema(pattern: str | None) -> int:
    from baton.contract_schemas import all_schemas, pattern_schema

    if pattern is None:
        print(json.dumps(all_schemas(), indent=2, sort_keys=True))
        return 0
    try:
        chosen = find_pattern(pattern)
    except ValueError as err:
        raise baton.BatonError(str(err)) from None
    print(json.dumps(pattern_schema(chosen), indent=2, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        all_patterns()  # a user's own (BATON_PATTERNS) too: the parser lists them
    except PatternsError as err:
        console.print(f"[red]error:[/] {err}", highlight=False)
        return 2
    args = parser().parse_args(argv)
    if args.command == "down":
        embedded.stop_services(say)
        return 0
    try:
        if args.command == "schema":
            return print_schema(args.pattern)
        if args.command == "agents":
            return show_agents(args.name, args.preview, args.goal)
        if args.command == "flow":
            return flow_file(args)
        if args.command == "run":
            configure_logging(level=os.environ.get("BATON_LOG_LEVEL", "WARNING"))
            return asyncio.run(run_demo(args.goal))
        if args.command == "up":
            bring_up()
            say_what_runs()
            return 0
        configure_logging(level=os.environ.get("BATON_LOG_LEVEL", "WARNING"))
        if not os.environ.get("TEMPORAL_ADDRESS"):  # the embedded server: its store too
            embedded.use_default_store()
        if "BATON_TEMPORAL_PORT" in os.environ:  # the embedded server on another port
            os.environ.setdefault("TEMPORAL_ADDRESS", f"127.0.0.1:{os.environ['BATON_TEMPORAL_PORT']}")
        return asyncio.run(steer(args))
    except baton.BatonError as err:
        console.print(f"[red]error:[/] {err}", highlight=False)
        return 2
    except ValidationError as err:  # an argument a request's contract refuses (raise-budget --tokens -5)
        console.print(f"[red]error:[/] {explain(err)}", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except RuntimeError as err:  # a service that would not start, a missing endpoint
        console.print(f"[red]error:[/] {err}", highlight=False)
        return 1


def entry() -> None:
    """``baton`` (installed) and ``python starter.py`` (a checkout)."""
    code = main()
    telemetry.flush()  # os._exit below skips the exporter's own exit hook
    # Skip interpreter teardown: the Temporal client's Rust threads can abort a
    # finalizing interpreter (temporalio/sdk-python#300), turning success into SIGABRT.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
