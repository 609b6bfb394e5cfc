"""The timeline: what a run knows (each step's latest output, the feedback it
got, its artifact), a checkpoint before a step starts and after it is done, and
the jump a person asked for (feedback re-runs a step, rewind restores the
checkpoint before it first)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pydantic import BaseModel
from temporalio import workflow

from baton.contracts import Snapshot, SnapshotInfo, Usage


@dataclass
class Checkpoint:
    """What a run knew at one moment: before a step started (rewind restores it)
    or after a step was done. Listed and compared through the snapshot queries."""

    outputs: dict[str, str]
    feedback: dict[str, list[str]]
    artifacts: dict[str, str] = field(default_factory=dict)
    label: str = ""
    step: str = ""
    at: datetime | None = None
    usage: Usage = field(default_factory=Usage)  # spent by then, inherited included: what a fork there inherits
    state: BaseModel | None = None  # the pattern's own state, when outputs cannot say where the run was (a copy)


@dataclass
class Jump:
    """A person asked to run again from ``step`` (feedback or rewind)."""

    step: str
    restore: Checkpoint | None = None


class Timeline:
    def __init__(self, spent: Callable[[], Usage] = Usage, state: Callable[[], BaseModel | None] = lambda: None) -> None:
        self._spent, self._state = spent, state  # what a checkpoint records besides outputs
        self.outputs: dict[str, str] = {}  # step -> its latest output
        self.feedback: dict[str, list[str]] = {}  # step -> feedback for its next run
        self.artifacts: dict[str, str] = {}  # step -> artifact key of its latest output
        self.checkpoints: dict[str, Checkpoint] = {}  # step -> the latest "before" checkpoint
        self.snapshots: list[Checkpoint] = []  # every checkpoint, in order
        self.jumps: list[Jump] = []  # asked for, not yet taken, earliest step first
        self.last_done: str | None = None

    def before(self, step: str) -> None:
        """The state before ``step`` runs: what ``rewind`` to it restores."""
        self.checkpoints[step] = self._snapshot(f"before {step}", step)

    def done(self, step: str, output: str) -> None:
        self.outputs[step] = output
        self.last_done = step
        self._snapshot(f"after {step}", step)

    def add_artifact(self, step: str, key: str) -> None:
        """Where the whole of ``step``'s latest output is (its artifact key)."""
        self.artifacts[step] = key

    def started(self, step: str) -> bool:
        """Whether ``step`` has a checkpoint to go back to."""
        return step in self.checkpoints

    def add_feedback(self, step: str, text: str) -> None:
        self.feedback.setdefault(step, []).append(text)

    @property
    def jump(self) -> Jump | None:
        """The earliest jump asked for and not yet taken."""
        return self.jumps[0] if self.jumps else None

    def ask_jump(self, jump: Jump, order: list[str]) -> None:
        """Keep a request until the run takes it; a new one for the same step replaces it."""
        self.jumps = sorted([j for j in self.jumps if j.step != jump.step] + [jump], key=lambda j: order.index(j.step))

    def next_jump(self, among: Collection[str] | None = None) -> Jump | None:
        """The earliest jump asked for (to one of ``among``, default any step)."""
        return next((j for j in self.jumps if among is None or j.step in among), None)

    def take_jump(self, jump: Jump, again: Collection[str]) -> None:
        """Take ``jump``: the steps in ``again`` run again, so the jumps to them are
        covered by it, and a rewind gives them back what its checkpoint held (the
        other steps keep theirs)."""
        self.jumps = [j for j in self.jumps if j is not jump and j.step not in again]
        if jump.restore is not None:
            self.outputs = _restored(self.outputs, jump.restore.outputs, again)
            self.feedback = {k: list(v) for k, v in _restored(self.feedback, jump.restore.feedback, again).items()}
            self.artifacts = _restored(self.artifacts, jump.restore.artifacts, again)

    def _snapshot(self, label: str, step: str) -> Checkpoint:
        taken = Checkpoint(
            outputs=dict(self.outputs),
            feedback={k: list(v) for k, v in self.feedback.items()},
            artifacts=dict(self.artifacts),
            label=label, step=step, at=workflow.now(), usage=self._spent(), state=self._state(),
        )
        self.snapshots.append(taken)
        return taken

    def snapshot_infos(self) -> list[SnapshotInfo]:
        return [SnapshotInfo(seq=n, label=c.label, step=c.step, at=c.at, steps=list(c.outputs))
                for n, c in enumerate(self.snapshots, 1)]

    def snapshot(self, seq: int) -> Snapshot:
        if not 1 <= seq <= len(self.snapshots):
            raise ValueError(f"no snapshot {seq}; this run has {len(self.snapshots)}")
        c = self.snapshots[seq - 1]
        return Snapshot(seq=seq, label=c.label, step=c.step, at=c.at, steps=list(c.outputs),
                        outputs=dict(c.outputs), feedback={k: list(v) for k, v in c.feedback.items()},
                        artifacts=dict(c.artifacts), usage=c.usage, state=c.state.model_dump(mode="json") if c.state is not None else None)

    def edit(self, step: str, text: str) -> None:
        """A person replaced ``step``'s output: later steps see the edit (its artifact
        held the old text, so it is no longer named)."""
        self.outputs[step] = text
        self.artifacts.pop(step, None)
        self._snapshot(f"edited {step}", step)


def _restored(now: dict, then: dict, again: Collection[str]) -> dict:
    """``now`` with the steps in ``again`` as they were ``then``, in ``then``'s order
    (a pipeline rewound gets exactly its checkpoint back: the steps outside ``again``
    are the earlier ones, unchanged since)."""
    restored = {k: (then[k] if k in again else now.get(k, then[k])) for k in then}
    restored.update({k: v for k, v in now.items() if k not in then and k not in again})
    return restored
