"""The workflow sandbox Baton's workers and replayer run workflows in."""

from __future__ import annotations

import pkgutil

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import baton

# Pure modules the sandbox need not re-import for every workflow run: pydantic and
# Baton's own modules, but not the workflows (each run imports its pattern afresh,
# under the sandbox's restrictions) nor the activities (never imported by a workflow).
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types",
                       *(f"baton.{m.name}" for m in pkgutil.iter_modules(baton.__path__)
                         if m.name not in ("workflows", "activities")))


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES))
