"""Flow files: a flow written as TOML or JSON (``examples/flows/``), read into
the data ``FlowInput`` validates. Any pattern's input may be such a file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

SUFFIXES = (".toml", ".json")


class FlowFileError(ValueError):
    """A flow file that cannot be read, with the reason a person can act on."""


def read_document(path: Path) -> dict[str, Any]:
    """A TOML or JSON file's content (by its suffix; JSON otherwise)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowFileError(f"input file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FlowFileError(f"{path}: cannot be read: {err.strerror if isinstance(err, OSError) else err}") from None
    try:
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FlowFileError(f"{path}: invalid TOML: {err}") from None
    except json.JSONDecodeError as err:
        raise FlowFileError(f"{path}: invalid JSON: {err}") from None
    if not isinstance(document, dict):
        raise FlowFileError(f"{path}: the input must be an object, not a {type(document).__name__}")
    return document
