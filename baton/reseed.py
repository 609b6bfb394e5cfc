"""Re-seeding: a run's outputs read back from its artifact files (the content
pipeline writes ``<artifacts dir>/<workflow id>/<stage>-v<run>.md``), for a new
run that begins with them when the original run's history is gone
(``starter.py reseed FOLDER``; docs/time-travel.md)."""

from __future__ import annotations

import re
from pathlib import Path

ARTIFACT_NAME = re.compile(r"^(?P<step>.+?)(?:-v(?P<run>\d+))?\.md$")


def outputs_in(folder: Path) -> dict[str, str]:
    """Each step's latest output in ``folder``: ``STEP-vN.md`` (the highest N) or ``STEP.md``."""
    if not folder.is_dir():
        raise ValueError(f"no folder {folder}")
    latest: dict[str, tuple[int, Path]] = {}
    for path in sorted(folder.iterdir()):
        found = ARTIFACT_NAME.match(path.name)
        if not found or not path.is_file():
            continue
        run = int(found["run"] or 0)
        if found["step"] not in latest or run > latest[found["step"]][0]:
            latest[found["step"]] = (run, path)
    if not latest:
        raise ValueError(f"{folder} holds no stage files (STAGE-vN.md or STAGE.md)")
    return {step: path.read_text(encoding="utf-8") for step, (_, path) in latest.items()}
