"""Baton's orchestration patterns, one deterministic workflow per file."""

from workflows.fanout import FanOutWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.router import RouterWorkflow

ALL_WORKFLOWS = [PipelineWorkflow, FanOutWorkflow, RouterWorkflow]

__all__ = ["ALL_WORKFLOWS", "FanOutWorkflow", "PipelineWorkflow", "RouterWorkflow"]
