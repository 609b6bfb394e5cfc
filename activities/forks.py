"""Reading a fork's source: the snapshot it begins at, from the source run's
``snapshots`` / ``snapshot`` queries (a finished or failed run answers them too,
replayed by a worker). One activity at the fork's start; its result is in the
fork's history, so a replay never reads the source again."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from baton.contracts import ForkSeed, ForkSpec, Snapshot, SnapshotInfo
from baton.snapshots import pick_snapshot


def refused(why: str) -> ApplicationError:
    return ApplicationError(why, type="InvalidInput", non_retryable=True)


class ForkLoader:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="load_fork")
    async def load_fork(self, spec: ForkSpec) -> ForkSeed:
        assert spec.source is not None and spec.at is not None  # a fork without a source reads nothing
        info = activity.info()
        if spec.source == info.workflow_id and spec.source_run_id is None:
            raise refused("a fork runs under its own workflow id; name the source's run with source_run_id")
        handle = self._client.get_workflow_handle(spec.source, run_id=spec.source_run_id)
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise refused(f"no run {spec.source!r} to fork ({err.message})") from None
            raise
        if described.workflow_type != info.workflow_type:
            raise refused(f"{spec.source!r} is a {described.workflow_type} run; a {info.workflow_type} forks only "
                          f"a {info.workflow_type} run")
        handle = self._client.get_workflow_handle(spec.source, run_id=described.run_id)
        try:
            snapshots = await handle.query("snapshots", result_type=list[SnapshotInfo])
            seq = pick_snapshot(snapshots, spec.at)
            snapshot = await handle.query("snapshot", seq, result_type=Snapshot)
        except ValueError as err:
            raise refused(f"{spec.source!r}: {err}") from None
        except WorkflowQueryFailedError as err:
            raise refused(f"cannot read {spec.source!r}'s snapshots: {err.message}") from None
        return ForkSeed(source=spec.source, source_run_id=described.run_id, at=seq, label=snapshot.label,
                        outputs=snapshot.outputs, artifacts=snapshot.artifacts, usage=snapshot.usage,
                        state=snapshot.state)
