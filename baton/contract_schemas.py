"""The JSON Schema of every pattern's contracts, for clients in other languages:
the input and result, and the payload and answer of every signal, update and
query, read from the workflow classes themselves so they cannot drift.

    python starter.py schema [PATTERN]        # print them
    python -m baton.contract_schemas --write  # refresh docs/schemas/ (a test checks they are current)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from temporalio.common import RawValue
from temporalio.workflow import _Definition

from baton.contracts import ERROR_TYPES, ApproveRequest
from baton.patterns import Pattern, all_patterns, find_pattern

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"
# Handlers that read their payload themselves (RawValue), so that a bad one is
# shown instead of dropped: the contract the payload is read as.
RAW_PAYLOADS = {"approve": ApproveRequest}


def _schema(hint: Any, sent: bool = False) -> dict | None:
    """``sent``: what a client sends (validated as such); else what the run answers."""
    if hint is None or hint is type(None):
        return None
    return TypeAdapter(hint).json_schema(mode="validation" if sent else "serialization")


def _payload(name: str, arg_types: list[Any]) -> dict | None:
    if not arg_types:
        return None
    hint = arg_types[0]
    return _schema(RAW_PAYLOADS[name] if hint is RawValue else hint, sent=True)


TIME_TRAVEL_UPDATES = ("edit_output", "skip", "set_agent", "set_model")


def _offered(pattern: Pattern, update: str) -> bool:
    """Every pattern has the time-travel updates, refusing them where it cannot (docs/time-travel.md): not described there."""
    return update not in TIME_TRAVEL_UPDATES or bool(getattr(pattern.workflow, "time_travel", False))


def pattern_schema(pattern: Pattern) -> dict[str, Any]:
    defn = _Definition.must_from_class(pattern.workflow)  # the worker's class: what a run answers
    return {
        "pattern": pattern.name,
        "workflow_type": pattern.workflow_type,
        "input": _schema(pattern.input, sent=True),
        "result": _schema(pattern.result),
        "signals": {name: {"payload": _payload(name, defn.signals[name].arg_types)} for name in sorted(filter(None, defn.signals))},
        "updates": {name: {"payload": _payload(name, u.arg_types), "answer": _schema(u.ret_type)}
                    for name, u in sorted(defn.updates.items()) if name and _offered(pattern, name)},
        "queries": {name: {"payload": _payload(name, q.arg_types), "answer": _schema(q.ret_type)}
                    for name, q in sorted(defn.queries.items()) if name},
        "error_types": list(ERROR_TYPES),
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {p.name: pattern_schema(p) for p in all_patterns()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        if not find_pattern(name).built_in:
            continue  # a user's own pattern: `starter.py schema NAME` prints it
        path = directory / f"{name}.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m baton.contract_schemas --write")
    for path in write():
        print(path)
