"""Baton's orchestration patterns, one deterministic workflow per file."""

from workflows.fanout import FanOutWorkflow
from workflows.pipeline import PipelineWorkflow

ALL_WORKFLOWS = [PipelineWorkflow, FanOutWorkflow]

__all__ = ["ALL_WORKFLOWS", "FanOutWorkflow", "PipelineWorkflow"]
