"""Live progress of a run on the terminal: the stage table, tokens, what waits
for a person, and the answers agents are writing. Polls the ``status`` query
(and, while calls run, their heartbeat details); on a terminal it redraws in
place (rich), otherwise it prints one line per change."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.live import Live
from rich.table import Table
from temporalio.client import Client

from baton import client as baton
from baton.contracts import MAX_ROWS, LiveAnswer, Status, rows_to_show

TERMINAL = ("completed", "failed", "cancelled")
STYLES = {"pending": "dim", "running": "bold yellow", "awaiting_review": "bold magenta", "done": "green"}


def progress(status: Status) -> str:
    """How far the run is: items for map-reduce, finished steps otherwise."""
    info = status.info
    if "items" in info:
        done, total, what = info.get("mapped", 0) + info.get("failed", 0), info["items"], "items"
    else:
        done = sum(1 for s in status.stages if s.state in ("done", "failed", "skipped"))
        total, what = len(status.stages), "steps"
    if not total:
        return ""
    width = 20
    filled = width * done // total
    return f"{'█' * filled}{'░' * (width - filled)} {done}/{total} {what}"


def spend(status: Status) -> str:
    """Tokens and cost so far."""
    return f"{status.usage.total_tokens} tokens · ${status.usage.cost_usd:.4f}"


def writing(answer: LiveAnswer, width: int = 160) -> str:
    """One line: which agent writes what, and the end of what it has written."""
    if answer.waiting:
        return f"{answer.stage} ({answer.agent}) waiting: {answer.waiting}"[:width + 40]
    tail = " ".join(answer.tail.split())
    return f"{answer.stage} ({answer.agent}) writing, {answer.chars} chars: …{tail[-width:]}"


def render(workflow_id: str, status: Status, live: list[LiveAnswer] | None = None) -> Table:
    bar = progress(status)
    table = Table(title=f"{status.pattern} {workflow_id} · {status.state} · {status.elapsed_seconds:.1f}s · "
                        f"{spend(status)}" + (f"\n{bar}" if bar else ""))
    for column in ("stage", "agent", "state", "model", "runs"):
        table.add_column(column)
    shown = rows_to_show(status.stages)  # a wide fan-out: what is moving or stuck; the bar has the counts
    for stage in shown:
        table.add_row(stage.name, stage.agent, f"[{STYLES.get(stage.state, '')}]{stage.state}", stage.model or "", str(stage.runs))
    hidden = len(status.stages) - len(shown)
    notes = [f"{hidden} more steps not shown (running, waiting and failed ones are)"] if hidden else []
    notes += [writing(answer) for answer in live or [] if answer.chars or answer.waiting]
    if status.awaiting_review == "budget":
        notes.append(f"waiting at the budget ({status.info.get('budget', '')}): "
                     f"python starter.py raise-budget {workflow_id} --tokens N | --cost USD")
    elif status.awaiting_review:
        question = status.info.get("question")
        notes += ([f"question: {question}"] if question else []) + [
            f"waiting for a person: python starter.py approve {workflow_id}  | python starter.py feedback {workflow_id} \"…\""]
    table.caption = "\n".join(notes) or None
    return table


def summary_line(status: Status) -> str:
    stages = " ".join(f"{s.name}:{s.state}" for s in status.stages[:MAX_ROWS])
    return f"[{status.state}] {progress(status)} {stages} | {spend(status)}"


async def in_flight(client: Client, workflow_id: str, status: Status) -> list[LiveAnswer]:
    return await baton.live(client, workflow_id) if status.running else []


async def watch(client: Client, workflow_id: str, console: Console, interval: float = 0.5) -> Status:
    """Show progress until the run completes, fails or is cancelled; return its last status."""
    status = await baton.status(client, workflow_id)
    if not console.is_terminal:
        last: list[str] = []
        while True:
            lines = [summary_line(status)] + [writing(a, 80) for a in await in_flight(client, workflow_id, status) if a.chars]
            for line in lines:
                if line not in last:  # what changed since the last poll
                    console.print(line, markup=False, highlight=False)
            last = lines
            if status.state in TERMINAL:
                return status
            await asyncio.sleep(interval)
            status = await baton.status(client, workflow_id)
    with Live(render(workflow_id, status), console=console, refresh_per_second=4) as screen:
        while status.state not in TERMINAL:
            await asyncio.sleep(interval)
            status = await baton.status(client, workflow_id)
            screen.update(render(workflow_id, status, await in_flight(client, workflow_id, status)))
    return status
