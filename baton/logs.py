"""structlog for every Baton process: readable on a terminal, JSON lines otherwise.

Standard-library records (the Temporal SDK's, ``workflow.logger``'s) go through
the same renderer, with the workflow / activity ids the SDK attaches flattened
into the line. Every line about a run carries ``workflow_id``, ``run_id`` and
``pattern`` (the workflow type), and, where it is about an agent call,
``agent``, ``stage`` and ``attempt``. ``workflow.logger`` skips replays, so
lines are not repeated.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog

_SDK_CONTEXT_KEYS = {
    "temporal_workflow": ("workflow_id", "run_id", "workflow_type"),
    "temporal_activity": ("workflow_id", "workflow_run_id", "workflow_type", "activity_id", "activity_type", "attempt"),
}
# What Baton's own workflow code adds to a workflow.logger line (extra=...).
_BATON_KEYS = ("agent", "stage", "model")


def _flatten_temporal_context(_, __, event: dict) -> dict:
    for key, fields in _SDK_CONTEXT_KEYS.items():
        context = event.pop(key, None)
        if isinstance(context, dict):
            for name in fields:
                if name in context:
                    event.setdefault(name, context[name])
    # One name per field, whichever side logged: run_id, and the pattern's workflow type.
    if "workflow_run_id" in event:
        event.setdefault("run_id", event.pop("workflow_run_id"))
    if "workflow_type" in event:
        event.setdefault("pattern", event.pop("workflow_type"))
    return event


def configure_logging(level: str | None = None, fmt: str | None = None, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    level = (level or os.environ.get("BATON_LOG_LEVEL") or "INFO").upper()
    fmt = fmt or os.environ.get("BATON_LOG_FORMAT") or ("console" if stream.isatty() else "json")
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=[*_SDK_CONTEXT_KEYS, *_BATON_KEYS]),
        _flatten_temporal_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "console":
        renderers = [structlog.dev.ConsoleRenderer()]
    else:
        renderers = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=[*shared[:3], shared[-1], structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        )
    )
    handler.set_name("baton")
    root = logging.getLogger()
    # Replace our own handler on a second call; leave anyone else's alone.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "baton"] + [handler]
    root.setLevel(level)
    # httpx (and the httpx2 the openai client ships) logs every request at INFO:
    # noise next to the agent lines, and a formatted line per agent call.
    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
