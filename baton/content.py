"""The ready-made content pipeline, on PipelineWorkflow:

classify → focus questions → research → draft → critique → humanize → image
prompts → publish metadata.

Classify runs on its own; every later stage waits for a person (approve, or
feedback to run it again) unless it is named automatic. At the focus questions
a person answers through ``feedback`` (the questioner turns the answers into a
brief), then approves. Every stage's output is also written as an artifact file.
"""

from __future__ import annotations

from baton.contracts import PipelineInput, StageSpec

STAGES: list[tuple[str, str, str]] = [
    ("classify", "classifier", "Classify the content type (article, tutorial, announcement, opinion...) and audience."),
    ("focus_questions", "questioner", "Ask the focus questions a person should answer before research starts."),
    ("research", "researcher", "Research the topic for this brief."),
    ("draft", "writer", "Write the full draft."),
    ("critique", "critic", "Critique the draft."),
    ("humanize", "humanizer", "Rewrite the draft in a natural human voice, applying the critique."),
    ("image_prompts", "image_prompter", "Write image prompts for the final text."),
    ("publish_metadata", "publisher", "Prepare the publication metadata for the final text."),
]
ALWAYS_AUTOMATIC = {"classify"}


def content_pipeline(topic: str, automatic: set[str] = frozenset()) -> PipelineInput:
    unknown = set(automatic) - {name for name, _, _ in STAGES}
    if unknown:
        raise ValueError(f"unknown content stage(s): {', '.join(sorted(unknown))}; stages: {', '.join(n for n, _, _ in STAGES)}")
    auto = ALWAYS_AUTOMATIC | set(automatic)
    stages = [StageSpec(name=name, agent=agent, instructions=text, review=name not in auto) for name, agent, text in STAGES]
    return PipelineInput(goal=topic, stages=stages, artifacts=True)
