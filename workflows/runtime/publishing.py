"""What a run shows outside: the Web UI's current details and the
``BatonPattern`` / ``BatonState`` search attributes, kept current on every
visible change."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from baton import search
from baton.contracts import StageStatus, Usage
from baton.workflows.details import render_details

INDEX_OWN_RUN = "baton-index-own-run"  # patch: a run started without BatonPattern sets it itself
INDEX_FORK_OF = "baton-index-fork-of"  # patch: such a run that is a fork sets BatonForkOf too


def show_details(pattern: str, state: str, rows: list[StageStatus], usage: Usage, info: dict) -> None:
    workflow.set_current_details(render_details(pattern, state, rows, usage, info))


def index_state(state: str) -> None:
    # Only runs started with BatonPattern set (or that set it themselves) keep
    # BatonState current: upserting an unregistered attribute would fail the
    # workflow task, and older runs' histories replay unchanged.
    indexed = workflow.info().typed_search_attributes  # kept current by every upsert
    if indexed.get(search.PATTERN) is None or indexed.get(search.STATE) == state:
        return
    workflow.upsert_search_attributes([search.STATE.value_set(state)])


async def index_own_run(pattern: str, state: str, fork_of: str | None = None) -> None:
    """Set BatonPattern / BatonState on a run started without them (the temporal
    CLI, another SDK), and BatonForkOf on such a run that forks ``fork_of``, when
    the namespace has them registered: upserting an unknown attribute would fail
    the workflow task."""
    indexed = workflow.info().typed_search_attributes
    if indexed.get(search.PATTERN) is not None or not workflow.patched(INDEX_OWN_RUN):
        return
    # Decided before the local activities below (ControlPlane.begin says why).
    source = fork_of if fork_of is not None and workflow.patched(INDEX_FORK_OF) else None
    # A parent run that is indexed passes BatonState to its children: the namespace has them.
    registered = indexed.get(search.STATE) is not None or await workflow.execute_local_activity(
        "search_attributes_registered", result_type=bool, start_to_close_timeout=timedelta(seconds=10))
    if not registered:
        return
    attributes = [search.PATTERN.value_set(pattern), search.STATE.value_set(state)]
    if source is not None and await workflow.execute_local_activity(
            "fork_search_attribute_registered", result_type=bool, start_to_close_timeout=timedelta(seconds=10)):
        attributes.append(search.FORK_OF.value_set(source))
    workflow.upsert_search_attributes(attributes)


def child_search_attributes() -> list:
    """What a child run is started with: BatonState when this run is indexed (so the
    child knows the namespace has the attributes and indexes itself), else nothing."""
    indexed = workflow.info().typed_search_attributes.get(search.PATTERN) is not None
    if indexed and workflow.patched(INDEX_OWN_RUN):
        return [search.STATE.value_set("running")]
    return []
