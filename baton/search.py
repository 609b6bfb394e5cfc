"""Baton's custom search attributes: filter runs in the Web UI and with
``temporal workflow list --query "BatonPattern = 'fan-out' AND BatonState = 'awaiting_review'"``.

A fork also names its source in ``BatonForkOf`` (set by Baton's client, or by
the run itself when another client started it).

The embedded dev server registers them at start (and ``starter.py run`` adds them
to a server whose database predates them); on another cluster register them
once (``temporal operator search-attribute create``, docs/observability.md).
The client sets the pattern when it starts a run; a run started that way also
keeps ``BatonState`` current. Pure (temporalio.common only): workflows import it.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PATTERN = SearchAttributeKey.for_keyword("BatonPattern")
STATE = SearchAttributeKey.for_keyword("BatonState")
FORK_OF = SearchAttributeKey.for_keyword("BatonForkOf")  # a fork's source run: `BatonForkOf = 'tides-1'`

ATTRIBUTES = (PATTERN, STATE, FORK_OF)
KEPT_BY_RUNS = (PATTERN, STATE)  # what a run sets on itself when its starter did not


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` arguments that register every attribute."""
    return [arg for key in ATTRIBUTES for arg in ("--search-attribute", f"{key.name}=Keyword")]


def create_flags() -> list[str]:
    """``temporal operator search-attribute create`` arguments for every attribute."""
    return [arg for key in ATTRIBUTES for arg in ("--name", key.name, "--type", "Keyword")]
