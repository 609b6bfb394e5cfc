"""Comparing two runs step by step (``starter.py diff RUN_A RUN_B``; a fork and
its source, two forks): which outputs differ, and what each step cost in each
run, or where its output came from when no call made it there (inherited from a
fork's source, set by a person, skipped)."""

from __future__ import annotations

import difflib

from pydantic import Field

from baton.contracts import Contract, Usage

PATCH_LINES = 40  # of one step's unified diff, shown in text


class StepSide(Contract):
    """One step in one run."""

    output: str | None = Field(default=None, description="None: the run has no output for it")
    usage: Usage = Field(default_factory=Usage, description="Its calls in this run")
    calls: int = 0
    origin: str | None = Field(default=None, description="inherited / set / skipped: no call made it here")


class StepDiff(Contract):
    step: str
    verdict: str = Field(description="same, differs, only in A, only in B")
    a: StepSide
    b: StepSide
    patch: str | None = Field(default=None, description="Unified diff A → B, when the outputs differ")


class RunDiff(Contract):
    a: str
    b: str
    steps: list[StepDiff]
    usage_a: Usage
    usage_b: Usage

    def text(self) -> str:
        lines = [f"A = {self.a}", f"B = {self.b}", ""]
        width = max([len(s.step) for s in self.steps] + [4])
        lines.append(f"{'step':<{width}}  {'verdict':<10}  {'A':<28}  B")
        for s in self.steps:
            lines.append(f"{s.step:<{width}}  {s.verdict:<10}  {_side(s.a):<28}  {_side(s.b)}")
        lines.append(f"{'total':<{width}}  {'':<10}  {_cost(self.usage_a):<28}  {_cost(self.usage_b)}")
        for s in self.steps:
            if s.patch:
                patch = s.patch.splitlines()
                more = f"\n… {len(patch) - PATCH_LINES} more lines" if len(patch) > PATCH_LINES else ""
                lines += ["", f"~ {s.step}:", "\n".join(patch[:PATCH_LINES]) + more]
        return "\n".join(lines)


def _cost(usage: Usage) -> str:
    return f"{usage.total_tokens} tok ${usage.cost_usd:.6f}"


def _side(side: StepSide) -> str:
    if side.output is None and side.origin != "skipped":
        return "–"
    if side.origin is not None:
        return side.origin + (f" (+{side.calls} calls, {_cost(side.usage)})" if side.calls else "")
    return f"{side.calls} call{'' if side.calls == 1 else 's'}, {_cost(side.usage)}"


def diff_runs(a: str, b: str, sides_a: dict[str, StepSide], sides_b: dict[str, StepSide],
              usage_a: Usage, usage_b: Usage) -> RunDiff:
    """``sides_*``: step -> that step in each run, in the run's order."""
    order = list(dict.fromkeys([*sides_a, *sides_b]))
    steps = []
    for step in order:
        one, two = sides_a.get(step, StepSide()), sides_b.get(step, StepSide())
        if one.output is None and two.output is None:
            verdict = "same" if one.origin == two.origin else "differs"
        elif one.output is None or two.output is None:
            verdict = "only in B" if one.output is None else "only in A"
        else:
            verdict = "same" if one.output == two.output else "differs"
        patch = None
        if verdict == "differs" and one.output is not None and two.output is not None:
            patch = "\n".join(difflib.unified_diff(one.output.splitlines(), two.output.splitlines(),
                                                   fromfile=f"A/{step}", tofile=f"B/{step}", lineterm=""))
        steps.append(StepDiff(step=step, verdict=verdict, a=one, b=two, patch=patch))
    return RunDiff(a=a, b=b, steps=steps, usage_a=usage_a, usage_b=usage_b)
