"""Every workflow the worker registers (and the replayer knows)."""

from workflows.fanout import FanOutWorkflow
from workflows.hierarchical import HierarchicalWorkflow
from workflows.map_reduce import MapBatchWorkflow, MapReduceWorkflow
from workflows.panel import ExpertPanelWorkflow
from workflows.pipeline import PipelineWorkflow
from workflows.planned import PlannedWorkflow
from workflows.review_loop import ReviewLoopWorkflow
from workflows.router import RouterWorkflow
from workflows.supervisor import SupervisorWorkflow
from workflows.unknown import UnknownWorkflow

ALL_WORKFLOWS = [PipelineWorkflow, FanOutWorkflow, RouterWorkflow, ExpertPanelWorkflow, PlannedWorkflow, ReviewLoopWorkflow,
                 MapReduceWorkflow, MapBatchWorkflow, SupervisorWorkflow, HierarchicalWorkflow,
                 UnknownWorkflow]
