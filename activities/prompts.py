"""Render an ``AgentRequest`` into chat messages: the agent sees the goal, its
stage's task, the outputs it was given and feedback for it, nothing else."""

from __future__ import annotations

import json

from pydantic import BaseModel

from baton.contracts import AgentRequest


def build_messages(request: AgentRequest, schema: type[BaseModel] | None = None) -> list[dict[str, str]]:
    system = request.agent.instructions
    if schema is not None:
        system += (
            "\n\nAnswer with a single JSON object, no prose around it, matching this JSON schema:\n"
            + json.dumps(schema.model_json_schema())
        )
    parts = [f"Goal:\n{request.goal}", f"Your stage: {request.stage}"]
    if request.instructions:
        parts.append(f"Stage instructions:\n{request.instructions}")
    for item in request.context:
        parts.append(f"Output of stage '{item.name}':\n{item.output}")
    if request.feedback:
        notes = "\n".join(f"- {text}" for text in request.feedback)
        parts.append(f"Feedback from a person on your earlier answer; address all of it:\n{notes}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def correction_message(error: str) -> dict[str, str]:
    return {
        "role": "user",
        "content": f"Your answer was not valid for the required JSON schema:\n{error}\n"
        "Reply again with only the corrected JSON object.",
    }
