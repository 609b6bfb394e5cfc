"""Compare two checkpoints of a run (the ``snapshot`` query): which steps'
outputs appeared, disappeared or changed between them, and how."""

from __future__ import annotations

import difflib

from pydantic import Field

from baton.contracts import Contract, Snapshot


class SnapshotDiff(Contract):
    before: str = Field(description="'#seq label' of the earlier snapshot")
    after: str
    added: list[str] = Field(default_factory=list, description="Steps with an output only in the later snapshot")
    removed: list[str] = Field(default_factory=list)
    changed: dict[str, str] = Field(default_factory=dict, description="Step -> unified diff of its output")
    feedback_added: dict[str, list[str]] = Field(default_factory=dict)

    def text(self) -> str:
        lines = [f"{self.before} → {self.after}"]
        lines += [f"+ {step} (new output)" for step in self.added]
        lines += [f"- {step} (output gone)" for step in self.removed]
        for step, patch in self.changed.items():
            lines += [f"~ {step} changed:", patch]
        lines += [f"! feedback on {step}: {' / '.join(texts)}" for step, texts in self.feedback_added.items()]
        if len(lines) == 1:
            lines.append("no difference")
        return "\n".join(lines)


def diff_snapshots(a: Snapshot, b: Snapshot) -> SnapshotDiff:
    common = [step for step in a.outputs if step in b.outputs]
    changed = {}
    for step in common:
        if a.outputs[step] != b.outputs[step]:
            changed[step] = "\n".join(difflib.unified_diff(
                a.outputs[step].splitlines(), b.outputs[step].splitlines(),
                f"#{a.seq} {step}", f"#{b.seq} {step}", lineterm=""))
    feedback = {}
    for step, texts in b.feedback.items():
        earlier = a.feedback.get(step, [])
        if texts[len(earlier):] and texts[:len(earlier)] == earlier:
            feedback[step] = texts[len(earlier):]
        elif texts != earlier:
            feedback[step] = texts
    return SnapshotDiff(
        before=f"#{a.seq} {a.label}", after=f"#{b.seq} {b.label}",
        added=[s for s in b.outputs if s not in a.outputs], removed=[s for s in a.outputs if s not in b.outputs],
        changed=changed, feedback_added=feedback,
    )
