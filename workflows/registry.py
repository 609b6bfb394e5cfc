"""Every workflow the worker registers (and the replayer knows)."""

from baton.workflows.fanout import FanOutWorkflow
from baton.workflows.hierarchical import HierarchicalWorkflow
from baton.workflows.map_reduce import MapBatchWorkflow, MapReduceWorkflow
from baton.workflows.panel import ExpertPanelWorkflow
from baton.workflows.pipeline import PipelineWorkflow
from baton.workflows.planned import PlannedWorkflow
from baton.workflows.review_loop import ReviewLoopWorkflow
from baton.workflows.router import RouterWorkflow
from baton.workflows.supervisor import SupervisorWorkflow
from baton.workflows.unknown import UnknownWorkflow

ALL_WORKFLOWS = [PipelineWorkflow, FanOutWorkflow, RouterWorkflow, ExpertPanelWorkflow, PlannedWorkflow, ReviewLoopWorkflow,
                 MapReduceWorkflow, MapBatchWorkflow, SupervisorWorkflow, HierarchicalWorkflow,
                 UnknownWorkflow]
