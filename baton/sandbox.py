"""The workflow sandbox Baton's workers and replayer run workflows in."""

from __future__ import annotations

import pkgutil

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

import baton

# Modules the sandbox loads once per worker instead of once per run: pydantic and
# Baton's own, not the activities (no workflow imports them). Baton's pattern
# modules are among them: re-importing a run's pattern is what the SDK does by
# default, and it cost every new run ~8 ms of the worker's CPU on its first workflow
# task (the ``workflow.defn`` check of the class and its handlers, run again on the
# fresh copy). Their code was already the only Baton workflow code whose modules
# the sandbox restricted (the pattern files import the runtime passed through; its
# guard on builtins such as ``open`` still covers all of it); ``strict`` keeps that
# check where it costs nothing, in the replay of every recorded history.
# Patterns of one's own (BATON_PATTERNS) are re-imported for every run, as the SDK does.
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types",
                       *(f"baton.{m.name}" for m in pkgutil.iter_modules(baton.__path__) if m.name != "activities"))
PATTERN_MODULES = "baton.workflows"


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


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The runner the worker and the replayer share. ``strict``: each run imports its
    pattern module afresh under the sandbox's restrictions, so a clock, I/O or
    randomness in a pattern file raises (tests/test_replay.py replays every recorded
    history so)."""
    passed = [m for m in PASSTHROUGH_MODULES if not (strict and m == PATTERN_MODULES)]
    return BatonSandboxRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*passed))
