"""Every orchestration pattern Baton runs, found where it is declared.

A pattern workflow declares itself once, on its class: ``about = About(...)``
(its short name, input and result contracts, what of its input names the run,
how it runs as a hierarchical phase if it can). From the classes found in
``baton.workflows`` (and in the modules a user names in ``BATON_PATTERNS``)
come the worker's registry, the CLI's names, the schemas, the hierarchical
planner's phase patterns and the tests' tables: adding a pattern touches its
own file and nothing else.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from baton.contracts import AgentSpec, Contract

BUILT_IN = "baton.workflows"
USER_PATTERNS_ENV = "BATON_PATTERNS"  # comma-separated modules holding a user's own patterns


class PatternsError(ValueError):
    """A pattern module of one's own that cannot be loaded, or two patterns with one name."""


@dataclass(frozen=True)
class PhaseAsk:
    """What a hierarchical plan asks of one phase: the child run's input is made from it."""

    phase: Any  # baton.schemas.Phase: its id, goal, pattern and agents
    goal: str  # the phase's goal with the overall goal and earlier phases' results
    defined: list[AgentSpec]  # agents the planner made, usable by the phase
    max_parallel: int
    planner: str
    synthesizer: str
    budget: dict[str, Any] = field(default_factory=dict)  # what is left of the parent's budget


@dataclass(frozen=True)
class PhaseRole:
    """How a pattern runs as one phase of a hierarchical plan (a child workflow)."""

    min_agents: int
    brief: str  # how the planner is told what the pattern does with the phase's agents
    make_input: Callable[[PhaseAsk], Contract]
    output: Callable[[Any], str | None]  # the text its result hands to later phases


@dataclass(frozen=True)
class About:
    """What a pattern workflow class declares about itself (``about = About(...)``)."""

    name: str  # the short name: `starter.py run NAME`, status, metrics, docs
    input: type[Contract]
    result: type[Contract]
    goal: Callable[[Any], str]  # what of the input names the run (Web UI summary)
    shape: Callable[[Any], str]  # one line for the Web UI's details
    step_noun: str = "step"  # how messages name one of its steps: stage, task, expert answer…
    phase: PhaseRole | None = None


@dataclass(frozen=True)
class Pattern(About):
    """A pattern as the worker, the CLI and clients see it."""

    workflow_type: str = ""
    workflow: type | None = None

    @property
    def built_in(self) -> bool:
        """One of Baton's own (not a user's, loaded through BATON_PATTERNS)."""
        return self.workflow is not None and self.workflow.__module__.startswith(BUILT_IN + ".")


_workflows: list[type] = []  # every workflow class found, in the order found
_patterns: dict[str, Pattern] = {}  # by short name, in the order found
_modules: set[str] = set()


def _definition(cls: type) -> Any:
    from temporalio.workflow import _Definition

    return _Definition.from_class(cls)  # None unless the class itself is a @workflow.defn


def _load(module_name: str) -> None:
    if module_name in _modules:
        return
    module = importlib.import_module(module_name)
    _modules.add(module_name)
    for cls in vars(module).values():
        if not isinstance(cls, type) or cls.__module__ != module_name or cls in _workflows:
            continue
        defn = _definition(cls)
        if defn is None:
            continue
        _workflows.append(cls)
        about = cls.__dict__.get("about")
        if isinstance(about, About):
            if about.name in _patterns:
                raise PatternsError(f"two patterns are named {about.name!r}: {_patterns[about.name].workflow_type} "
                                 f"and {defn.name}")
            _patterns[about.name] = Pattern(**vars(about), workflow_type=defn.name, workflow=cls)


def _built_in() -> None:
    """Baton's own patterns, then those ``BATON_PATTERNS`` names, once."""
    if BUILT_IN in _modules:
        return
    package = importlib.import_module(BUILT_IN)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg:
            _load(f"{BUILT_IN}.{info.name}")
    _modules.add(BUILT_IN)
    use()


def use(modules: Iterable[str] = (), env: Mapping[str, str] = os.environ) -> None:
    """Load a user's own patterns: ``modules`` and those named in ``BATON_PATTERNS``
    (comma-separated module names, importable by the worker and the CLI)."""
    _built_in()
    named = [m.strip() for m in env.get(USER_PATTERNS_ENV, "").split(",") if m.strip()]
    for module in [*modules, *named]:
        try:
            _load(module)
        except ImportError as err:
            raise PatternsError(f"{USER_PATTERNS_ENV}: cannot import pattern module {module!r}: {err}") from err


def all_patterns() -> list[Pattern]:
    _built_in()
    return list(_patterns.values())


def workflow_classes() -> list[type]:
    """Every workflow the worker registers (and the replayer knows): patterns and their helpers."""
    _built_in()
    return list(_workflows)


def phase_patterns() -> list[Pattern]:
    """The patterns a hierarchical plan may run a phase as."""
    return [p for p in all_patterns() if p.phase is not None]


def by_input(contract: type) -> Pattern:
    for pattern in all_patterns():
        if pattern.input is contract:
            return pattern
    raise ValueError(f"{contract.__name__} is not the input of any pattern")


def runs_query(patterns: list[Pattern] | None = None) -> str:
    """A visibility query for these patterns' runs (every Baton run by default),
    whichever task queue they ran on; by workflow type, so it needs no custom
    search attribute."""
    return "WorkflowType IN (" + ", ".join(f"'{p.workflow_type}'" for p in patterns or all_patterns()) + ")"


def find_pattern(name: str) -> Pattern:
    """A pattern by its short name or workflow type."""
    patterns = all_patterns()
    for pattern in patterns:
        if name in (pattern.name, pattern.workflow_type):
            return pattern
    raise ValueError(f"unknown pattern {name!r}; one of: {', '.join(p.name for p in patterns)} "
                     f"(or their workflow types: {', '.join(p.workflow_type for p in patterns)})")


