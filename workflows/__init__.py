"""Baton's orchestration patterns, one deterministic workflow per file."""

from workflows.pipeline import PipelineWorkflow

ALL_WORKFLOWS = [PipelineWorkflow]

__all__ = ["ALL_WORKFLOWS", "PipelineWorkflow"]
