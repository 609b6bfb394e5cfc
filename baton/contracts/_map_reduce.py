"""The map-reduce's contracts: batches of items as child runs, then a reduce."""

from __future__ import annotations

from pydantic import Field

from baton.contracts import NAME_PATTERN, Contract, Goal, RunInput, RunResult, Usage


class ItemFailure(Contract):
    index: int
    error: str


class BatchTally(Contract):
    """One batch's latest run, as its parent counts it."""

    partial: str | None = None
    mapped: int = 0
    failed_count: int = 0
    runs: int = 1


class MapReduceProgress(Contract):
    """What a map-reduce run carries across continue-as-new."""

    next_batch: int = 0
    partials: list[str] = Field(default_factory=list)
    mapped: int = 0
    failed: list[ItemFailure] = Field(default_factory=list)
    failed_count: int = 0
    usage: Usage = Field(default_factory=Usage)
    runs: int = 1
    failures_approved: bool = Field(default=False, description="A person approved going on past max_failures")
    batches: dict[int, BatchTally] = Field(
        default_factory=dict, description="By batch number (runs started after re-runs; before, partials in order)")


class MapReduceInput(RunInput):
    goal: Goal
    items: list[str] = Field(min_length=1, max_length=20_000)
    mapper: str = Field(pattern=NAME_PATTERN)
    reducer: str = Field(pattern=NAME_PATTERN)
    batch_size: int = Field(default=200, ge=1, le=400, description="Items per child workflow")
    max_parallel: int = Field(default=20, ge=1, le=200, description="Mapper calls at once in one batch")
    max_batches_in_flight: int = Field(default=10, ge=1, le=100)
    reduce_fan_in: int = Field(default=20, ge=2, le=100, description="Results one reducer call combines")
    max_history_events: int = Field(default=2500, ge=200, le=3000, description="Continue as new past this many events (runs stay under ~4,000)")
    max_failures: int | None = Field(
        default=3, ge=1, description="At this many failed items, start no new batch and wait for a person (approve goes "
        "on); null never waits")
    progress: MapReduceProgress = Field(default_factory=MapReduceProgress, description="Set by continue-as-new only")


class MapBatchInput(RunInput):
    goal: str
    first_index: int
    items: list[str]
    mapper: str
    reducer: str
    max_parallel: int
    reduce_fan_in: int
    feedback: list[str] = Field(default_factory=list, description="A person's feedback on the batch, for every item")


class MapBatchResult(Contract):
    partial: str | None
    mapped: int
    failed: list[ItemFailure]
    usage: Usage


class MapReduceResult(RunResult):
    result: str | None
    items: int
    mapped: int
    failed_count: int
    failed: list[ItemFailure] = Field(description="The first failures (at most 100)")
    runs: int = Field(description="Workflow runs it took (continue-as-new)")
