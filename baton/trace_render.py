"""A run's trace as JSON, as Mermaid (for a flow, the path it took over its
graph; a flowchart of the run as it went; a Gantt of its agent calls), or as a
plain-text timeline."""

from __future__ import annotations

import re
from datetime import datetime

from baton.flows.drawing import draw
from baton.contracts import breaker_waited
from baton.trace import AgentCall, RunTrace

FORMATS = ("json", "mermaid", "timeline")


def render(trace: RunTrace, fmt: str) -> str:
    if fmt == "json":
        return trace.model_dump_json(indent=2)
    if fmt == "mermaid":
        path = f"```mermaid\n{draw(trace.flow, trace.flow_edges)}\n```\n\n" if trace.flow is not None else ""
        return path + "```mermaid\n" + flowchart(trace) + "\n```\n\n```mermaid\n" + gantt(trace) + "\n```"
    if fmt == "timeline":
        return timeline(trace)
    raise ValueError(f"unknown trace format {fmt!r}; choose one of {', '.join(FORMATS)}")


def usd(amount: float) -> str:
    """Dollars with enough digits to see a single small call's cost."""
    return f"${amount:.4f}" if amount >= 0.01 else f"${amount:.6f}"


def _id(*parts: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _label(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _call_line(call: AgentCall) -> str:
    model = call.answered_by or call.model
    extra = [f"{call.attempts} attempts"] if call.attempts > 1 else []
    if call.fallback:
        extra.append("fallback")
    if call.truncated:
        extra.append("cut at max_tokens")
    if call.breaker_wait_seconds:
        extra.append(breaker_waited(call.breaker_wait_seconds))
    if call.usage.total_tokens:
        extra.append(f"{call.usage.total_tokens} tok")
    if call.usage.cost_usd:
        extra.append(usd(call.usage.cost_usd))
    return " · ".join([call.agent, model, call.outcome, *extra])


ICONS = {"completed": "✓", "failed": "✗", "timed_out": "⏱", "cancelled": "⊘", "running": "…"}


def flowchart(trace: RunTrace) -> str:
    lines = ["flowchart TD"]
    _flow(trace, lines, prefix=trace.workflow_id)
    return "\n".join(lines)


def _flow(trace: RunTrace, lines: list[str], prefix: str) -> None:
    """One node per step (its calls listed inside), edges from context, people's
    actions as notes on the step they targeted, children as subgraphs."""
    steps: dict[str, list[AgentCall]] = {}
    for call in trace.calls:
        steps.setdefault(call.step, []).append(call)
    start = _id(prefix, "start")
    lines.append(f'  {start}(["{_label(trace.workflow_type)} {_label(trace.workflow_id)}"])')
    targets = {e.target for e in trace.edges}
    for step, calls in steps.items():
        body = "<br/>".join(f"{ICONS[c.outcome]} {_label(_call_line(c))}" for c in calls)
        lines.append(f'  {_id(prefix, step)}["<b>{_label(step)}</b><br/>{body}"]')
        if step not in targets:
            lines.append(f"  {start} --> {_id(prefix, step)}")
    for edge in trace.edges:
        if edge.source in steps:
            lines.append(f"  {_id(prefix, edge.source)} --> {_id(prefix, edge.target)}")
    for n, action in enumerate(trace.actions):
        node = _id(prefix, "person", str(n))
        text = f"{n + 1}. {action.kind} {action.name}" + (f": {args}" if (args := _short(action.args)) else "")
        lines.append(f'  {node}[/"{_label(text)}"/]')
        step = action.target
        lines.append(f"  {node} -.-> {_id(prefix, step) if step in steps else start}")
    fetched = {child.workflow_id for child in trace.children}
    for ref in trace.child_runs:
        if ref.workflow_id not in fetched:
            node = _id(prefix, "child", ref.workflow_id)
            lines.append(f'  {node}[["child {_label(ref.workflow_type)} {_label(ref.workflow_id)} · {ref.outcome}"]]')
            lines.append(f"  {start} --> {node}")
    for child in trace.children:
        lines.append(f'  subgraph {_id(child.workflow_id, "box")}["child {_label(child.workflow_id)} · {child.outcome}"]')
        _flow(child, lines, prefix=child.workflow_id)
        lines.append("  end")
        lines.append(f"  {start} --> {_id(child.workflow_id, 'start')}")
    end = _id(prefix, "end")
    lines.append(f'  {end}(["{trace.outcome}' + (f": {_label(trace.error[:80])}" if trace.error else "") + '"])')
    last = [_id(prefix, s) for s in steps if s not in {e.source for e in trace.edges}] or [start]
    for node in last:
        lines.append(f"  {node} --> {end}")


def _short(args: list, limit: int = 60) -> str:
    text = ", ".join(str(a) if not isinstance(a, dict) else ", ".join(f"{k}={v}" for k, v in a.items() if v) for a in args)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def gantt(trace: RunTrace) -> str:
    lines = ["gantt", f"  title {_label(trace.workflow_type)} {_label(trace.workflow_id)}", "  dateFormat x",
             "  axisFormat %M:%S"]
    _gantt(trace, lines)
    return "\n".join(lines)


def _gantt(trace: RunTrace, lines: list[str]) -> None:
    lines.append(f"  section {_label(trace.workflow_id)}")
    for call in trace.calls:
        begin = _ms(call.scheduled_at)
        end = _ms(call.closed_at) if call.closed_at else begin + 1
        tag = {"failed": "crit, ", "timed_out": "crit, ", "running": "active, "}.get(call.outcome, "done, ")
        name = _label(f"{call.step} ({call.agent}{', fallback' if call.fallback else ''})").replace(":", " ")
        lines.append(f"  {name} :{tag}{begin}, {max(end, begin + 1)}")
    for child in trace.children:
        _gantt(child, lines)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _tool_rows(trace: RunTrace) -> list[tuple[datetime, str]]:
    """A timeline's lines for the run's tool calls: what was asked, decided, answered."""
    rows: list[tuple[datetime, str]] = []
    for tool in trace.tool_calls:
        took = f"{(tool.closed_at - tool.asked_at).total_seconds():6.2f}s" if tool.closed_at else "   …   "
        decided = f" · {'denied' if tool.outcome == 'denied' else 'approved'} by {tool.decided_by}" if tool.decided_by else ""
        rows.append((tool.asked_at, f"{took}  {tool.step}: {tool.agent} · tool {tool.tool} {_short([tool.arguments])} "
                     f"· {tool.outcome}{decided}" + (f" · {tool.attempts} attempts" if tool.attempts > 1 else "")
                     + (f" → {_short([tool.result])}" if tool.result else "") + (f" ({tool.reason})" if tool.reason else "")))
        rows += [(tool.closed_at or tool.asked_at, f"         ↳ {failure}") for failure in tool.failures]
    return rows


def _fork_line(trace: RunTrace) -> str | None:
    """Where a forked or seeded run began, and what it did not call for."""
    fork = trace.fork
    if fork is None:
        return None
    began = f"fork of {fork.source} at snapshot {fork.at} ({fork.label})" if fork.source else "seeded run"
    parts = [began, f"inherited: {', '.join(fork.inherited) or '–'}"]
    if fork.set:
        parts.append(f"set by a person: {', '.join(fork.set)}")
    used = fork.inherited_usage
    parts.append(f"inherited cost {used.total_tokens} tokens · {usd(used.cost_usd)} (not spent again)")
    return " · ".join(parts)


def timeline(trace: RunTrace, indent: str = "") -> str:
    """Every call and action in time order, times relative to the run's start."""
    zero = trace.started_at
    rows: list[tuple[datetime, str]] = []
    for call in trace.calls:
        took = f"{(call.closed_at - call.scheduled_at).total_seconds():6.2f}s" if call.closed_at else "   …   "
        rows.append((call.scheduled_at, f"{took}  {call.step}: {_call_line(call)}"))
        rows += [(call.closed_at or call.scheduled_at, f"         ↳ {failure}") for failure in call.failures]
    rows += _tool_rows(trace)
    fetched = {child.workflow_id for child in trace.children}
    rows += [(ref.started_at, f"  child {ref.workflow_type} {ref.workflow_id} · {ref.outcome}" + ("" if ref.workflow_id in fetched else " (not fetched)"))
             for ref in trace.child_runs]
    for edge in trace.flow_edges:
        how = " · ".join(w for w in (edge.label and f"[{edge.label}]", edge.when and f"when {edge.when}",
                                     edge.on == "failure" and "on failure", edge.back and "loop") if w)
        rows.append((edge.at, f"  edge {edge.source} → {edge.to}" + (f" {how}" if how else "")))
    for action in trace.actions:
        rows.append((action.at, f"  person {action.kind} {action.name}" + (f" {args}" if (args := _short(action.args)) else "")
                     + (f" → {action.outcome}" if action.outcome else "")))
    rows.sort(key=lambda row: row[0])
    head = (f"{indent}{trace.workflow_type} {trace.workflow_id} · {trace.outcome} · {len(trace.all_calls())} agent calls · "
            f"{trace.usage.total_tokens} tokens · {usd(trace.usage.cost_usd)}")
    lines = [head, *([f"{indent}{line}"] if (line := _fork_line(trace)) else [])]
    lines += [f"{indent}+{(at - zero).total_seconds():8.2f}s {text}" for at, text in rows]
    if trace.error:
        lines.append(f"{indent}error: {trace.error}")
    for child in trace.children:
        lines.append(timeline(child, indent + "    "))
    return "\n".join(lines)
