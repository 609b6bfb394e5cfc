"""Checkpoints of a run (the ``snapshots`` / ``snapshot`` queries): name one by
seq or label, and compare two: which steps' outputs appeared, disappeared or
changed between them, and how."""

from __future__ import annotations

import difflib

from pydantic import Field

from baton.contracts import Contract, Snapshot, SnapshotInfo


def pick_snapshot(snapshots: list[SnapshotInfo], at: int | str) -> int:
    """The seq ``at`` names: a seq, or a label (its latest checkpoint, when a step ran
    more than once). Raises ValueError saying which exist."""
    if isinstance(at, str) and at.strip().isdigit():  # "3" typed as a string in JSON
        at = int(at)
    if isinstance(at, int):
        if not 1 <= at <= len(snapshots):
            raise ValueError(f"no snapshot {at}; the run has {len(snapshots)}")
        return at
    matching = [s.seq for s in snapshots if s.label == at.strip()]
    if not matching:
        labels = ", ".join(dict.fromkeys(s.label for s in snapshots)) or "none yet"
        raise ValueError(f"no snapshot labelled {at!r}; labels: {labels}")
    return matching[-1]


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
