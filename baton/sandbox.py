"""The workflow sandbox Baton's workers and replayer run workflows in."""

from __future__ import annotations

import pkgutil

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

import baton

# Pure modules the sandbox need not re-import for every workflow run: pydantic and
# Baton's own modules, but not the workflows (each run imports its pattern afresh,
# under the sandbox's restrictions) nor the activities (never imported by a workflow).
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types",
                       *(f"baton.{m.name}" for m in pkgutil.iter_modules(baton.__path__)
                         if m.name not in ("workflows", "activities")))


class _ContextsLookedUpDirectly(_Instance):
    """A sandboxed run whose payload contexts are read without entering the sandbox.

    Around every activation the SDK (1.35) asks the run which serialization and store
    context each payload belongs to, and the sandbox answers each question by compiling
    and ``exec``-ing a snippet under its import hooks: half of a workflow task's time in
    the worker (a replayed 20-task DAG: 7.6 → 3.3 ms a task). The answer is a lookup in
    the run's own tables (its info, its pending activities and children) that imports
    and runs no workflow code, so it is asked of the sandboxed run directly.
    tests/test_sandbox.py checks every answer against the SDK's own path."""

    def get_serialization_context(self, command_info) -> SerializationContext | None:
        return self._in_sandbox().get_serialization_context(command_info)

    def get_external_store_context(self, command_info):
        return self._in_sandbox().get_external_store_context(command_info)

    def _in_sandbox(self):
        return self.globals_and_locals["__temporal_in_sandbox"]


class BatonSandboxRunner(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextsLookedUpDirectly(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    return BatonSandboxRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES))
