"""Stage outputs written as files a person can read outside Temporal.

An agent call asked for an artifact writes its whole answer to
``<artifacts dir>/<workflow id>/<stage>-v<n>.md`` and returns the key; when the
answer is long, the workflow history keeps only a preview. Later agents read the
whole text from the payload store (``context_store.py``), or, on a worker with
no store, from this file. The directory is ``BATON_ARTIFACTS_DIR`` (default
``data/artifacts``); with a store, each machine may keep its own.

Keys are built from ids, never from model output, and are sanitised again
here: one directory level, no ``..``, no absolute paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from temporalio.exceptions import ApplicationError

from baton.agents import DEFAULT_DATA_DIR

INLINE_CHARS = 4000  # longer answers stay in history as a preview only
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def artifacts_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("BATON_ARTIFACTS_DIR"):
        return Path(env["BATON_ARTIFACTS_DIR"])
    return Path(env.get("BATON_DATA_DIR") or DEFAULT_DATA_DIR) / "artifacts"


def safe_key(key: str) -> str:
    parts = key.split("/")
    if len(parts) != 2:
        raise ApplicationError(f"artifact key {key!r} must be <run>/<name>", type="BadArtifactKey", non_retryable=True)
    cleaned = [UNSAFE.sub("_", part).lstrip(".") or "_" for part in parts]
    return "/".join(cleaned)


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def write(self, key: str, text: str) -> str:
        key = safe_key(key)
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)  # a reader never sees half a file
        return key

    def read(self, key: str) -> str:
        try:
            return self.path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ApplicationError(
                f"artifact {key} is missing under {self.root}: workers must share BATON_ARTIFACTS_DIR",
                type="ArtifactMissing",
            ) from None


def preview(text: str, key: str) -> str:
    """What the workflow history keeps of a long answer."""
    if len(text) <= INLINE_CHARS:
        return text
    return f"{text[:INLINE_CHARS]}\n… [{len(text)} characters in all; the full text is in artifact {key}]"
