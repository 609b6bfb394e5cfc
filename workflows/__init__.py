"""Baton's orchestration patterns, one deterministic workflow per file."""

from workflows.fanout import FanOutWorkflow
from workflows.panel import ExpertPanelWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.planned import PlannedWorkflow
from workflows.review_loop import ReviewLoopWorkflow
from workflows.router import RouterWorkflow

ALL_WORKFLOWS = [PipelineWorkflow, FanOutWorkflow, RouterWorkflow, ExpertPanelWorkflow, PlannedWorkflow, ReviewLoopWorkflow]

__all__ = ["ALL_WORKFLOWS", "ExpertPanelWorkflow", "FanOutWorkflow", "PipelineWorkflow", "PlannedWorkflow", "ReviewLoopWorkflow", "RouterWorkflow"]
