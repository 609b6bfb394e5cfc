"""A run's input, read inside the run, so that bad input from any client (the
``temporal`` CLI, another SDK) fails the run at once with one readable line per
problem, while its ``status`` query still answers.

Patterns take their input as a ``RawValue`` and read it here: had the SDK
decoded it, a ValidationError would stop the workflow before its object exists,
and every query on the run would fail with an SDK error instead of the reason.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

M = TypeVar("M", bound=BaseModel)

# The default of a pattern's input parameter: a run started with no input at all.
NO_INPUT = RawValue(Payload())


def read_input(raw: RawValue, contract: type[M]) -> tuple[M | None, list[str]]:
    """The input as ``contract``, or None and what is wrong with it (one line each)."""
    if raw is NO_INPUT or not raw.payload.metadata:
        return None, ["input: missing (give the pattern's input as JSON; `python starter.py schema` prints its schema)"]
    try:
        return workflow.payload_converter().from_payload(raw.payload, contract), []
    except ValidationError as err:
        return None, [problem(e) for e in err.errors()]
    except (ValueError, TypeError) as err:  # not JSON, or an encoding the converter does not know
        return None, [f"input: {err}"]


def problem(error: dict) -> str:
    where = ".".join(map(str, error["loc"])) or "input"
    return f"{where}: {error['msg']}"
